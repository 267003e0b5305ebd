"""`docker compose up` on a baked project, for real: build, start, traffic through nginx.

The engine is started when none runs; base images are pulled, or built locally as
stand-ins when no registry can be reached (tests/docker_support.py). Everything runs
on 127.0.0.1; the compose project is removed, volumes included, at the end.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from .conftest import bake, download_as_attachment, free_port, http_client, log_in, project_env, upload_and_wait
from .docker_support import ensure_engine, ensure_images

pytestmark = pytest.mark.slow
USERNAME, PASSWORD = "docker", "docker-password-1"
COMPOSE_PROJECT = "cadtest"


@dataclass
class Stack:
    project: Path
    url: str
    timings: dict[str, float]

    def compose(self, *args: str, timeout: float = 900) -> str:
        result = subprocess.run(
            ["docker", "compose", "-p", COMPOSE_PROJECT, *args],
            cwd=self.project,
            env=project_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            logs = subprocess.run(
                ["docker", "compose", "-p", COMPOSE_PROJECT, "logs", "--tail", "60"],
                cwd=self.project,
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            pytest.fail(f"docker compose {' '.join(args)} exited {result.returncode}\n{result.stderr}\n{logs}")
        return result.stdout

    def down(self, *args: str) -> None:
        """`docker compose down`, then wait until the engine no longer lists the containers.

        Right after `down`, the engine (20.10 here) can still list a removed container
        for a moment, and an immediate `up --wait` then waits for it: "No such container".
        """
        self.compose("down", "--remove-orphans", *args)
        deadline = time.monotonic() + 60
        while self.compose("ps", "--all", "--quiet").strip():
            if time.monotonic() > deadline:
                pytest.fail("containers still listed 60 s after docker compose down")
            time.sleep(0.2)

    def up(self) -> float:
        start = time.monotonic()
        self.compose("up", "--detach", "--wait", "--wait-timeout", "300")
        return time.monotonic() - start


def base_images(project: Path) -> list[str]:
    """Every image the Dockerfile and the compose file name."""
    dockerfile = (project / "Dockerfile").read_text()
    compose = (project / "compose.yaml").read_text()
    images = re.findall(r"^ARG \w+_IMAGE=(\S+)$", dockerfile, flags=re.MULTILINE)
    images += re.findall(r"^\s+image: (\S+)$", compose, flags=re.MULTILINE)
    return sorted({image for image in images if "-web:" not in image and "-proxy:" not in image})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ensure_engine()
    project = bake(tmp_path_factory.mktemp("docker"))
    images = ensure_images(base_images(project))
    port = free_port()
    with (project / ".env").open("a") as env:
        env.write(f"HTTP_PORT={port}\nUPLOAD_MAX_BYTES={5 * 1024 * 1024}\n")
    stack = Stack(project, f"http://127.0.0.1:{port}", {})
    stack.down("--volumes")  # leftovers of an interrupted run
    try:
        start = time.monotonic()
        stack.compose("build")
        stack.timings["build (first in this run)"] = time.monotonic() - start
        start = time.monotonic()
        stack.compose("build")
        stack.timings["build (warm, nothing changed)"] = time.monotonic() - start
        stack.timings["up to healthy"] = stack.up()
        stack.compose(
            "exec",
            "-T",
            "-e",
            f"DJANGO_SUPERUSER_USERNAME={USERNAME}",
            "-e",
            f"DJANGO_SUPERUSER_PASSWORD={PASSWORD}",
            "web",
            "python",
            "manage.py",
            "createsuperuser",
            "--no-input",
            "--email",
            "docker@example.com",
        )
        yield stack
    finally:
        for name, seconds in stack.timings.items():
            print(f"docker: {name}: {seconds:.1f} s")
        for tag in ("web", "proxy"):
            size = subprocess.run(
                ["docker", "image", "inspect", "--format", "{{.Size}}", f"my-async-project-{tag}:latest"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if size:
                print(f"docker: {tag} image: {int(size) / 1e6:.0f} MB")
        print(f"docker: base images: {json.dumps(images)}")
        stack.down("--volumes")


def client_for(stack: Stack) -> httpx.Client:
    client = http_client(stack.url)
    log_in(client, USERNAME, PASSWORD)
    return client


def test_lint_dockerfile_and_compose_file(stack: Stack) -> None:
    hadolint = subprocess.run(["hadolint", "Dockerfile"], cwd=stack.project, capture_output=True, text=True)
    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr
    stack.compose("config", "--quiet")


def test_health_through_nginx(stack: Stack) -> None:
    assert httpx.get(stack.url + "/healthz").status_code == HTTPStatus.OK
    ready = httpx.get(stack.url + "/readyz", timeout=10)
    assert ready.status_code == HTTPStatus.OK
    assert ready.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_static_files_come_from_the_proxy_image(stack: Stack) -> None:
    page = httpx.get(stack.url + "/accounts/login/").text
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
    assert css, page
    response = httpx.get(stack.url + css.group(1))
    assert response.status_code == HTTPStatus.OK
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_upload_is_processed_in_the_container_and_downloaded(stack: Stack) -> None:
    client = client_for(stack)
    content = b"name,score\n" + b"".join(b"player-%d,%d\n" % (n, n % 100) for n in range(2000))
    upload = upload_and_wait(client, "scores.csv", content)
    assert upload["status"] == "done", upload["error"]
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    download_as_attachment(client, upload, content)
    assert httpx.get(stack.url + "/_protected/uploads/").status_code == HTTPStatus.NOT_FOUND


def test_upload_over_the_limit_is_refused_by_nginx(stack: Stack) -> None:
    client = client_for(stack)
    response = client.post(
        "/api/uploads/",
        files={"file": ("big.txt", b"x" * (5 * 1024 * 1024 + 1))},
        headers={"X-CSRFToken": client.cookies["csrftoken"]},
    )
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "nginx" in response.text


def test_web_runs_as_a_non_root_user(stack: Stack) -> None:
    # `docker top` with explicit ps columns: `compose top` cuts CMD to the terminal's width.
    container = stack.compose("ps", "-q", "web").strip()
    top = subprocess.run(
        ["docker", "top", container, "-o", "pid,uid,args"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[1:]
    processes = [line.split(None, 2) for line in top if line.strip()]
    uids = {uid for _pid, uid, _args in processes}
    commands = [args for _pid, _uid, args in processes]
    assert uids == {"10001"}, top
    assert any("gunicorn" in command for command in commands), commands
    assert any("run_worker" in command for command in commands), commands


def test_image_has_no_secrets_history_or_compilers(stack: Stack) -> None:
    script = "test ! -e /app/.env && test ! -e /app/.git && ! command -v gcc && ! command -v cc && ! command -v make"
    result = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", "my-async-project-web:latest", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_data_survives_restart_and_down_up(stack: Stack) -> None:
    client = client_for(stack)
    upload = upload_and_wait(client, "keep.csv", b"a,b\n1,2\n3,4\n")
    stack.compose("restart", "web")
    stack.up()
    client = client_for(stack)
    assert client.get(f"/api/uploads/{upload['id']}/").json()["sha256"] == upload["sha256"]
    stack.down()
    stack.timings["up to healthy (volumes exist)"] = stack.up()
    client = client_for(stack)
    assert client.get(f"/api/uploads/{upload['id']}/").json()["status"] == "done"
    assert client.get(f"/uploads/{upload['id']}/download/").content == b"a,b\n1,2\n3,4\n"
