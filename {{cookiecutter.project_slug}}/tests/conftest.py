"""Fixtures for the whole suite. Helpers the tests import are in tests/support/."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import hypothesis
import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connections
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.ops.request_id import request_id
from {{ cookiecutter.project_slug }}.toolkit import outbound
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.clients import logged_in
from tests.support.mail import MailServer, SmtpServer
from tests.support.processes import LiveServer, Worker, database_url_for_tests, free_port, project_env
from tests.support.servers import RedisServer, UpstreamServer, redis_cache_config

# The suite never reads a developer's .env (config/env.py), in this process or a child.
os.environ["DOTENV_FILE"] = os.devnull

# Hypothesis (tests/uploads/test_fuzz.py): seeded and quick by default, so a run is
# repeatable; `make fuzz` selects the long profile, with fresh inputs every time.
hypothesis.settings.register_profile("default", max_examples=150, derandomize=True, deadline=None, database=None)
hypothesis.settings.register_profile("fuzz", max_examples=20_000, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """On SQLite, a test database in a file, so server and worker processes can share it."""
    database = django_settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


# Users and clients


@pytest.fixture
def user(transactional_db: None) -> User:
    return User.objects.create_user("alice", "alice@example.com", "alice-secret-1")


@pytest.fixture
def other_user(transactional_db: None) -> User:
    return User.objects.create_user("mallory", "mallory@example.com", "mallory-secret-1")


@pytest_asyncio.fixture
async def logged_in_client(user: User) -> AsyncClient:
    """An async client logged in as ``user``."""
    return await logged_in(user)


@pytest.fixture
def no_request_id() -> Iterator[None]:
    """No request id in the context, as outside any request."""
    token = request_id.set(None)
    yield
    request_id.reset(token)


# The project as real processes on the test database (tests/support/processes.py)


@pytest.fixture
def live_server_factory(django_db_setup: None, settings: Settings) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(workers: int = 0, **env_overrides: str) -> LiveServer:
        """uvicorn, or gunicorn with ``workers`` workers, on the test database and media directory."""
        env = {"DATABASE_URL": database_url_for_tests(), "MEDIA_ROOT": settings.MEDIA_ROOT, **env_overrides}
        server = LiveServer(project_env(**env), workers)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def worker_factory(django_db_setup: None, settings: Settings) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(sweep_interval: float = 30.0, verbosity: int = 0, **env_overrides: str) -> Worker:
        """The task worker; verbosity 1 is production's (its jobs' outcomes logged)."""
        env = {"DATABASE_URL": database_url_for_tests(), "MEDIA_ROOT": settings.MEDIA_ROOT, **env_overrides}
        worker = Worker(project_env(**env), sweep_interval, verbosity)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


# Mail: a real SMTP server on 127.0.0.1 (aiosmtpd), and what the project sends mail through


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """{% if cookiecutter.mail_service == "smtp" %}The SMTP server EMAIL_URL names{% else %}A stand-in for {{ cookiecutter._mail_providers[cookiecutter.mail_service].name }}'s API{% endif %}, for the served project's worker."""
    server = MailServer()
    server.start()
    yield server
    server.stop()


# Caches: a private local-memory cache, or a real Redis the test may stop (tests/support/servers.py)


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


@pytest.fixture
def database_cache(settings: Settings) -> None:
    """The embedded default's cache, a table of the test database, under a key prefix of the test's own.

    Needs transactional database access (pytest-django decides it from the fixtures a test
    names, not from those requested on the way: see cache_backend).
    """
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
            "KEY_PREFIX": uuid.uuid4().hex,
        }
    }
    # The test database has the table only when the suite itself runs without Redis.
    call_command("createcachetable", verbosity=0)


CACHE_FIXTURES = {"locmem": "fresh_cache", "database": "database_cache", "redis": "redis_server"}


@pytest.fixture(params=list(CACHE_FIXTURES))
def cache_backend(request: pytest.FixtureRequest, transactional_db: None) -> str:
    """Run the test on an empty local-memory cache, on the database cache, then on a private Redis."""
    request.getfixturevalue(CACHE_FIXTURES[request.param])
    return str(request.param)


# Outbound HTTP: a real local web site, and no client or breaker state from other tests


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


@pytest_asyncio.fixture
async def fresh_outbound(settings: Settings, fresh_cache: None) -> AsyncIterator[None]:
    """No breaker state from other tests, breakers that open after two failures; the client closed afterwards."""
    settings.CIRCUIT_BREAKER_FAILURES = 2
    outbound.breakers.clear()
    yield
    await outbound.aclose_shared_clients()
    outbound.breakers.clear()
