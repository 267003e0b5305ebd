"""manage.py devserver (make run): the web server and the task worker in one command, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from django.conf import global_settings
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.http import log_in
from tests.support.processes import PROJECT_DIR, database_url_for_tests, free_port, project_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class DevServer:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "devserver", "--port", str(self.port)],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            self.output.extend(self.process.stdout)

    def descendants(self) -> set[int]:
        """Every process started under the runner, children of children included."""
        parents = {self.process.pid}
        found: set[int] = set()
        while parents:
            children = {pid for pid, parent in process_parents().items() if parent in parents}
            found |= children
            parents = children
        return found


def process_parents() -> dict[int, int]:
    """pid -> parent pid of every running process (zombies left out)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    return parents


@pytest.fixture
def devserver(settings: Settings) -> Iterator[DevServer]:
    env = project_env(DATABASE_URL=database_url_for_tests(), MEDIA_ROOT=settings.MEDIA_ROOT, REDIS_URL="")
    server = DevServer(env)
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)
    server.reader.join(timeout=10)


def test_web_server_and_worker_run_and_stop_together(devserver: DevServer, settings: Settings) -> None:
    wait_for(lambda: any("Ctrl-C stops both" in line for line in devserver.output), timeout=60)
    assert any(f"is running at {devserver.url}/" in line for line in devserver.output)
    wait_for(lambda: any(line.startswith("worker | ") for line in devserver.output))  # its output, prefixed

    # Static files are served under ASGI in development, the project's and the admin's.
    for path in ("/static/css/site.css", "/static/admin/css/base.css"):
        response = httpx.get(devserver.url + path)
        assert (response.status_code, response.headers["content-type"]) == (HTTPStatus.OK, "text/css"), path

    # The task worker it started processes an upload.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # as the server checks them
    User.objects.create_user("ada", "ada@example.com", "ada-secret-1")
    with httpx.Client(base_url=devserver.url) as client:
        log_in(client, "ada@example.com", "ada-secret-1")
        response = client.post(
            "/api/uploads/",
            files={"file": ("a.csv", b"a,b\n1,2\n")},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
    assert response.status_code == HTTPStatus.CREATED
    pk = response.json()["results"][0]["id"]
    wait_for(lambda: Upload.objects.get(pk=pk).status == Upload.Status.DONE, timeout=60)

    # Ctrl-C stops everything it started: reloaders and their children too.
    children = devserver.descendants()
    assert len(children) >= 4  # each of the two servers: a reloader and the process it runs
    os.kill(devserver.process.pid, signal.SIGINT)
    assert devserver.process.wait(timeout=30) == 0
    wait_for(lambda: not children & set(process_parents()), timeout=10)
