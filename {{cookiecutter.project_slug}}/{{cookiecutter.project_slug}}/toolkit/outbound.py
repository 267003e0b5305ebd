"""Outbound HTTP from async views: one pooled httpx client per event loop, a circuit breaker per origin.

A worker process runs one event loop, so in production this is one client per worker;
each client closes itself when its loop shuts down.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from django.conf import settings

from .breaker import CircuitBreaker

logger = logging.getLogger(__name__)

_clients: dict[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, asyncio.Task[None]]] = {}
# Per process, by origin ("https://api.example.com").
breakers: dict[str, CircuitBreaker] = {}


class UpstreamError(Exception):
    """The dependency answered with a server error (5xx)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url} answered {response.status_code}")
        self.status_code = response.status_code


def shared_client() -> httpx.AsyncClient:
    """This event loop's client: created on first use, closed when the loop shuts down."""
    loop = asyncio.get_running_loop()
    if loop in _clients:
        return _clients[loop][0]
    limit = settings.OUTBOUND_HTTP_MAX_CONNECTIONS
    client = httpx.AsyncClient(
        # Each phase (connect, read, write, waiting for a pooled connection) gets this long;
        # bound the whole call with TimeoutMixin or asyncio.timeout().
        timeout=httpx.Timeout(settings.OUTBOUND_HTTP_TIMEOUT),
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        # A redirect could leave the host the caller checked; callers follow them deliberately.
        follow_redirects=False,
    )
    # Started eagerly, so it is inside its try block before anything can cancel it; with an
    # empty context, so it does not keep the creating request's context alive.
    closer = asyncio.Task(_close_at_shutdown(loop, client), loop=loop, context=contextvars.Context(), eager_start=True)
    _clients[loop] = (client, closer)
    return client


async def _close_at_shutdown(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
    try:
        await loop.create_future()  # never resolves: waits for cancellation at loop shutdown
    finally:
        _clients.pop(loop, None)
        await client.aclose()
        logger.debug("closed the shared outbound HTTP client")


async def aclose_shared_clients() -> None:
    """Close this event loop's shared client now (tests, scripts, an ASGI lifespan shutdown)."""
    entry = _clients.get(asyncio.get_running_loop())
    if entry is not None:
        _, closer = entry
        closer.cancel()
        await asyncio.gather(closer, return_exceptions=True)


def _is_failure(error: BaseException) -> bool:
    # Waiting for one of our own pooled connections says nothing about the dependency.
    if isinstance(error, httpx.PoolTimeout):
        return False
    return isinstance(error, httpx.TransportError | UpstreamError)


def breaker_for(url: httpx.URL) -> CircuitBreaker:
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
    if origin not in breakers:
        breakers[origin] = CircuitBreaker(
            origin,
            failure_threshold=settings.CIRCUIT_BREAKER_FAILURES,
            cooldown=settings.CIRCUIT_BREAKER_COOLDOWN,
            is_failure=_is_failure,
        )
    return breakers[origin]


@asynccontextmanager
async def stream(method: str, url: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
    """A streamed request through its origin's breaker; read the body inside the block.

    Raises CircuitOpenError without calling while the origin is failing. Transport errors,
    timeouts and 5xx answers (raised as UpstreamError) count as the origin's failures.
    """
    request_url = httpx.URL(url)
    with breaker_for(request_url).attempt():
        async with shared_client().stream(method, request_url, **kwargs) as response:
            if response.is_server_error:
                raise UpstreamError(response)
            yield response


async def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A whole request through its origin's breaker (see stream())."""
    async with stream(method, url, **kwargs) as response:
        await response.aread()
    return response
