"""The production stack, for real: nginx -> gunicorn (uvicorn workers) under supervisord -> PostgreSQL + Redis.

The harness (tests/support/stack.py) serves a baked project with its own deploy/ files;
every request here goes through nginx.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .support.baking import run
from .support.http import download_as_attachment, log_in, post_form, scraped, upload_and_wait
from .support.processes import child_pids, is_running, measured, wait_for
from .support.stack import (
    BIG_CSV_ROWS,
    GUNICORN_WORKERS,
    HASHED_NAME,
    HOLD_USER_ROW,
    REQUEST_ID,
    START_TIMEOUT,
    UPLOAD_MAX_BYTES,
    UPLOAD_MAX_FILES,
    UPLOAD_MAX_REQUEST_BYTES,
    Load,
    Stack,
    enqueue_big_upload,
    nginx_command,
    upload_row,
    upload_status,
)
from .support.tls import HSTS, assert_modern_tls_only

pytestmark = pytest.mark.slow


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


def test_stack_plain_http_redirects_to_https_except_acme_challenges(stack: Stack) -> None:
    challenge = Path(stack.env["NGINX_ACME_ROOT"]) / ".well-known/acme-challenge"
    challenge.mkdir(parents=True, exist_ok=True)
    (challenge / "token-123").write_text("token-123.key-authorization")
    with httpx.Client(base_url=stack.http_url) as plain:
        redirect = plain.get("/uploads/?page=2")
        # A client's X-Forwarded-Proto is believed from a trusted load balancer only (none here).
        forged = plain.get("/uploads/", headers={"X-Forwarded-Proto": "https"})
        acme = plain.get("/.well-known/acme-challenge/token-123")
    assert redirect.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert redirect.headers["location"] == f"{stack.url}/uploads/?page=2"
    assert forged.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert (acme.status_code, acme.text) == (HTTPStatus.OK, "token-123.key-authorization")
    assert "strict-transport-security" not in redirect.headers  # meaningless over plain HTTP


def test_stack_hsts_once_on_pages_static_files_and_nginx_errors(stack: Stack) -> None:
    manifest = json.loads((stack.static_root / "staticfiles.json").read_text())["paths"]
    with stack.client() as client:
        answers = {
            "page (Django)": client.get("/accounts/login/"),
            "static file (nginx)": client.get(f"/static/{manifest['css/site.css']}"),
            "internal location (nginx 404)": client.get("/_protected/nothing.txt"),
        }
    for name, response in answers.items():
        assert response.headers.get_list("strict-transport-security") == [HSTS], name


def test_stack_tls_1_2_and_1_3_only_with_http2(stack: Stack) -> None:
    assert_modern_tls_only(int(urlsplit(stack.url).port or 443))


def test_stack_metrics_count_what_nginx_passed_and_nginx_refuses_them(stack: Stack) -> None:
    """Prometheus scrapes gunicorn directly; through nginx /metrics is refused, whoever asks."""
    gunicorn = f"http://{stack.env['GUNICORN_BIND']}"

    def login_pages_counted() -> float:
        text = httpx.get(f"{gunicorn}/metrics").text
        labels = {"route": "accounts/login/", "method": "GET", "status": "200"}
        return scraped(text, "http_request_duration_seconds_count", **labels) or 0.0

    before = login_pages_counted()
    for _ in range(5):
        assert stack.get("/accounts/login/").status_code == HTTPStatus.OK  # a connection each: both workers
    assert login_pages_counted() - before == 5
    refused = stack.get("/metrics")
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert "http_request" not in refused.text


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


def test_stack_request_over_the_limit_gets_413_from_nginx(stack: Stack) -> None:
    """A body one byte over the request limit: 413 from nginx, JSON for the API; nothing reaches gunicorn or disk."""
    media_before = sorted(stack.media_root.rglob("*"))
    over = b"\0" * (UPLOAD_MAX_REQUEST_BYTES + 1)
    with stack.client() as client:
        api = client.post("/api/uploads/", content=over, headers={"Content-Type": "application/octet-stream"})
        page = client.post("/", content=over)
        at_limit = client.post("/", content=b"\0" * UPLOAD_MAX_REQUEST_BYTES)
    assert api.status_code == page.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert api.headers["content-type"] == "application/json"
    assert api.json() == {"error": "The request is larger than the upload limits allow."}
    assert page.headers["content-type"].startswith("text/html")
    for refused in (api, page):
        request_id = refused.headers["x-request-id"]
        assert [(e["status"], e["upstream_addr"]) for e in stack.nginx_logged(request_id)] == [(413, "")]
        assert stack.app_logged(request_id) == []
    # The limit is exact: a body of UPLOAD_MAX_REQUEST_BYTES passes nginx and Django answers it.
    assert at_limit.status_code != HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert stack.app_logged(at_limit.headers["x-request-id"]) != []
    assert sorted(stack.media_root.rglob("*")) == media_before
    assert [path for path in (stack.nginx_prefix / "client_body").rglob("*") if path.is_file()] == []


def test_stack_accepts_what_the_upload_form_promises(stack: Stack, stack_user: tuple[str, str]) -> None:
    """Up to UPLOAD_MAX_FILES files of UPLOAD_MAX_BYTES each, whatever the multipart overhead."""
    client = stack.client()
    log_in(client, *stack_user)
    csrf = {"X-CSRFToken": client.cookies["csrftoken"]}
    at_limit = client.post("/api/uploads/", files={"file": ("full.txt", b"x" * UPLOAD_MAX_BYTES)}, headers=csrf)
    assert at_limit.status_code == HTTPStatus.CREATED, at_limit.text
    files = [("file", (f"part-{n}.txt", b"y" * (UPLOAD_MAX_BYTES * 6 // 10))) for n in range(UPLOAD_MAX_FILES)]
    together = client.post("/api/uploads/", files=files, headers=csrf)
    assert together.status_code == HTTPStatus.CREATED, together.text
    # One file over the per-file limit is within nginx's request limit: Django refuses it, in JSON, by name.
    one_over = client.post("/api/uploads/", files={"file": ("big.txt", b"z" * (UPLOAD_MAX_BYTES + 1))}, headers=csrf)
    assert one_over.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert one_over.json() == {"error": "'big.txt' is larger than the limit of 1 MiB per file."}


def test_stack_sign_up_through_real_mail_and_failed_logins_limited_in_redis(stack: Stack) -> None:
    """Production's accounts: the confirmation mail goes out through the worker and SMTP; failed
    logins are counted in Redis, exactly, whichever gunicorn worker nginx hands each one to."""
    # An address of its own: allauth's counters (one confirmation mail per address every
    # 3 minutes, failed logins per address) live in the shared Redis, beyond this run.
    email, password = f"newcomer-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)

    with stack.client() as client:
        form = {"email": email, "password1": password, "password2": password}
        response = post_form(client, "/accounts/signup/", form)
        assert (response.status_code, response.headers["location"]) == (HTTPStatus.FOUND, "/accounts/confirm-email/")
        link = stack.mail.link_mailed_to(email, "/accounts/confirm-email/")
        assert link.startswith(stack.url + "/")  # this site, in the scheme it is served with (HTTPS)
        assert post_form(client, urlsplit(link).path, {}).status_code == HTTPStatus.FOUND
        assert client.get("/uploads/").status_code == HTTPStatus.OK

    def wrong_login(_: int) -> int:
        with stack.client() as client:
            return post_form(client, "/accounts/login/", {"login": email, "password": "wrong"}).status_code

    # The default limit: 5 failures per account. Six at once, over the workers: one refused.
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(wrong_login, range(6)))
    assert statuses == [HTTPStatus.OK] * 5 + [HTTPStatus.TOO_MANY_REQUESTS]


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

    The slow request is slow for a real reason, not a debug endpoint: a login whose
    last_login UPDATE waits for a row lock this test holds, as it would behind another
    transaction. Runs last in this module; it starts web again afterwards.
    """
    email, password = stack_user
    master = stack.gunicorn_master()
    workers = child_pids(master)
    with stack.client() as client:
        form = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, form.text
        holder = subprocess.Popen(
            [str(stack.project / ".venv/bin/python"), "-c", HOLD_USER_ROW, stack.env["DATABASE_URL"], email],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        assert holder.stdin is not None
        try:
            assert holder.stdout.readline() == "locked\n"
            result: dict[str, httpx.Response] = {}
            data = {"login": email, "password": password, "csrfmiddlewaretoken": token[1], "next": "/admin/"}
            login = threading.Thread(target=lambda: result.update(response=client.post("/accounts/login/", data=data)))
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
            wait_for(lambda: stack.get("/healthz").status_code == HTTPStatus.BAD_GATEWAY, "refusal")
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


def test_stack_upload_is_processed_and_downloaded_through_x_accel(stack: Stack, stack_user: tuple[str, str]) -> None:
    client = stack.client()
    log_in(client, *stack_user)
    content = b"city,population\n" + b"".join(b"city-%d,%d\n" % (n, n * 7) for n in range(3000))
    upload = upload_and_wait(client, "cities.csv", content)
    assert upload["status"] == "done", upload["error"]
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    # Django answered with an empty body and X-Accel-Redirect; the bytes came from nginx.
    download = download_as_attachment(client, upload, content)
    assert download.headers.get_list("strict-transport-security") == [HSTS]  # X-Accel drops Django's
    assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert download.headers.get_list("cache-control") == ["private, no-store"]
    stored = next(path for path in stack.media_root.rglob("*") if path.is_file() and path.read_bytes() == content)
    direct = stack.get(f"/_protected/{stored.relative_to(stack.media_root)}")
    assert direct.status_code == HTTPStatus.NOT_FOUND


def test_stack_stopping_the_worker_mid_job_lets_the_job_finish(
    stack: Stack, stack_user: tuple[str, str], record_property: Callable[[str, object], None]
) -> None:
    client = stack.client()
    log_in(client, *stack_user)
    upload_id = enqueue_big_upload(stack, stack_user[0])
    wait_for(lambda: upload_status(stack, client, upload_id)["status"] == "processing", "the worker to start the job")
    signalled = datetime.now(UTC)
    start = time.monotonic()
    stack.supervisorctl("stop", "worker")  # TERM: the worker finishes its task, then exits
    stopped_after = time.monotonic() - start
    upload = upload_status(stack, client, upload_id)
    assert upload["status"] == "done"
    # It was still running when TERM came, and that same attempt finished it.
    assert datetime.fromisoformat(upload["processed_at"]) > signalled
    assert upload_row(stack, upload_id)["attempts"] == 1
    stack.supervisorctl("start", "worker")
    measured(record_property, f"worker stopped {stopped_after:.1f} s after TERM, its job done")


def test_stack_job_of_a_killed_worker_completes_after_the_restart(
    stack: Stack, stack_user: tuple[str, str], record_property: Callable[[str, object], None]
) -> None:
    client = stack.client()
    log_in(client, *stack_user)
    upload_id = enqueue_big_upload(stack, stack_user[0])
    wait_for(lambda: upload_status(stack, client, upload_id)["status"] == "processing", "the worker to start the job")
    worker = int(stack.supervisorctl("pid", "worker"))
    killed_at = time.monotonic()
    stack.supervisorctl("signal", "KILL", "worker")  # supervisord restarts it
    # Killed mid-job: the first attempt never finished.
    assert upload_row(stack, upload_id) == {"status": "processing", "attempts": 1}
    wait_for(
        lambda: upload_status(stack, client, upload_id)["status"] == "done",
        "the restarted worker to finish the abandoned job",
        timeout=120,
    )
    upload = upload_status(stack, client, upload_id)
    assert upload["result"]["rows"] == BIG_CSV_ROWS + 1
    assert upload_row(stack, upload_id) == {"status": "done", "attempts": 2}
    restarted = int(stack.supervisorctl("pid", "worker"))
    assert restarted not in {0, worker}  # supervisord started a new worker
    measured(record_property, f"killed worker's job done {time.monotonic() - killed_at:.1f} s after SIGKILL")
