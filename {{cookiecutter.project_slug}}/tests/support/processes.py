"""The project as real processes: manage.py commands, a uvicorn server, the task worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.db import connections

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Ports nothing listens on: connecting there fails at once, like a dead service.
DEAD_DATABASE_URL = "postgres://nobody:nothing@127.0.0.1:9/nowhere"
DEAD_REDIS_URL = "redis://127.0.0.1:9/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def project_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process: this one's, plus overrides ('' unsets)."""
    env = {**os.environ, **overrides}
    return {name: value for name, value in env.items() if value != ""}


def run_manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env or project_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05) -> None:
    """Poll until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


def database_url_for_tests() -> str:
    """DATABASE_URL of the test database, so another process sees what the tests see."""
    database = connections["default"].settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    user, password = quote(database["USER"], safe=""), quote(database["PASSWORD"], safe="")
    return f"postgres://{user}:{password}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"


class LiveServer:
    """The project served on 127.0.0.1 by a real process: uvicorn, or gunicorn with ``workers`` uvicorn workers."""

    def __init__(self, env: dict[str, str], workers: int = 0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if workers:
            command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
            env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": str(workers)}
        else:
            command = [
                *(sys.executable, "-m", "config.workers", "--host", "127.0.0.1", "--port", str(self.port)),
                *("--log-level", "warning"),
            ]
        self.process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env)
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with status {self.process.returncode}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Worker:
    """The task worker (``manage.py run_worker``) as a real process, on the test database."""

    def __init__(self, env: dict[str, str], sweep_interval: float, verbosity: int = 0) -> None:
        self.process = subprocess.Popen(
            [
                *(sys.executable, "manage.py", "run_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"),
                *("--sweep-interval", str(sweep_interval), "--verbosity", str(verbosity)),
            ],
            cwd=PROJECT_DIR,
            env=env,
        )

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when a machine dies."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
