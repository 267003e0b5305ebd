"""The baked project, served by uvicorn on 127.0.0.1 with a real task worker, answers real HTTP."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

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
USERNAME, PASSWORD = "smoke", "smoke-password-1"


@dataclass
class Served:
    url: str
    project: Path


def wait_until_up(url: str, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url + "/healthz")
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """uvicorn and the task worker on PostgreSQL and Redis, as `make run` would start them."""
    services = service_urls()
    project = installed_project(tmp_path_factory.mktemp("smoke"))
    env = project_env(**services, DJANGO_SUPERUSER_USERNAME=USERNAME, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    with own_database(project, services["DATABASE_URL"]):
        manage = ["uv", "run", "--locked", "python", "manage.py"]
        run([*manage, "migrate", "--no-input"], cwd=project, env=env)
        run([*manage, "createsuperuser", "--no-input", "--email", "smoke@example.com"], cwd=project, env=env)
        port = free_port()
        uvicorn = ["uv", "run", "--locked", "uvicorn", "config.asgi:application", "--lifespan", "off"]
        server = subprocess.Popen(
            [*uvicorn, "--host", "127.0.0.1", "--port", str(port)],
            cwd=project,
            env=env,
        )
        worker = subprocess.Popen([*manage, "run_worker", "--no-reload", "--interval", "0.2"], cwd=project, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, server)
            yield Served(url, project)
        finally:
            for process in (server, worker):
                process.terminate()
                process.wait(timeout=30)


def logged_in(served: Served) -> httpx.Client:
    client = http_client(served.url)
    log_in(client, USERNAME, PASSWORD)
    return client


def test_healthz_over_http(served: Served) -> None:
    response = httpx.get(served.url + "/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_readyz_over_http_with_real_services(served: Served) -> None:
    response = httpx.get(served.url + "/readyz", timeout=10)
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_home_page_over_http(served: Served) -> None:
    response = httpx.get(served.url + "/")
    assert response.status_code == HTTPStatus.OK
    assert "My Async Project" in response.text


def test_upload_is_processed_by_the_worker_and_downloaded(served: Served) -> None:
    client = logged_in(served)
    content = b"city,population\n" + b"".join(b"city-%d,%d\n" % (n, n * 1000) for n in range(5000))
    upload = upload_and_wait(client, "cities.csv", content)
    assert upload["status"] == "done", upload["error"]
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    assert upload["size"] == len(content)
    assert upload["content_type"] == "text/csv"
    result = upload["result"]
    assert isinstance(result, dict)
    assert (result["rows"], result["columns"]) == (5001, 2)
    download_as_attachment(client, upload, content)
