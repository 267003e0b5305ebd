"""The baked project, served by uvicorn on 127.0.0.1, answers real HTTP."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from .conftest import create_database, free_port, installed_project, project_env, run, service_urls


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    services = service_urls()
    project: Path = installed_project(tmp_path_factory.mktemp("smoke"))
    env = project_env(**services)
    create_database(project, services["DATABASE_URL"])
    run(["uv", "run", "--locked", "python", "manage.py", "migrate", "--no-input"], cwd=project, env=env)
    port = free_port()
    server = subprocess.Popen(
        [
            "uv",
            "run",
            "--locked",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
        ],
        cwd=project,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/healthz")
            break
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("uvicorn did not start")
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=15)


@pytest.mark.slow
def test_healthz_over_http(served: str) -> None:
    response = httpx.get(served + "/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


@pytest.mark.slow
def test_readyz_over_http_with_real_services(served: str) -> None:
    response = httpx.get(served + "/readyz", timeout=10)
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.slow
def test_home_page_over_http(served: str) -> None:
    response = httpx.get(served + "/")
    assert response.status_code == HTTPStatus.OK
    assert "My Async Project" in response.text
