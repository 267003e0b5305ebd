"""`docker compose up` on a baked project, for real: build, start, traffic through nginx.

The engine is started when none runs; base images are pulled, or built locally as
stand-ins when no registry can be reached (tests/support/docker.py). Everything runs
on 127.0.0.1; the compose project is removed, volumes included, at the end.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from http import HTTPStatus

import httpx
import pytest

from .support.docker import UPLOAD_MAX_BYTES, UPLOAD_MAX_FILES, UPLOAD_MAX_REQUEST_BYTES, ComposeStack, client_for
from .support.http import download_as_attachment, upload_and_wait

pytestmark = pytest.mark.slow


def test_lint_dockerfile_and_compose_file(compose_stack: ComposeStack) -> None:
    hadolint = subprocess.run(["hadolint", "Dockerfile"], cwd=compose_stack.project, capture_output=True, text=True)
    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr
    compose_stack.compose("config", "--quiet")


def test_health_through_nginx(compose_stack: ComposeStack) -> None:
    assert httpx.get(compose_stack.url + "/healthz").status_code == HTTPStatus.OK
    ready = httpx.get(compose_stack.url + "/readyz", timeout=10)
    assert ready.status_code == HTTPStatus.OK
    assert ready.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_static_files_come_from_the_proxy_image(compose_stack: ComposeStack) -> None:
    page = httpx.get(compose_stack.url + "/accounts/login/").text
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
    assert css, page
    response = httpx.get(compose_stack.url + css.group(1))
    assert response.status_code == HTTPStatus.OK
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_upload_is_processed_in_the_container_and_downloaded(compose_stack: ComposeStack) -> None:
    client = client_for(compose_stack)
    content = b"name,score\n" + b"".join(b"player-%d,%d\n" % (n, n % 100) for n in range(2000))
    upload = upload_and_wait(client, "scores.csv", content)
    assert upload["status"] == "done", upload["error"]
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    download_as_attachment(client, upload, content)
    assert httpx.get(compose_stack.url + "/_protected/uploads/").status_code == HTTPStatus.NOT_FOUND


def test_upload_limits_hold_in_nginx_and_django(compose_stack: ComposeStack) -> None:
    """What the form promises passes nginx; a larger request is refused by nginx, in JSON for the API."""
    client = client_for(compose_stack)
    csrf = {"X-CSRFToken": client.cookies["csrftoken"]}
    files = [("file", (f"part-{n}.txt", b"x" * UPLOAD_MAX_BYTES)) for n in range(UPLOAD_MAX_FILES)]
    assert client.post("/api/uploads/", files=files, headers=csrf).status_code == HTTPStatus.CREATED
    over = b"x" * (UPLOAD_MAX_REQUEST_BYTES + 1)
    refused = client.post("/api/uploads/", content=over, headers={**csrf, "Content-Type": "application/octet-stream"})
    assert refused.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert refused.json() == {"error": "The request is larger than the upload limits allow."}


def test_web_runs_as_a_non_root_user(compose_stack: ComposeStack) -> None:
    # `docker top` with explicit ps columns: `compose top` cuts CMD to the terminal's width.
    container = compose_stack.compose("ps", "-q", "web").strip()
    top = subprocess.run(
        ["docker", "top", container, "-o", "pid,uid,args"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[1:]
    processes = [line.split(None, 2) for line in top if line.strip()]
    uids = {uid for _pid, uid, _args in processes}
    commands = [args for _pid, _uid, args in processes]
    assert uids == {"10001"}, top
    assert any("gunicorn" in command for command in commands), commands
    assert any("run_worker" in command for command in commands), commands


def test_image_has_no_secrets_history_or_compilers(compose_stack: ComposeStack) -> None:
    script = "test ! -e /app/.env && test ! -e /app/.git && ! command -v gcc && ! command -v cc && ! command -v make"
    result = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", "my-async-project-web:latest", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_data_survives_restart_and_down_up(compose_stack: ComposeStack) -> None:
    client = client_for(compose_stack)
    upload = upload_and_wait(client, "keep.csv", b"a,b\n1,2\n3,4\n")
    compose_stack.compose("restart", "web")
    compose_stack.up()
    client = client_for(compose_stack)
    assert client.get(f"/api/uploads/{upload['id']}/").json()["sha256"] == upload["sha256"]
    compose_stack.down()
    compose_stack.timings["up to healthy (volumes exist)"] = compose_stack.up()
    client = client_for(compose_stack)
    assert client.get(f"/api/uploads/{upload['id']}/").json()["status"] == "done"
    assert client.get(f"/uploads/{upload['id']}/download/").content == b"a,b\n1,2\n3,4\n"
