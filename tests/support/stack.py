"""The production stack of a baked project, for real: nginx -> gunicorn (uvicorn workers) under
supervisord -> PostgreSQL + Redis.

The project runs its own deploy/ files unchanged; only environment values differ from
production (loopback addresses, temporary directories, a 1 MiB upload limit, no TLS in
front). deploy/entrypoint.sh migrates and starts supervisord, which runs gunicorn and the
task worker; nginx runs from the Debian package with the project's template rendered by
envsubst, as the official image renders it. Every request goes through nginx.

The ``stack`` fixture (conftest.py) gives a running ``Stack``: ``stack.client()`` talks to
nginx, ``stack.manage()`` runs manage.py with the stack's environment,
``stack.supervisorctl()`` controls web and worker, ``stack.app_log_entries()`` reads the
JSON log lines; ``stack_user`` is a superuser (email address, password).
"""

from __future__ import annotations

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest

from .baking import installed_project, own_database, project_env, run, service_urls
from .http import free_port, http_client
from .mail import SmtpServer
from .processes import child_pids, wait_for
from .tls import make_certificate, trusting

UPLOAD_MAX_BYTES = 1024 * 1024  # bytes: small, so the over-limit request is quick to send
UPLOAD_MAX_FILES = 2
# nginx's request limit, as deploy/nginx/derived.envsh derives it.
UPLOAD_MAX_REQUEST_BYTES = UPLOAD_MAX_FILES * UPLOAD_MAX_BYTES + 64 * 1024
GUNICORN_WORKERS = 2
REQUEST_ID = re.compile(r"[0-9a-f]{32}")  # nginx's $request_id
# Waits that include starting Python processes that import Django: generous, because CI
# runs this module next to the baked suites on two shared cores.
START_TIMEOUT = 120.0  # seconds
BIG_CSV_ROWS = 1_500_000  # a few seconds of work for the worker: long enough to interrupt it
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
events {{ worker_connections 4096; }}
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
url, email = sys.argv[1:]
waiting = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE \\"users_user\\"%'"
)
with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as watcher:
    holder.execute("SELECT 1 FROM users_user WHERE email = %s FOR UPDATE", [email])
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


@dataclass
class Stack:
    project: Path
    env: dict[str, str]
    url: str
    http_url: str
    certificate: Path
    media_root: Path
    static_root: Path
    app_log: Path
    nginx_access_log: Path
    nginx_prefix: Path
    nginx_conf: Path
    mail: SmtpServer
    workers: int = GUNICORN_WORKERS
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
        """An HTTPS client for nginx that trusts the stack's certificate."""
        return http_client(self.url, verify=trusting(str(self.certificate)))

    def get(self, path: str, timeout: float = 30) -> httpx.Response:
        with self.client() as client:
            return client.get(path, timeout=timeout)

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
        marker = self.get("/healthz").headers["x-request-id"]
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
                return self.get("/readyz", timeout=5).status_code == HTTPStatus.OK
            except httpx.TransportError:
                return False

        wait_for(ready, "/readyz through nginx", timeout=START_TIMEOUT)
        wait_for(
            lambda: len(child_pids(self.gunicorn_master())) == self.workers,
            "every gunicorn worker",
            timeout=START_TIMEOUT,
        )


def render_nginx_template(template: Path, env: dict[str, str]) -> str:
    """What docs/deployment.md says to do on a VM: source derived.envsh, then envsubst with
    the variable list it sets, so nginx's $variables stay."""
    derived = template.parent.parent / "derived.envsh"
    script = f'. "{derived}" && exec "$0" "$NGINX_TEMPLATE_VARIABLES"'
    path = f"{env.get('PATH', os.defpath)}:/usr/sbin:/sbin"  # derived.envsh asks nginx its version
    result = subprocess.run(
        ["sh", "-c", script, required_tool("envsubst")],
        input=template.read_text(),
        env={**env, "PATH": path},
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


@contextmanager
def running_stack(base: Path, **env: str) -> Iterator[Stack]:
    """A baked project served by its deploy/ files under ``base``, on its own PostgreSQL database.

    ``env`` adds to (or replaces) the stack's environment values.
    """
    services = service_urls()
    required_tool("nginx")
    project = installed_project(base)
    with own_database(project, services["DATABASE_URL"]), SmtpServer() as mail:
        nginx_port, nginx_http_port, gunicorn_port = free_port(), free_port(), free_port()
        # What an operator does on a VM: point nginx at a certificate and its key.
        certificate, key = make_certificate(base / "tls", "IP:127.0.0.1,DNS:localhost", "127.0.0.1")
        defaults = dict(
            **services,
            DJANGO_ENV="production",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1",
            STATIC_ROOT=str(base / "static"),
            MEDIA_ROOT=str(base / "media"),
            UPLOAD_MAX_BYTES=str(UPLOAD_MAX_BYTES),
            UPLOAD_MAX_FILES=str(UPLOAD_MAX_FILES),
            GUNICORN_BIND=f"127.0.0.1:{gunicorn_port}",
            GUNICORN_WORKERS=str(GUNICORN_WORKERS),
            SUPERVISOR_RUN_DIR=str(base / "run"),
            NGINX_HTTP_LISTEN=f"127.0.0.1:{nginx_http_port}",
            NGINX_HTTPS_LISTEN=f"127.0.0.1:{nginx_port}",
            NGINX_HTTPS_PORT=str(nginx_port),
            NGINX_TLS_CERTIFICATE=str(certificate),
            NGINX_TLS_CERTIFICATE_KEY=str(key),
            NGINX_ACME_ROOT=str(base / "acme"),
            NGINX_UPSTREAM=f"127.0.0.1:{gunicorn_port}",
            NGINX_ACCESS_LOG=str(base / "nginx-access.log"),
            # A job stuck in "processing" this long is presumed abandoned (default 300 s).
            UPLOAD_PROCESSING_TIMEOUT="6",
            # The worker sends the site's mail to a real SMTP server of the test's.
            EMAIL_URL=mail.url,
            DEFAULT_FROM_EMAIL="noreply@example.com",
            SERVER_EMAIL="server@example.com",
        )
        stack = Stack(
            project=project,
            env=project_env(**{**defaults, **env}),
            url=f"https://127.0.0.1:{nginx_port}",
            http_url=f"http://127.0.0.1:{nginx_http_port}",
            certificate=certificate,
            media_root=base / "media",
            static_root=base / "static",
            app_log=base / "app.log",
            nginx_access_log=base / "nginx-access.log",
            nginx_prefix=base / "nginx",
            nginx_conf=base / "nginx" / "nginx.conf",
            mail=mail,
            workers=int(env.get("GUNICORN_WORKERS", GUNICORN_WORKERS)),
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


def create_superuser(stack: Stack) -> tuple[str, str]:
    """A superuser in the stack's database: (email address, password)."""
    email, password = "admin@example.com", secrets.token_urlsafe(16)
    stack.manage(
        "createsuperuser", "--no-input", "--username", "stack-admin", "--email", email,
        DJANGO_SUPERUSER_PASSWORD=password,
    )  # fmt: skip
    return email, password


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


def enqueue_big_upload(stack: Stack, owner: str) -> str:
    """An upload the worker needs a few seconds for, created as the upload view would."""
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from django.core.files.base import ContentFile\n"
        "from my_async_project.uploads import tasks\n"
        "from my_async_project.uploads.models import Upload\n"
        f"rows = b''.join(b'%d,name-%d,%d\\n' % (n, n, n % 97) for n in range({BIG_CSV_ROWS}))\n"
        "content = b'id,name,score\\n' + rows\n"
        f"owner = get_user_model().objects.get(email={owner!r})\n"
        "upload = Upload(owner=owner, original_name='big.csv', size=len(content), content_type='text/csv')\n"
        "upload.file.save(upload.id.hex, ContentFile(content), save=False)\n"
        "upload.save()\n"
        "tasks.enqueue(upload.pk)\n"
        "print('upload-id', upload.pk)\n"
    )
    output = stack.manage("shell", "--no-imports", "-c", script)
    return re.findall(r"^upload-id (\S+)$", output, flags=re.MULTILINE)[-1]


def upload_status(stack: Stack, client: httpx.Client, upload_id: str) -> dict[str, Any]:
    status: dict[str, Any] = client.get(f"/api/uploads/{upload_id}/").json()
    return status


def upload_row(stack: Stack, upload_id: str) -> dict[str, Any]:
    """The upload's status and attempts, read from the database (the API does not show attempts)."""
    script = (
        "import json; from my_async_project.uploads.models import Upload; "
        f"print(json.dumps(Upload.objects.filter(pk={upload_id!r}).values('status', 'attempts').get()))"
    )
    row: dict[str, Any] = json.loads(stack.manage("shell", "--no-imports", "-c", script).strip().splitlines()[-1])
    return row
