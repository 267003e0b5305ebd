from collections.abc import Callable
from http import HTTPStatus

import httpx
import pytest
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from tests.support.processes import DEAD_DATABASE_URL, DEAD_REDIS_URL, LiveServer
from tests.support.servers import RedisServer


async def test_healthz_is_ok(async_client: AsyncClient) -> None:
    response = await async_client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
async def test_readyz_reports_database_and_cache(async_client: AsyncClient) -> None:
    response = await async_client.get("/readyz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


async def test_healthz_answers_any_host_over_plain_http(async_client: AsyncClient, settings: Settings) -> None:
    """Probes come by IP address and over HTTP; host validation and the HTTPS redirect must not stop them."""
    settings.ALLOWED_HOSTS = ["app.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    response = await async_client.get("/healthz", headers={"host": "10.1.2.3:8000"})
    assert response.status_code == HTTPStatus.OK


async def test_other_pages_still_check_the_host(async_client: AsyncClient, settings: Settings) -> None:
    settings.ALLOWED_HOSTS = ["app.example.com"]
    response = await async_client.get("/", headers={"host": "10.1.2.3:8000"})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_healthz_over_real_http(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory()
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == HTTPStatus.OK


def test_readyz_names_a_dead_database(
    live_server_factory: Callable[..., LiveServer], redis_server_process: RedisServer
) -> None:
    """With the cache in Redis, only the database is named."""
    server = live_server_factory(
        DATABASE_URL=DEAD_DATABASE_URL, DATABASE_POOL_TIMEOUT="1", REDIS_URL=redis_server_process.url
    )
    response = httpx.get(f"{server.url}/readyz", timeout=10)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["database"] != "ok"
    assert body["cache"] == "ok"


def test_readyz_without_redis_names_the_cache_with_a_dead_database(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    """Without Redis the cache is a table of the database: both are named."""
    server = live_server_factory(DATABASE_URL=DEAD_DATABASE_URL, DATABASE_POOL_TIMEOUT="1", REDIS_URL="")
    response = httpx.get(f"{server.url}/readyz", timeout=10)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["failed"] == ["cache", "database"]


def test_readyz_names_a_dead_cache(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(REDIS_URL=DEAD_REDIS_URL)
    response = httpx.get(f"{server.url}/readyz", timeout=10)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["failed"] == ["cache"]
    assert body["cache"] != "ok"
    assert body["database"] == "ok"


@pytest.mark.django_db(transaction=True)
async def test_readyz_names_the_cache_until_redis_is_back(async_client: AsyncClient, redis_server: RedisServer) -> None:
    redis_server.stop()
    response = await async_client.get("/readyz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["failed"] == ["cache"]

    redis_server.start()
    response = await async_client.get("/readyz")
    assert response.status_code == HTTPStatus.OK
