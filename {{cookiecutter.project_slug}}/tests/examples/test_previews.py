"""The link preview view, against a real local web site that answers, fails, is slow or is down."""

from __future__ import annotations

import asyncio
import tracemalloc
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
def _upstream_is_allowed(settings: Settings, upstream_server: UpstreamServer) -> None:
    """The local site, on its port only, although it is on a loopback address."""
    settings.LINK_PREVIEW_ALLOWED_HOSTS = [f"127.0.0.1:{upstream_server.port}"]
    settings.LINK_PREVIEW_PRIVATE_ADDRESSES = True


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
    [
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "not a url",
        # The local site itself, named otherwise: credentials, another port, another name.
        "http://user:pw@127.0.0.1:{port}/page",
        "http://127.0.0.1:{other_port}/page",
        "http://localhost:{port}/page",
    ],
)
async def test_preview_refuses_urls_off_the_allow_list(
    async_client: AsyncClient, upstream: UpstreamServer, url: str
) -> None:
    url = url.format(port=upstream.port, other_port=upstream.port + 1)
    response = await async_client.get("/link-preview", {"url": url})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert sum(upstream.hits.values()) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/page",  # unbalanced IPv6 bracket
        "http://127.0.0.1:80:80/page",  # a port given twice
        "http://127.0.0.1:{port}:{port}/page",  # twice, on the allow-listed host
        "http://ｅｘａｍｐｌｅ．ｃｏｍ/",  # full-width characters  # noqa: RUF001
        "http://a..b/",  # an empty label IDNA refuses
        "http://127.0.0.1:99999/page",  # a port out of range
    ],
)
async def test_malformed_urls_get_a_400_with_a_reason(
    async_client: AsyncClient, upstream: UpstreamServer, url: str
) -> None:
    response = await async_client.get("/link-preview", {"url": url.format(port=upstream.port)})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"]
    assert sum(upstream.hits.values()) == 0


async def test_a_listed_name_that_resolves_to_a_private_address_is_refused(
    async_client: AsyncClient, upstream: UpstreamServer, settings: Settings
) -> None:
    """The allow-list names a host; the address it resolves to must still be public."""
    settings.LINK_PREVIEW_ALLOWED_HOSTS = [f"localhost:{upstream.port}", f"127.0.0.1:{upstream.port}"]
    settings.LINK_PREVIEW_PRIVATE_ADDRESSES = False
    for host in ("localhost", "127.0.0.1"):
        response = await async_client.get("/link-preview", {"url": f"http://{host}:{upstream.port}/page"})
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response.json()["error"] == f"fetching from {host} is not allowed"
    assert upstream.hits["/page"] == 0


async def test_the_read_cap_applies_to_the_page(async_client: AsyncClient, upstream: UpstreamServer) -> None:
    """A title after MAX_PAGE_BYTES is not read: the page has no title as far as previews go."""
    response = await async_client.get("/link-preview", {"url": f"{upstream.url}/late-title"})
    assert response.status_code == HTTPStatus.OK
    assert response.json()["title"] is None


async def test_a_compressed_answer_is_inflated_only_up_to_the_cap(
    async_client: AsyncClient, upstream: UpstreamServer
) -> None:
    """The server compresses although asked not to: 64 KiB that inflate to 64 MiB. Memory stays flat."""
    tracemalloc.start()
    try:
        response = await async_client.get("/link-preview", {"url": f"{upstream.url}/gzip"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.json() == {"url": f"{upstream.url}/gzip", "title": "Fish & chips"}
    assert peak < 16 * 1024 * 1024  # bytes: the cap and a chunk or two, not the inflated page


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


async def test_site_that_is_down_answers_502(async_client: AsyncClient, settings: Settings) -> None:
    port = free_port()
    settings.LINK_PREVIEW_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    response = await async_client.get("/link-preview", {"url": f"http://127.0.0.1:{port}/page"})
    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert response.json()["error"] == "the page could not be fetched"


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
