"""The link preview view, against a real local web site that answers, fails, is slow or is down."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import pytest
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.toolkit import outbound
from {{ cookiecutter.project_slug }}.toolkit.breaker import State

from tests.support.processes import free_port
from tests.support.servers import UpstreamServer

pytestmark = pytest.mark.usefixtures("fresh_outbound")


@pytest.fixture(autouse=True)
def _upstream_is_allowed(settings: Settings) -> None:
    settings.LINK_PREVIEW_ALLOWED_HOSTS = ["127.0.0.1"]


def circuit_state() -> State:
    """The state of the only origin's breaker, as of now."""
    [breaker] = outbound.breakers.values()
    return breaker.state


async def test_preview_gives_the_page_title(async_client: AsyncClient, upstream: UpstreamServer) -> None:
    response = await async_client.get("/link-preview", {"url": f"{upstream.url}/page"})
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"url": f"{upstream.url}/page", "title": "Fish & chips"}


async def test_preview_reads_only_the_top_of_a_big_page(async_client: AsyncClient, upstream: UpstreamServer) -> None:
    response = await async_client.get("/link-preview", {"url": f"{upstream.url}/big"})
    assert response.json()["title"] == "Fish & chips"


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", "http://user:pw@127.0.0.1/", "not a url"],
)
async def test_preview_refuses_urls_off_the_allow_list(
    async_client: AsyncClient, upstream: UpstreamServer, url: str
) -> None:
    response = await async_client.get("/link-preview", {"url": url})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert sum(upstream.hits.values()) == 0


async def test_preview_allows_nothing_by_default(
    async_client: AsyncClient, upstream: UpstreamServer, settings: Settings
) -> None:
    settings.LINK_PREVIEW_ALLOWED_HOSTS = []
    response = await async_client.get("/link-preview", {"url": f"{upstream.url}/page"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert upstream.hits["/page"] == 0


@pytest.mark.parametrize(
    ("path", "error"),
    [("/redirect", "the page answered 302"), ("/missing", "the page answered 404"), ("/text", "the page is not HTML")],
)
async def test_preview_reports_pages_without_a_title(
    async_client: AsyncClient, upstream: UpstreamServer, path: str, error: str
) -> None:
    """Redirects are not followed: they could lead off the allow-list."""
    response = await async_client.get("/link-preview", {"url": f"{upstream.url}{path}"})
    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert response.json()["error"] == error


async def test_slow_site_answers_504(async_client: AsyncClient, upstream: UpstreamServer, settings: Settings) -> None:
    settings.OUTBOUND_HTTP_TIMEOUT = 0.2
    response = await async_client.get("/link-preview", {"url": f"{upstream.url}/slow?seconds=2"})
    assert response.status_code == HTTPStatus.GATEWAY_TIMEOUT


async def test_site_that_is_down_answers_502(async_client: AsyncClient) -> None:
    response = await async_client.get("/link-preview", {"url": f"http://127.0.0.1:{free_port()}/page"})
    assert response.status_code == HTTPStatus.BAD_GATEWAY


async def test_failing_site_is_not_called_while_its_circuit_is_open(
    async_client: AsyncClient, upstream: UpstreamServer
) -> None:
    """Two 500s in a row (CIRCUIT_BREAKER_FAILURES=2): the next calls fail fast, even to healthy pages."""
    for _ in range(2):
        response = await async_client.get("/link-preview", {"url": f"{upstream.url}/error"})
        assert response.status_code == HTTPStatus.BAD_GATEWAY
    for path in ("/error", "/page"):
        response = await async_client.get("/link-preview", {"url": f"{upstream.url}{path}"})
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert upstream.hits == {"/error": 2}


async def test_circuit_closes_when_the_site_is_back(
    async_client: AsyncClient, upstream: UpstreamServer, settings: Settings
) -> None:
    settings.CIRCUIT_BREAKER_COOLDOWN = 0.1
    for _ in range(2):
        await async_client.get("/link-preview", {"url": f"{upstream.url}/error"})
    assert circuit_state() is State.OPEN
    await asyncio.sleep(0.15)  # the cool-down, plus a margin
    response = await async_client.get("/link-preview", {"url": f"{upstream.url}/page"})
    assert response.status_code == HTTPStatus.OK
    assert circuit_state() is State.CLOSED


async def test_previews_are_rate_limited(
    async_client: AsyncClient, upstream: UpstreamServer, settings: Settings
) -> None:
    settings.LINK_PREVIEW_RATE_LIMIT = 2
    page = {"url": f"{upstream.url}/page"}
    statuses = [(await async_client.get("/link-preview", page)).status_code for _ in range(3)]
    assert statuses == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
    assert upstream.hits["/page"] == 2
