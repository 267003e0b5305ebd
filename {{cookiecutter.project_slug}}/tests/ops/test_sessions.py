"""Sessions are cached_db: a Redis outage logs nobody out, and a logout Redis missed expires within minutes."""

from __future__ import annotations

import asyncio

import pytest
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.ops import sessions

from tests.support.clients import logged_in_as
from tests.support.servers import RedisServer

pytestmark = [pytest.mark.urls("tests.support.toolkit_urls"), pytest.mark.django_db(transaction=True)]


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
