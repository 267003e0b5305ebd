"""Redis stops, then starts again: the site degrades but keeps working, and recovers without a restart."""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

import pytest
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.core import sessions

from .servers import RedisServer
from .test_response_cache import logged_in_as, token

pytestmark = [pytest.mark.urls("tests.toolkit_views"), pytest.mark.django_db(transaction=True)]


async def test_pages_render_while_redis_is_down(async_client: AsyncClient, redis_server: RedisServer) -> None:
    redis_server.stop()
    first = await async_client.get("/users")
    second = await async_client.get("/users")
    assert first.status_code == second.status_code == HTTPStatus.OK
    assert token(first.content) != token(second.content)  # rendered each time: cache misses

    redis_server.start()
    assert redis_server.keys() == []  # nothing from the outage waits to be served
    fresh = await async_client.get("/users")
    assert token((await async_client.get("/users")).content) == token(fresh.content)


async def test_readyz_names_the_cache_until_redis_is_back(async_client: AsyncClient, redis_server: RedisServer) -> None:
    redis_server.stop()
    response = await async_client.get("/readyz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["failed"] == ["cache"]

    redis_server.start()
    response = await async_client.get("/readyz")
    assert response.status_code == HTTPStatus.OK


async def test_signed_in_users_stay_signed_in(redis_server: RedisServer) -> None:
    """Sessions are cached_db: the database has them when the cache does not."""
    client, _ = await logged_in_as("ada")
    assert (await client.get("/personal")).content.startswith(b"ada ")

    redis_server.stop()
    assert (await client.get("/personal")).content.startswith(b"ada ")

    redis_server.start()
    assert (await client.get("/personal")).content.startswith(b"ada ")


async def test_sessions_stay_in_the_cache_at_most_cache_max_age(redis_server: RedisServer) -> None:
    await logged_in_as("ida")
    [cached] = redis_server.keys()
    assert 0 < redis_server.ttl(cached) <= sessions.CACHE_MAX_AGE  # not SESSION_COOKIE_AGE (two weeks)


async def test_a_logout_redis_missed_stops_working_within_cache_max_age(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """Redis is away while a session is deleted and comes back with its data: the cached copy outlives the
    row, but not for long."""
    monkeypatch.setattr(sessions, "CACHE_MAX_AGE", 5)
    client, _ = await logged_in_as("eve")
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    with redis_server.down_with_data_kept():
        await sessions.SessionStore(session_key).aflush()  # what logging out does: the row goes, the cache misses it

    replay = AsyncClient()
    replay.cookies[settings.SESSION_COOKIE_NAME] = session_key
    assert (await replay.get("/personal")).content.startswith(b"eve ")  # the cached copy, for now

    for _ in range(100):  # Redis drops the copy within CACHE_MAX_AGE of the login
        if not any(session_key.encode() in key for key in redis_server.keys()):
            break
        await asyncio.sleep(0.1)
    assert (await replay.get("/personal")).content.startswith(b"anonymous ")


async def test_signing_in_works_while_redis_is_down(redis_server: RedisServer) -> None:
    redis_server.stop()
    client, _ = await logged_in_as("grace")
    assert (await client.get("/personal")).content.startswith(b"grace ")

    redis_server.start()
    assert (await client.get("/personal")).content.startswith(b"grace ")


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


async def test_rate_limit_can_fail_closed(async_client: AsyncClient, redis_server: RedisServer) -> None:
    redis_server.stop()
    response = await async_client.get("/strictly-limited")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "3600"

    redis_server.start()
    assert (await async_client.get("/strictly-limited")).status_code == HTTPStatus.OK


async def test_fail_closed_can_be_the_site_wide_setting(
    async_client: AsyncClient, redis_server: RedisServer, settings: Settings
) -> None:
    settings.RATELIMIT_FAIL_OPEN = False
    redis_server.stop()
    assert (await async_client.get("/limited")).status_code == HTTPStatus.SERVICE_UNAVAILABLE
