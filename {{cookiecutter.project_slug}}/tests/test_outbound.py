"""Outbound HTTP: one client per event loop, closed with it; a circuit breaker; the link preview view
against a real local web site that answers, fails, is slow or is down."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from http import HTTPStatus

import httpx
import pytest
import pytest_asyncio
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.core import outbound
from {{ cookiecutter.project_slug }}.core.breaker import CircuitBreaker, CircuitOpenError, State

from .conftest import PROJECT_DIR, free_port
from .servers import UpstreamServer


@pytest_asyncio.fixture(autouse=True)
async def _fresh_outbound_state(settings: Settings, fresh_cache: None) -> AsyncIterator[None]:
    """No breaker state from other tests; an allow-list holding the local web site."""
    settings.LINK_PREVIEW_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CIRCUIT_BREAKER_FAILURES = 2
    outbound.breakers.clear()
    yield
    await outbound.aclose_shared_clients()
    outbound.breakers.clear()


# The shared client


async def test_one_client_per_event_loop() -> None:
    client = outbound.shared_client()
    assert outbound.shared_client() is client

    def in_another_loop() -> tuple[httpx.AsyncClient, bool]:
        async def use() -> httpx.AsyncClient:
            return outbound.shared_client()

        other = asyncio.run(use())
        return other, other.is_closed

    result: list[tuple[httpx.AsyncClient, bool]] = []
    thread = threading.Thread(target=lambda: result.append(in_another_loop()))
    thread.start()
    thread.join()
    [(other, closed_when_its_loop_ended)] = result
    assert other is not client
    assert closed_when_its_loop_ended
    assert not client.is_closed


async def test_aclose_shared_clients_closes_this_loops_client() -> None:
    client = outbound.shared_client()
    await outbound.aclose_shared_clients()
    assert client.is_closed
    assert outbound.shared_client() is not client


def test_client_closes_when_the_worker_loop_shuts_down() -> None:
    """As a uvicorn worker stops: asyncio.run() cancels what is left, and the client closes."""
    script = (
        "import asyncio, django, logging; django.setup(); "
        "logging.getLogger('{{ cookiecutter.project_slug }}.core.outbound').setLevel(logging.DEBUG); "
        "from {{ cookiecutter.project_slug }}.core.outbound import shared_client\n"
        "async def serve():\n"
        "    return shared_client()\n"
        "client = asyncio.run(serve())\n"
        "print('closed' if client.is_closed else 'open')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Logs go to stdout too (core/logging.py); the script's verdict is the last line.
    assert result.stdout.strip().splitlines()[-1] == "closed"
    assert "closed the shared outbound HTTP client" in result.stdout


async def test_client_is_bounded(settings: Settings) -> None:
    settings.OUTBOUND_HTTP_TIMEOUT = 1.5
    client = outbound.shared_client()
    assert client.timeout == httpx.Timeout(1.5)
    assert client.follow_redirects is False


# The circuit breaker, on a clock the test moves


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> State:
    """The state as of now (a call, so the type checker does not carry it over from the line before)."""
    return breaker.state


def fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(ConnectionError), breaker.attempt():
        raise ConnectionError


def succeed(breaker: CircuitBreaker) -> None:
    with breaker.attempt():
        pass


def test_breaker_opens_after_failures_in_a_row() -> None:
    breaker = CircuitBreaker("api", failure_threshold=3, cooldown=30, clock=Clock())
    fail(breaker)
    fail(breaker)
    succeed(breaker)  # a success resets the count
    fail(breaker)
    fail(breaker)
    assert state(breaker) is State.CLOSED
    fail(breaker)
    assert state(breaker) is State.OPEN
    with pytest.raises(CircuitOpenError) as refused:
        succeed(breaker)
    assert refused.value.retry_after == 30


def test_breaker_lets_one_probe_through_after_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker("api", failure_threshold=1, cooldown=30, clock=clock)
    fail(breaker)
    clock.now = 30
    assert state(breaker) is State.HALF_OPEN
    with breaker.attempt():
        with pytest.raises(CircuitOpenError):  # a second caller while the probe is out
            succeed(breaker)
    assert state(breaker) is State.CLOSED


def test_failed_probe_opens_the_breaker_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker("api", failure_threshold=5, cooldown=30, clock=clock)
    for _ in range(5):
        fail(breaker)
    clock.now = 31
    fail(breaker)  # the probe
    assert state(breaker) is State.OPEN
    clock.now = 60
    assert state(breaker) is State.OPEN
    clock.now = 61
    assert state(breaker) is State.HALF_OPEN


def test_errors_that_are_not_failures_count_neither_way() -> None:
    clock = Clock()
    breaker = CircuitBreaker(
        "api", failure_threshold=1, cooldown=30, clock=clock, is_failure=lambda e: isinstance(e, ConnectionError)
    )
    with pytest.raises(ValueError, match="bug"), breaker.attempt():
        raise ValueError("bug")
    assert state(breaker) is State.CLOSED
    fail(breaker)
    clock.now = 30
    with pytest.raises(asyncio.CancelledError), breaker.attempt():  # the probe's request was cancelled
        raise asyncio.CancelledError
    assert state(breaker) is State.HALF_OPEN
    succeed(breaker)  # the next caller may probe
    assert state(breaker) is State.CLOSED


# The link preview view, against a real web site


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
    [breaker] = outbound.breakers.values()
    assert state(breaker) is State.OPEN
    await asyncio.sleep(0.15)  # the cool-down, plus a margin
    response = await async_client.get("/link-preview", {"url": f"{upstream.url}/page"})
    assert response.status_code == HTTPStatus.OK
    assert state(breaker) is State.CLOSED


async def test_previews_are_rate_limited(
    async_client: AsyncClient, upstream: UpstreamServer, settings: Settings
) -> None:
    settings.LINK_PREVIEW_RATE_LIMIT = 2
    page = {"url": f"{upstream.url}/page"}
    statuses = [(await async_client.get("/link-preview", page)).status_code for _ in range(3)]
    assert statuses == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
    assert upstream.hits["/page"] == 2
