"""The staff dashboard: parts gathered at once, each failing alone, the whole page cached while healthy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus

import pytest
import pytest_asyncio
from django.contrib.auth import get_user_model
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.toolkit import outbound

from tests.support.processes import free_port
from tests.support.servers import UpstreamServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest_asyncio.fixture
async def staff_client(fresh_cache: None, settings: Settings) -> AsyncIterator[AsyncClient]:
    settings.DASHBOARD_STATUS_URLS = []
    outbound.breakers.clear()
    client = AsyncClient()
    await client.aforce_login(await get_user_model().objects.acreate(username="root", is_staff=True))
    yield client
    await outbound.aclose_shared_clients()
    outbound.breakers.clear()


async def test_dashboard_shows_every_part(
    staff_client: AsyncClient, upstream: UpstreamServer, settings: Settings
) -> None:
    settings.DASHBOARD_STATUS_URLS = [f"{upstream.url}/page"]
    response = await staff_client.get("/dashboard")
    assert response.status_code == HTTPStatus.OK
    parts = response.context["parts"]
    assert parts["accounts"].value == {"total": 1, "active": 1, "staff": 1}
    assert parts["services"].value == {"database": "ok", "cache": "ok"}
    assert parts[f"{upstream.url}/page"].value["status"] == HTTPStatus.OK


async def test_failing_upstreams_degrade_only_their_part(
    staff_client: AsyncClient, upstream: UpstreamServer, settings: Settings
) -> None:
    settings.OUTBOUND_HTTP_TIMEOUT = 0.2
    failing, down, slow = f"{upstream.url}/error", f"http://127.0.0.1:{free_port()}/", f"{upstream.url}/slow?seconds=2"
    settings.DASHBOARD_STATUS_URLS = [failing, down, slow]
    response = await staff_client.get("/dashboard")
    assert response.status_code == HTTPStatus.OK
    parts = response.context["parts"]
    assert parts["accounts"].ok
    assert parts["services"].ok
    assert parts[failing].error == "UpstreamError"
    assert parts[down].error == "ConnectError"
    assert parts[slow].error == "ReadTimeout"
    assert "unavailable (UpstreamError)" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


async def test_healthy_dashboard_is_cached_and_degraded_one_is_not(
    staff_client: AsyncClient, upstream: UpstreamServer, settings: Settings
) -> None:
    settings.DASHBOARD_STATUS_URLS = [f"{upstream.url}/page"]
    await staff_client.get("/dashboard")
    await staff_client.get("/dashboard")
    assert upstream.hits["/page"] == 1

    settings.DASHBOARD_STATUS_URLS = [f"{upstream.url}/error"]  # on another URL than the page cached above
    await staff_client.get("/dashboard?v=2")
    await staff_client.get("/dashboard?v=2")
    assert upstream.hits["/error"] == 2


async def test_dashboard_is_for_staff_only(fresh_cache: None) -> None:
    client = AsyncClient()
    await client.aforce_login(await get_user_model().objects.acreate(username="ada"))
    response = await client.get("/dashboard")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")
