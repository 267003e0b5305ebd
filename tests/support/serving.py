"""A baked project served by uvicorn and its task worker on PostgreSQL and Redis, as a developer runs it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .baking import installed_project, own_database, project_env, run, service_urls
from .http import free_port, http_client, log_in

EMAIL, PASSWORD = "smoke@example.com", "smoke-password-1"


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


@contextmanager
def served_by_uvicorn(base: Path) -> Iterator[Served]:
    """uvicorn and the task worker on PostgreSQL and Redis, with a superuser (EMAIL, PASSWORD)."""
    services = service_urls()
    project = installed_project(base)
    env = project_env(**services, DJANGO_SUPERUSER_USERNAME="smoke", DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    with own_database(project, services["DATABASE_URL"]):
        manage = ["uv", "run", "--locked", "python", "manage.py"]
        run([*manage, "migrate", "--no-input"], cwd=project, env=env)
        run([*manage, "createsuperuser", "--no-input", "--email", EMAIL], cwd=project, env=env)
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
    log_in(client, EMAIL, PASSWORD)
    return client
