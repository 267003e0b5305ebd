from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import connections
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.users.models import User

from .servers import RedisServer, UpstreamServer

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Ports nothing listens on: connecting there fails at once, like a dead service.
DEAD_DATABASE_URL = "postgres://nobody:nothing@127.0.0.1:9/nowhere"
DEAD_REDIS_URL = "redis://127.0.0.1:9/0"


@pytest.fixture(autouse=True)
def _test_settings(settings: Settings, tmp_path: Path) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # A key prefix per test: no rate-limit counter or cached entry outlives its test.
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {alias: {**config, "KEY_PREFIX": prefix} for alias, config in django_settings.CACHES.items()}


@pytest_asyncio.fixture(autouse=True)
async def _close_thread_sensitive_db_connections() -> AsyncIterator[None]:
    """Async ORM calls in tests run in asgiref's shared thread; close what they opened."""
    yield
    await sync_to_async(connections.close_all)()


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


class LiveServer:
    """The project served by a real uvicorn process on 127.0.0.1."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "config.asgi:application", "--lifespan", "off"),
                *("--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"),
            ],
            cwd=PROJECT_DIR,
            env=env,
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with status {self.process.returncode}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"uvicorn did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """On SQLite, a test database in a file, so server and worker processes can share it."""
    database = django_settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def database_url_for_tests() -> str:
    """DATABASE_URL of the test database, so another process sees what the tests see."""
    database = connections["default"].settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    user, password = quote(database["USER"], safe=""), quote(database["PASSWORD"], safe="")
    return f"postgres://{user}:{password}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"


def wait_for(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05) -> None:
    """Poll until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


@pytest.fixture
def live_server_factory(django_db_setup: None) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(**env_overrides: str) -> LiveServer:
        server = LiveServer(project_env(**{"DATABASE_URL": database_url_for_tests(), **env_overrides}))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Worker:
    """The task worker (``manage.py run_worker``) as a real process, on the test database."""

    def __init__(self, env: dict[str, str], sweep_interval: float) -> None:
        self.process = subprocess.Popen(
            [
                *(sys.executable, "manage.py", "run_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"),
                *("--sweep-interval", str(sweep_interval), "--verbosity", "0"),
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


@pytest.fixture
def worker_factory(django_db_setup: None, settings: Settings) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(sweep_interval: float = 30.0, **env_overrides: str) -> Worker:
        env = {"DATABASE_URL": database_url_for_tests(), "MEDIA_ROOT": settings.MEDIA_ROOT, **env_overrides}
        worker = Worker(project_env(**env), sweep_interval)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def user(transactional_db: None) -> User:
    return User.objects.create_user("alice", password="alice-secret-1")


@pytest.fixture
def other_user(transactional_db: None) -> User:
    return User.objects.create_user("mallory", password="mallory-secret-1")


async def logged_in_client(user: User, *, enforce_csrf_checks: bool = False) -> AsyncClient:
    client = AsyncClient(enforce_csrf_checks=enforce_csrf_checks)
    await client.aforce_login(user)
    return client


@pytest_asyncio.fixture
async def client(user: User) -> AsyncClient:
    """An async client logged in as ``user``."""
    return await logged_in_client(user)


# Real Redis and a real upstream web site for the async view toolkit's tests (servers.py).


def redis_cache_config(url: str) -> dict[str, object]:
    """CACHES["default"] as config/settings.py builds it for REDIS_URL (test_settings checks that shape)."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
            "CONNECTION_POOL_KWARGS": {"max_connections": 100, "timeout": 0.5},
        },
    }


@pytest.fixture(scope="session")
def redis_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not on PATH: install Redis (e.g. apt-get install redis-server) to run these tests"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run every test: {message}")
        pytest.skip(message)
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(redis_server_process: RedisServer, settings: Settings) -> Iterator[RedisServer]:
    """The default cache on a private, empty Redis that the test may stop; running again afterwards."""
    server = redis_server_process
    if not server.running:
        server.start()
    server.flush()
    settings.CACHES = {"default": redis_cache_config(server.url)}
    settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    yield server
    if not server.running:
        server.start()


@pytest.fixture
def fresh_cache(settings: Settings) -> None:
    """An empty local-memory cache of the test's own: no counters or pages left by other tests."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request: pytest.FixtureRequest) -> str:
    """Run the test on an empty local-memory cache, then on a private Redis."""
    request.getfixturevalue("redis_server" if request.param == "redis" else "fresh_cache")
    return str(request.param)


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[UpstreamServer]:
    server = UpstreamServer()
    yield server
    server.stop()


@pytest.fixture
def upstream(upstream_server: UpstreamServer) -> UpstreamServer:
    """The upstream web site, its request counts reset."""
    upstream_server.hits.clear()
    return upstream_server
