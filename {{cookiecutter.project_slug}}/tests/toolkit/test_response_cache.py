"""CachedResponseMixin: pages come from the cache, per URL, Vary and user, and never when unsafe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext

from {{ cookiecutter.project_slug }}.toolkit.response_cache import ainvalidate

from tests.support.clients import logged_in_as
from tests.support.servers import RedisServer

pytestmark = [pytest.mark.urls("tests.support.toolkit_urls"), pytest.mark.django_db(transaction=True)]


def token(content: bytes) -> str:
    """The token a page got when it was rendered (see tests/support/toolkit_urls.py)."""
    return content.decode().rsplit("rendered ", 1)[1].strip()


@asynccontextmanager
async def queries_of_async_code() -> AsyncIterator[CaptureQueriesContext]:
    """Capture the SQL that async ORM calls and template rendering run.

    A test has no per-request ThreadSensitiveContext, so all of that runs on asgiref's one
    shared thread, with that thread's connection: capture there, not in the test's thread.
    """
    captured = await sync_to_async(lambda: CaptureQueriesContext(connections["default"]))()
    await sync_to_async(captured.__enter__)()
    try:
        yield captured
    finally:
        await sync_to_async(captured.__exit__)(None, None, None)


def page_queries(captured: CaptureQueriesContext, cache_backend: str) -> list[str]:
    """The SQL a page ran: everything but the cache's own lookups, when the cache is a database table."""
    return [q["sql"] for q in captured if cache_backend != "database" or "django_cache" not in q["sql"]]


async def test_second_request_runs_no_sql(async_client: AsyncClient, cache_backend: str) -> None:
    await get_user_model().objects.acreate(username="ada")
    async with queries_of_async_code() as first_queries:
        first = await async_client.get("/users")
    async with queries_of_async_code() as second_queries:
        second = await async_client.get("/users")
    assert first.status_code == second.status_code == HTTPStatus.OK
    assert "ada" in first.content.decode()
    assert len(first_queries) > 0
    assert page_queries(second_queries, cache_backend) == []
    assert second.content == first.content


async def test_invalidating_the_namespace_rebuilds_the_page(async_client: AsyncClient, cache_backend: str) -> None:
    """The write path: save, then ainvalidate(); the next visit sees the change."""
    first = await async_client.get("/users")
    await get_user_model().objects.acreate(username="grace")
    assert token((await async_client.get("/users")).content) == token(first.content)

    await ainvalidate("users")
    after = await async_client.get("/users")
    assert token(after.content) != token(first.content)
    assert "grace" in after.content.decode()


async def test_personal_pages_are_cached_per_user(cache_backend: str) -> None:
    ada_client, _ = await logged_in_as("ada")
    grace_client, _ = await logged_in_as("grace")

    ada_first = await ada_client.get("/personal")
    grace_first = await grace_client.get("/personal")
    anonymous = await AsyncClient().get("/personal")
    assert ada_first.content.startswith(b"ada ")
    assert grace_first.content.startswith(b"grace ")
    assert anonymous.content.startswith(b"anonymous ")
    assert (await ada_client.get("/personal")).content == ada_first.content


async def test_invalidating_one_users_pages_leaves_the_others(cache_backend: str) -> None:
    ada_client, ada = await logged_in_as("ada")
    grace_client, _ = await logged_in_as("grace")
    ada_first = await ada_client.get("/personal")
    grace_first = await grace_client.get("/personal")

    await ainvalidate("personal", ada)
    assert (await ada_client.get("/personal")).content != ada_first.content
    assert (await grace_client.get("/personal")).content == grace_first.content


async def test_vary_keeps_variants_apart(async_client: AsyncClient, cache_backend: str) -> None:
    first_a = await async_client.get("/varying", headers={"X-Variant": "a"})
    first_b = await async_client.get("/varying", headers={"X-Variant": "b"})
    again_a = await async_client.get("/varying", headers={"X-Variant": "a"})
    assert first_a.content.startswith(b"a ")
    assert first_b.content.startswith(b"b ")
    assert again_a.content == first_a.content


async def test_query_strings_are_different_pages(async_client: AsyncClient, cache_backend: str) -> None:
    first = await async_client.get("/users?page=1")
    second = await async_client.get("/users?page=2")
    assert token(first.content) != token(second.content)


async def test_head_is_answered_from_the_cached_get(async_client: AsyncClient, cache_backend: str) -> None:
    """The page is not rendered again for HEAD: its queries do not run (only the cache's own may)."""
    await get_user_model().objects.acreate(username="ada")
    get = await async_client.get("/users")
    async with queries_of_async_code() as head_queries:
        head = await async_client.head("/users")
    assert head.status_code == HTTPStatus.OK
    assert head["Content-Length"] == get["Content-Length"]
    assert page_queries(head_queries, cache_backend) == []


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/cookie", "sets a cookie"),
        ("/csrf-form", "holds a CSRF token, whose cookie the middleware sets"),
        ("/missing", "is not a 200"),
        ("/private", "says Cache-Control: private"),
    ],
)
async def test_unsafe_responses_are_never_stored(
    async_client: AsyncClient, cache_backend: str, path: str, reason: str
) -> None:
    first = await async_client.get(path)
    second = await async_client.get(path)
    assert token(first.content) != token(second.content), f"a page that {reason} was served from the cache"


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
