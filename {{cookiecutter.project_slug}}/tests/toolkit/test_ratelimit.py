"""RateLimitMixin: exact counts under concurrency, per user or client address, 429 with Retry-After."""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connections
from django.test import AsyncClient, AsyncRequestFactory
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.toolkit.ratelimit import client_identity

from tests.support.servers import RedisServer

pytestmark = pytest.mark.urls("tests.support.toolkit_urls")


async def get_in_own_thread(client: AsyncClient, path: str) -> int:
    """A request with a thread of its own for its blocking calls, as Django's ASGI handler gives each."""
    async with ThreadSensitiveContext():
        response = await client.get(path)
        # What request_finished does at the end of a real request (the test client skips it).
        await sync_to_async(connections.close_all)()
    if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
        assert 1 <= int(response["Retry-After"]) <= 3600
    return response.status_code


async def test_exactly_the_limit_passes_under_concurrency(async_client: AsyncClient, cache_backend: str) -> None:
    """Limit 50, 200 requests at once: 50 pass, 150 are refused."""
    statuses = await asyncio.gather(*(get_in_own_thread(async_client, "/limited") for _ in range(200)))
    assert statuses.count(HTTPStatus.OK) == 50
    assert statuses.count(HTTPStatus.TOO_MANY_REQUESTS) == 150


async def test_refusal_says_when_to_retry(async_client: AsyncClient, cache_backend: str) -> None:
    await async_client.post("/upload-like")
    refused = await async_client.post("/upload-like")
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 3590 <= int(refused["Retry-After"]) <= 3600
    assert refused["Content-Type"].startswith("text/plain")


async def test_only_the_listed_methods_are_counted(async_client: AsyncClient, fresh_cache: None) -> None:
    for _ in range(3):
        assert (await async_client.get("/upload-like")).status_code == HTTPStatus.OK
    assert (await async_client.post("/upload-like")).status_code == HTTPStatus.OK
    assert (await async_client.post("/upload-like")).status_code == HTTPStatus.TOO_MANY_REQUESTS


@pytest.mark.django_db(transaction=True)
async def test_signed_in_users_have_their_own_allowance(async_client: AsyncClient, fresh_cache: None) -> None:
    """Counted by user, not by the address the user shares with others (an office, a NAT)."""
    await async_client.post("/upload-like")
    assert (await async_client.post("/upload-like")).status_code == HTTPStatus.TOO_MANY_REQUESTS

    signed_in = AsyncClient()
    await signed_in.aforce_login(await get_user_model().objects.acreate(username="ada"))
    assert (await signed_in.post("/upload-like")).status_code == HTTPStatus.OK
    assert (await signed_in.post("/upload-like")).status_code == HTTPStatus.TOO_MANY_REQUESTS


async def test_anonymous_clients_are_counted_by_remote_addr_not_forwarded_headers() -> None:
    """Uvicorn workers rewrite REMOTE_ADDR from X-Forwarded-For for trusted proxies only; a client's own is ignored."""

    async def anonymous() -> AnonymousUser:
        return AnonymousUser()

    factory = AsyncRequestFactory()
    requests = []
    for remote_addr, forwarded_for in [("198.51.100.7", "1.1.1.1"), ("198.51.100.7", "2.2.2.2"), ("203.0.113.9", "")]:
        request = factory.get("/", headers={"X-Forwarded-For": forwarded_for})
        request.META["REMOTE_ADDR"] = remote_addr
        request.auser = anonymous
        requests.append(request)
    identities = [await client_identity(request) for request in requests]
    assert identities == ["ip:198.51.100.7", "ip:198.51.100.7", "ip:203.0.113.9"]


async def test_redis_counter_expires_with_its_window(async_client: AsyncClient, redis_server: RedisServer) -> None:
    await async_client.get("/limited")
    [key] = redis_server.keys()
    assert b"ratelimit:LimitedPage:ip:127.0.0.1" in key
    assert 3590 <= redis_server.ttl(key) <= 3600


@pytest.mark.django_db(transaction=True)
async def test_rate_limit_fails_open_by_default(
    async_client: AsyncClient, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.stop()
    with caplog.at_level(logging.WARNING):
        statuses = {(await async_client.get("/limited")).status_code for _ in range(60)}  # limit: 50
    assert statuses == {HTTPStatus.OK}
    assert "rate limit LimitedPage not counted" in caplog.text
    assert "allowing the request" in caplog.text

    redis_server.start()
    assert (await async_client.get("/limited")).status_code == HTTPStatus.OK
    [counter] = redis_server.keys()
    assert redis_server.get(counter) == b"1"  # counting again, from the first request after the outage


@pytest.mark.django_db(transaction=True)
async def test_rate_limit_can_fail_closed(async_client: AsyncClient, redis_server: RedisServer) -> None:
    redis_server.stop()
    response = await async_client.get("/strictly-limited")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "3600"

    redis_server.start()
    assert (await async_client.get("/strictly-limited")).status_code == HTTPStatus.OK


@pytest.mark.django_db(transaction=True)
async def test_fail_closed_can_be_the_site_wide_setting(
    async_client: AsyncClient, redis_server: RedisServer, settings: Settings
) -> None:
    settings.RATELIMIT_FAIL_OPEN = False
    redis_server.stop()
    assert (await async_client.get("/limited")).status_code == HTTPStatus.SERVICE_UNAVAILABLE
