"""The production stack, for real: nginx -> gunicorn (uvicorn workers) under supervisord -> PostgreSQL + Redis.

A baked project runs its own deploy/ files unchanged; only environment values differ
from production (loopback addresses, temporary directories, a 1 MiB upload limit, no
TLS in front). deploy/entrypoint.sh migrates and starts supervisord, which runs gunicorn
and the task worker; nginx runs from the Debian package with the project's template
rendered by envsubst, as the official image renders it. Every request goes through nginx.

To test more flows through the stack (login, upload, processing, download), take the
module-scoped ``stack`` fixture: ``stack.client()`` talks to nginx, ``stack.manage()``
runs manage.py with the stack's environment, ``stack.supervisorctl()`` controls web and
worker, ``stack.media_root`` is MEDIA_ROOT, ``stack.app_log_entries()`` reads the JSON
log lines; ``stack_user`` is a superuser (username, password).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import (
    download_as_attachment,
    free_port,
    http_client,
    installed_project,
    log_in,
    own_database,
    project_env,
    run,
    service_urls,
    upload_and_wait,
)

pytestmark = pytest.mark.slow

UPLOAD_MAX_BYTES = 1024 * 1024  # bytes: small, so the over-limit request is quick to send
GUNICORN_WORKERS = 2
REQUEST_ID = re.compile(r"[0-9a-f]{32}")  # nginx's $request_id
# Waits that include starting Python processes that import Django: generous, because CI
# runs this module next to the baked suites on two shared cores.
START_TIMEOUT = 120.0  # seconds
# Manifest storage names: name.<12 hex digits>.ext
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.\w+$")

# The official nginx image's nginx.conf, reduced to what the template relies on, with
# every path moved into the test's directory. The project's template goes in conf.d/.
NGINX_CONF = """\
{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/conf.d/*.conf;
}}
"""

# Holds a row lock on a user, reports when another session waits for it, releases it
# when told (a line on stdin). Runs in the baked project's virtualenv (psycopg).
HOLD_USER_ROW = """
import sys, time, psycopg
url, username = sys.argv[1:]
waiting = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE \\"users_user\\"%'"
)
with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as watcher:
    holder.execute("SELECT 1 FROM users_user WHERE username = %s FOR UPDATE", [username])
    print("locked", flush=True)
    deadline = time.monotonic() + 60
    while not watcher.execute(waiting).fetchone()[0]:
        if time.monotonic() > deadline:
            sys.exit("nobody waited for the lock")
        time.sleep(0.05)
    print("waited on", flush=True)
    sys.stdin.readline()
    holder.rollback()
"""


def required_tool(name: str) -> str:
    """The path of a system tool the stack needs (Debian packages in .ci/run)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        message = f"{name} not installed (see the apt-get line in .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll until condition() is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while (value := condition()) is False or value is None:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
    return value


def child_pids(parent: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            children.add(int(stat.parent.name))
    return children


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def measured(record_property: Callable[[str, object], None], text: str) -> None:
    """Print a measurement and report it in the session summary (conftest.py)."""
    print(text)
    record_property("measured", text)


@dataclass
class Stack:
    project: Path
    env: dict[str, str]
    url: str
    media_root: Path
    static_root: Path
    app_log: Path
    nginx_access_log: Path
    nginx_prefix: Path
    nginx_conf: Path
    migrate_outputs: list[str] = field(default_factory=list)

    def manage(self, *args: str, **env: str) -> str:
        """Run manage.py in the project's virtualenv with the stack's environment."""
        return run([str(self.project / ".venv/bin/python"), "manage.py", *args], self.project, {**self.env, **env})

    def supervisorctl(self, *args: str) -> str:
        return run(
            [str(self.project / ".venv/bin/supervisorctl"), "-c", "deploy/supervisord.conf", *args],
            self.project,
            self.env,
        )

    def client(self) -> httpx.Client:
        """An HTTP client for nginx (it sends the Secure cookies back over plain HTTP)."""
        return http_client(self.url)

    def app_log_entries(self) -> list[dict[str, Any]]:
        """The JSON lines gunicorn, uvicorn, Django and the task worker wrote to stdout."""
        entries = []
        for line in self.app_log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                entries.append(json.loads(line))
        return entries

    def app_logged(self, request_id: str) -> list[dict[str, Any]]:
        """The app's log entries with this request id, once its log has caught up.

        A request made now, through nginx, is logged after any earlier one: every
        gunicorn process writes into the same pipe to supervisord. When its access line
        is in the file, so is anything an earlier request logged.
        """
        marker = httpx.get(f"{self.url}/healthz").headers["x-request-id"]
        wait_for(lambda: any(e["request_id"] == marker for e in self.app_log_entries()), "the app's log")
        return [entry for entry in self.app_log_entries() if entry["request_id"] == request_id]

    def nginx_logged(self, request_id: str) -> list[dict[str, Any]]:
        """nginx's access log entries for a request (nginx writes one when it has answered)."""

        def entries() -> list[dict[str, Any]] | None:
            lines = self.nginx_access_log.read_text().splitlines()
            return [entry for entry in map(json.loads, lines) if entry["request_id"] == request_id] or None

        found: list[dict[str, Any]] = wait_for(entries, f"nginx to log request {request_id}")
        return found

    def gunicorn_master(self) -> int:
        return int(self.supervisorctl("pid", "web"))

    def wait_until_serving(self, workers: set[int]) -> None:
        """Wait until each of these gunicorn workers has logged that it serves."""
        started = {f"Started server process [{pid}]" for pid in workers}
        wait_for(
            lambda: started <= {e["message"] for e in self.app_log_entries()},
            "the new worker(s) to serve",
            timeout=START_TIMEOUT,
        )

    def wait_until_ready(self) -> None:
        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/readyz", timeout=5).status_code == HTTPStatus.OK
            except httpx.TransportError:
                return False

        wait_for(ready, "/readyz through nginx", timeout=START_TIMEOUT)
        wait_for(
            lambda: len(child_pids(self.gunicorn_master())) == GUNICORN_WORKERS,
            "every gunicorn worker",
            timeout=START_TIMEOUT,
        )


def render_nginx_template(template: Path, env: dict[str, str]) -> str:
    """envsubst with the template's own variables spelled out, so nginx's $variables stay."""
    names = sorted(set(re.findall(r"\$\{(\w+)\}", template.read_text())))
    result = subprocess.run(
        [required_tool("envsubst"), " ".join(f"${{{name}}}" for name in names)],
        input=template.read_text(),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def nginx_command(stack: Stack, *args: str) -> list[str]:
    return [required_tool("nginx"), "-p", str(stack.nginx_prefix), "-c", str(stack.nginx_conf), "-e", "stderr", *args]


def stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    services = service_urls()
    required_tool("nginx")
    base = tmp_path_factory.mktemp("stack")
    project = installed_project(base)
    with own_database(project, services["DATABASE_URL"]):
        nginx_port, gunicorn_port = free_port(), free_port()
        stack = Stack(
            project=project,
            env=project_env(
                **services,
                DJANGO_ENV="production",
                SECRET_KEY=secrets.token_urlsafe(50),
                ALLOWED_HOSTS="127.0.0.1",
                # No TLS in the rig: nginx listens on plain HTTP, so no HTTPS redirect.
                SECURE_SSL_REDIRECT="0",
                STATIC_ROOT=str(base / "static"),
                MEDIA_ROOT=str(base / "media"),
                UPLOAD_MAX_BYTES=str(UPLOAD_MAX_BYTES),
                GUNICORN_BIND=f"127.0.0.1:{gunicorn_port}",
                GUNICORN_WORKERS=str(GUNICORN_WORKERS),
                SUPERVISOR_RUN_DIR=str(base / "run"),
                NGINX_LISTEN=f"127.0.0.1:{nginx_port}",
                NGINX_UPSTREAM=f"127.0.0.1:{gunicorn_port}",
                NGINX_ACCESS_LOG=str(base / "nginx-access.log"),
                # A job stuck in "processing" this long is presumed abandoned (default 300 s).
                UPLOAD_PROCESSING_TIMEOUT="6",
            ),
            url=f"http://127.0.0.1:{nginx_port}",
            media_root=base / "media",
            static_root=base / "static",
            app_log=base / "app.log",
            nginx_access_log=base / "nginx-access.log",
            nginx_prefix=base / "nginx",
            nginx_conf=base / "nginx" / "nginx.conf",
        )
        stack.media_root.mkdir()

        # What the image build does.
        stack.manage("collectstatic", "--no-input")
        # Two containers starting at once: both run the entrypoint's migration step.
        python = str(project / ".venv/bin/python")
        migrations = [
            subprocess.Popen(
                [python, "manage.py", "migrate_with_lock"],
                cwd=project,
                env=stack.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        for migration in migrations:
            output, _ = migration.communicate(timeout=120)
            assert migration.returncode == 0, output
            stack.migrate_outputs.append(output)

        # nginx: the project's template rendered into conf.d/, as the official image does.
        (stack.nginx_prefix / "conf.d").mkdir(parents=True)
        template = project / "deploy/nginx/templates/default.conf.template"
        (stack.nginx_prefix / "conf.d/default.conf").write_text(render_nginx_template(template, stack.env))
        # Workers as root when the test runs as root: the test's directories are private.
        user = "user root;" if os.geteuid() == 0 else ""
        stack.nginx_conf.write_text(NGINX_CONF.format(user=user, prefix=stack.nginx_prefix))
        run(nginx_command(stack, "-t"), project, stack.env)

        with stack.app_log.open("ab") as app_log:
            supervisord = subprocess.Popen(
                [str(project / "deploy/entrypoint.sh")], cwd=project, env=stack.env, stdout=app_log, stderr=app_log
            )
        nginx_process = subprocess.Popen(nginx_command(stack), env=stack.env)
        try:
            try:
                stack.wait_until_ready()
            except BaseException:
                print(stack.app_log.read_text())
                raise
            yield stack
        finally:
            # TERM: supervisord stops gunicorn and the worker gracefully. QUIT: nginx's graceful stop.
            stop(supervisord, signal.SIGTERM)
            stop(nginx_process, signal.SIGQUIT)


@pytest.fixture(scope="module")
def stack_user(stack: Stack) -> tuple[str, str]:
    """A superuser in the stack's database: (username, password)."""
    username, password = "stack-admin", secrets.token_urlsafe(16)
    stack.manage(
        "createsuperuser", "--no-input", "--username", username, "--email", "admin@example.com",
        DJANGO_SUPERUSER_PASSWORD=password,
    )  # fmt: skip
    return username, password


def test_stack_config_files_pass_nginx_t_and_gunicorn_check_config(stack: Stack) -> None:
    result = subprocess.run(nginx_command(stack, "-t"), env=stack.env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    gunicorn = [str(stack.project / ".venv/bin/gunicorn"), "--config", "deploy/gunicorn.conf.py"]
    run([*gunicorn, "--check-config"], stack.project, stack.env)
    printed = run([*gunicorn, "--print-config"], stack.project, stack.env)
    assert re.search(rf"^workers\s+= {GUNICORN_WORKERS}$", printed, flags=re.MULTILINE)
    assert re.search(r"^worker_class\s+= config\.workers\.UvicornWorker$", printed, flags=re.MULTILINE)
    assert re.search(r"^control_socket_disable\s+= True$", printed, flags=re.MULTILINE)


def test_stack_concurrent_migrations_take_turns(stack: Stack) -> None:
    """Two entrypoints starting at once: one applies the migrations, the other finds none left."""
    applied = [output for output in stack.migrate_outputs if "Applying auth.0001_initial... OK" in output]
    assert len(applied) == 1
    assert sum("No migrations to apply." in output for output in stack.migrate_outputs) == 1


def test_stack_health_through_nginx(stack: Stack) -> None:
    with stack.client() as client:
        healthz = client.get("/healthz")
        readyz = client.get("/readyz")
    assert healthz.status_code == HTTPStatus.OK
    assert healthz.json() == {"status": "ok"}
    assert readyz.status_code == HTTPStatus.OK
    assert readyz.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_stack_static_files_are_served_by_nginx_with_cache_headers(stack: Stack) -> None:
    manifest = json.loads((stack.static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["css/site.css"]
    assert HASHED_NAME.search(hashed)
    with stack.client() as client:
        response = client.get(f"/static/{hashed}")
        unhashed = client.get("/static/css/site.css")
        large = client.get(f"/static/{manifest['admin/css/base.css']}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == HTTPStatus.OK
    assert response.content == (stack.static_root / hashed).read_bytes()
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    # A name without a hash may change with the next deploy: revalidate.
    assert unhashed.headers["cache-control"] == "no-cache"
    assert large.headers["content-encoding"] == "gzip"
    # nginx answered from disk: no upstream in its log, no line in the app's log.
    for served in (response, unhashed, large):
        request_id = served.headers["x-request-id"]
        assert [entry["upstream_addr"] for entry in stack.nginx_logged(request_id)] == [""]
        assert stack.app_logged(request_id) == []


def test_stack_security_headers(stack: Stack) -> None:
    with stack.client() as client:
        page = client.get("/")
    assert page.status_code == HTTPStatus.OK
    assert page.headers["server"] == "nginx"  # no version
    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cross-origin-opener-policy"] == "same-origin"


def test_stack_request_id_round_trip(stack: Stack) -> None:
    """nginx assigns the id (a client's own is replaced), the app logs it, the client gets it back."""
    with stack.client() as client:
        response = client.get("/readyz", headers={"X-Request-ID": "chosen-by-the-client"})
    request_id = response.headers["x-request-id"]
    assert REQUEST_ID.fullmatch(request_id)
    [access] = [entry for entry in stack.app_logged(request_id) if entry["logger"] == "uvicorn.access"]
    assert '"GET /readyz HTTP/1.1" 200' in access["message"]
    assert [entry["status"] for entry in stack.nginx_logged(request_id)] == [HTTPStatus.OK]
    assert stack.app_logged("chosen-by-the-client") == []


def test_stack_protected_files_are_internal(stack: Stack) -> None:
    """MEDIA_ROOT is reachable only through X-Accel-Redirect from the app."""
    (stack.media_root / "private.txt").write_text("not for everyone")
    with stack.client() as client:
        response = client.get("/_protected/private.txt")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "not for everyone" not in response.text


def test_stack_upload_over_the_limit_gets_413_from_nginx(stack: Stack) -> None:
    """One byte over UPLOAD_MAX_BYTES: 413 from nginx; nothing reaches gunicorn or the disk."""
    media_before = sorted(stack.media_root.rglob("*"))
    with stack.client() as client:
        upload = client.post("/api/uploads/", files={"file": ("big.bin", b"\0" * (UPLOAD_MAX_BYTES + 1))})
        raw = client.post("/", content=b"\0" * (UPLOAD_MAX_BYTES + 1))
        at_limit = client.post("/", content=b"\0" * UPLOAD_MAX_BYTES)
    for refused in (upload, raw):
        assert refused.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        request_id = refused.headers["x-request-id"]
        assert [(e["status"], e["upstream_addr"]) for e in stack.nginx_logged(request_id)] == [(413, "")]
        assert stack.app_logged(request_id) == []
    # The limit is exact: a body of UPLOAD_MAX_BYTES passes nginx and Django answers it.
    assert at_limit.status_code != HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert stack.app_logged(at_limit.headers["x-request-id"]) != []
    assert sorted(stack.media_root.rglob("*")) == media_before
    assert [path for path in (stack.nginx_prefix / "client_body").rglob("*") if path.is_file()] == []


class Load:
    """Clients sending GET requests through nginx one after another, until the block ends.

    Bounded: a handful of clients on loopback, for the few seconds a test needs.
    """

    PATHS = ("/", "/readyz", "/healthz")

    def __init__(self, stack: Stack, clients: int = 4) -> None:
        self.stack = stack
        self.clients = clients
        self.served: list[float] = []  # time.monotonic() of each 200
        self.errors: list[str] = []
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        with self.stack.client() as client:
            for number in range(100_000):
                if self._done.is_set():
                    return
                path = self.PATHS[number % len(self.PATHS)]
                try:
                    response = client.get(path)
                except httpx.HTTPError as error:
                    self.errors.append(f"{path}: {error!r}")
                    continue
                if response.status_code == HTTPStatus.OK:
                    self.served.append(time.monotonic())
                else:
                    self.errors.append(f"{path}: {response.status_code}")

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        wait_for(lambda: len(self.served) >= 50, "the load to get going")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def served_between(self, start: float, end: float) -> int:
        return sum(start <= moment <= end for moment in self.served)

    def longest_pause(self, start: float, end: float) -> float:
        """The longest time without a response, between start and end."""
        moments = [start, *sorted(moment for moment in self.served if start < moment < end), end]
        return max(later - earlier for earlier, later in itertools.pairwise(moments))

    def keep_going_until(self, moment: float) -> None:
        wait_for(lambda: self.served[-1] > moment, "more load")


def test_stack_survives_a_killed_gunicorn_worker(stack: Stack, record_property: Callable[[str, object], None]) -> None:
    """kill -9 one worker under load: the other keeps serving, the master replaces the dead one."""
    master = stack.gunicorn_master()
    workers = child_pids(master)
    assert len(workers) == GUNICORN_WORKERS
    with Load(stack) as load:
        killed_at = time.monotonic()
        os.kill(min(workers), signal.SIGKILL)
        [new_pid] = wait_for(lambda: (child_pids(master) - workers) or None, "a replacement worker")
        respawned_at = time.monotonic()
        stack.wait_until_serving({new_pid})
        serving_at = time.monotonic()
        load.keep_going_until(serving_at + 1)
    during_outage = load.served_between(killed_at, serving_at)
    measured(
        record_property,
        f"worker kill under load ({load.clients} clients): {len(load.served)} requests served, "
        f"{len(load.errors)} errors {load.errors}; {during_outage} served while one worker was down; "
        f"replacement forked after {respawned_at - killed_at:.3f}s, serving after {serving_at - killed_at:.2f}s",
    )
    # At most the requests in flight on the killed worker fail: one per client.
    assert len(load.errors) <= load.clients, load.errors
    assert during_outage > 0
    assert stack.gunicorn_master() == master  # the master recovered it; supervisord did not restart web
    assert len(child_pids(master)) == GUNICORN_WORKERS


def test_stack_hup_replaces_every_worker_under_load(
    stack: Stack, record_property: Callable[[str, object], None]
) -> None:
    """supervisorctl signal HUP web (a deploy on a VM): new workers start, old ones finish their requests.

    Requests wait while the new workers import Django. Failures are rare but possible:
    an old worker that accepted a connection just as it began to shut down closes it
    unread, and nginx answers that request 502 (seen once, on a busy machine).
    """
    master = stack.gunicorn_master()
    old_workers = child_pids(master)
    with Load(stack) as load:
        signalled_at = time.monotonic()
        stack.supervisorctl("signal", "HUP", "web")

        def replaced() -> set[int] | None:
            workers = child_pids(master)
            return workers if workers.isdisjoint(old_workers) and len(workers) == GUNICORN_WORKERS else None

        new_workers = wait_for(replaced, "every worker to be replaced", timeout=START_TIMEOUT)
        stack.wait_until_serving(new_workers)
        serving_at = time.monotonic()
        load.keep_going_until(serving_at + 1)
    pause = load.longest_pause(signalled_at, serving_at)
    measured(
        record_property,
        f"HUP under load ({load.clients} clients): {len(load.served)} requests served, {len(load.errors)} errors "
        f"{load.errors}; new workers serving after {serving_at - signalled_at:.2f}s; longest wait for a "
        f"response meanwhile {pause:.2f}s",
    )
    # At most a request in flight per client, as when a worker is killed; usually none.
    assert len(load.errors) <= load.clients, load.errors
    assert stack.gunicorn_master() == master


def test_stack_stop_web_lets_a_slow_request_finish(
    stack: Stack, stack_user: tuple[str, str], record_property: Callable[[str, object], None]
) -> None:
    """supervisorctl stop web while a request waits: it finishes (graceful), then gunicorn exits.

    The slow request is slow for a real reason, not a debug endpoint: an admin login
    whose last_login UPDATE waits for a row lock this test holds, as it would behind
    another transaction. Runs last in this module; it starts web again afterwards.
    """
    username, password = stack_user
    master = stack.gunicorn_master()
    workers = child_pids(master)
    with stack.client() as client:
        form = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, form.text
        holder = subprocess.Popen(
            [str(stack.project / ".venv/bin/python"), "-c", HOLD_USER_ROW, stack.env["DATABASE_URL"], username],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        assert holder.stdin is not None
        try:
            assert holder.stdout.readline() == "locked\n"
            result: dict[str, httpx.Response] = {}
            data = {"username": username, "password": password, "csrfmiddlewaretoken": token[1]}
            login = threading.Thread(
                target=lambda: result.update(response=client.post("/admin/login/?next=/admin/", data=data))
            )
            login.start()
            assert holder.stdout.readline() == "waited on\n"  # the login is in flight, inside the database

            log_offset = len(stack.app_log_entries())
            stop_web = subprocess.Popen(
                [str(stack.project / ".venv/bin/supervisorctl"), "-c", "deploy/supervisord.conf", "stop", "web"],
                cwd=stack.project,
                env=stack.env,
                stdout=subprocess.PIPE,
                text=True,
            )
            stopped_at = time.monotonic()

            def logged_since_stop(message: str) -> bool:
                return any(entry["message"].startswith(message) for entry in stack.app_log_entries()[log_offset:])

            wait_for(lambda: logged_since_stop("Handling signal: term"), "gunicorn to get TERM")
            # The worker with the login says so, and keeps its connection open.
            wait_for(lambda: logged_since_stop("Waiting for connections to close"), "the worker to wait")
            # Stopping: new requests are refused (nginx answers 502) while the login still runs.
            wait_for(lambda: httpx.get(f"{stack.url}/healthz").status_code == HTTPStatus.BAD_GATEWAY, "refusal")
            assert login.is_alive()
            assert stop_web.poll() is None
        finally:
            holder.stdin.write("release\n")
            holder.stdin.close()
            holder.wait(timeout=30)
        released_at = time.monotonic()
        login.join(timeout=60)
        finished_at = time.monotonic()
        output, _ = stop_web.communicate(timeout=60)
        exited_at = time.monotonic()
    try:
        assert result["response"].status_code == HTTPStatus.FOUND
        assert result["response"].headers["location"] == "/admin/"
        assert stop_web.returncode == 0
        assert output.strip() == "web: stopped"
        assert not is_running(master)
        assert not any(is_running(pid) for pid in workers)
        measured(
            record_property,
            f"graceful stop: the in-flight request finished {finished_at - stopped_at:.2f}s after "
            f"'supervisorctl stop web' ({finished_at - released_at:.2f}s after its lock was released), "
            f"web exited after {exited_at - stopped_at:.2f}s",
        )
    finally:
        stack.supervisorctl("start", "web")
        stack.wait_until_ready()


# --- Uploads through the stack: login, upload, processing by the worker, download -------------

BIG_CSV_ROWS = 1_500_000  # a few seconds of work for the worker: long enough to interrupt it


def test_stack_upload_is_processed_and_downloaded_through_x_accel(stack: Stack, stack_user: tuple[str, str]) -> None:
    client = stack.client()
    log_in(client, *stack_user)
    content = b"city,population\n" + b"".join(b"city-%d,%d\n" % (n, n * 7) for n in range(3000))
    upload = upload_and_wait(client, "cities.csv", content)
    assert upload["status"] == "done", upload["error"]
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    # Django answered with an empty body and X-Accel-Redirect; the bytes came from nginx.
    download = download_as_attachment(client, upload, content)
    assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"
    stored = next(path for path in stack.media_root.rglob("*") if path.is_file() and path.read_bytes() == content)
    direct = httpx.get(f"{stack.url}/_protected/{stored.relative_to(stack.media_root)}")
    assert direct.status_code == HTTPStatus.NOT_FOUND


def enqueue_big_upload(stack: Stack, owner: str) -> str:
    """An upload the worker needs a few seconds for, created as the upload view would."""
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from django.core.files.base import ContentFile\n"
        "from my_async_project.uploads import jobs\n"
        "from my_async_project.uploads.models import Upload\n"
        f"rows = b''.join(b'%d,name-%d,%d\\n' % (n, n, n % 97) for n in range({BIG_CSV_ROWS}))\n"
        "content = b'id,name,score\\n' + rows\n"
        f"owner = get_user_model().objects.get(username={owner!r})\n"
        "upload = Upload(owner=owner, original_name='big.csv', size=len(content), content_type='text/csv')\n"
        "upload.file.save(upload.id.hex, ContentFile(content), save=False)\n"
        "upload.save()\n"
        "jobs.enqueue(upload.pk)\n"
        "print('upload-id', upload.pk)\n"
    )
    output = stack.manage("shell", "--no-imports", "-c", script)
    return re.findall(r"^upload-id (\S+)$", output, flags=re.MULTILINE)[-1]


def upload_status(stack: Stack, client: httpx.Client, upload_id: str) -> dict[str, Any]:
    status: dict[str, Any] = client.get(f"/api/uploads/{upload_id}/").json()
    return status


def test_stack_stopping_the_worker_mid_job_lets_the_job_finish(
    stack: Stack, stack_user: tuple[str, str], record_property: Callable[[str, object], None]
) -> None:
    client = stack.client()
    log_in(client, *stack_user)
    upload_id = enqueue_big_upload(stack, stack_user[0])
    wait_for(lambda: upload_status(stack, client, upload_id)["status"] == "processing", "the worker to start the job")
    start = time.monotonic()
    stack.supervisorctl("stop", "worker")  # TERM: the worker finishes its task, then exits
    stopped_after = time.monotonic() - start
    assert upload_status(stack, client, upload_id)["status"] == "done"
    stack.supervisorctl("start", "worker")
    measured(record_property, f"worker stopped {stopped_after:.1f} s after TERM, its job done")


def test_stack_job_of_a_killed_worker_completes_after_the_restart(
    stack: Stack, stack_user: tuple[str, str], record_property: Callable[[str, object], None]
) -> None:
    client = stack.client()
    log_in(client, *stack_user)
    upload_id = enqueue_big_upload(stack, stack_user[0])
    wait_for(lambda: upload_status(stack, client, upload_id)["status"] == "processing", "the worker to start the job")
    killed_at = time.monotonic()
    stack.supervisorctl("signal", "KILL", "worker")  # supervisord restarts it
    wait_for(
        lambda: upload_status(stack, client, upload_id)["status"] == "done",
        "the restarted worker to finish the abandoned job",
        timeout=120,
    )
    upload = upload_status(stack, client, upload_id)
    assert upload["result"]["rows"] == BIG_CSV_ROWS + 1
    measured(record_property, f"killed worker's job done {time.monotonic() - killed_at:.1f} s after SIGKILL")
