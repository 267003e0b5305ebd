"""Outbound HTTP from async views: one pooled httpx client per event loop, a circuit breaker per origin.

A worker process runs one event loop, so in production this is one client per worker;
each client closes itself when its loop shuts down. ``vet()`` is the one check for a URL
a client chose: well formed, on an allow-listed host and port, and resolving to public
addresses only, the one then connected to.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import logging
import socket
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils.http import is_same_domain

from .breaker import CircuitBreaker

logger = logging.getLogger(__name__)

_clients: dict[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, asyncio.Task[None]]] = {}
# Per process, by origin ("https://api.example.com"), the least recently used first.
breakers: OrderedDict[str, CircuitBreaker] = OrderedDict()
MAX_BREAKERS = 256  # origins remembered; past that the least recently used one is forgotten
DEFAULT_PORTS = {"http": 80, "https": 443}


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


def breaker_for(origin: str) -> CircuitBreaker:
    if origin in breakers:
        breakers.move_to_end(origin)
        return breakers[origin]
    breakers[origin] = CircuitBreaker(
        origin,
        failure_threshold=settings.CIRCUIT_BREAKER_FAILURES,
        cooldown=settings.CIRCUIT_BREAKER_COOLDOWN,
        is_failure=_is_failure,
    )
    while len(breakers) > MAX_BREAKERS:
        breakers.popitem(last=False)
    return breakers[origin]


class RefusedURLError(Exception):
    """The URL may not be fetched; the message says why without describing the network."""


@dataclass(frozen=True)
class Destination:
    """A vetted URL: where to connect (an address that was checked), and what to call the host."""

    url: httpx.URL  # the checked address in place of the host name
    origin: str  # scheme://host:port as the URL named it: the breaker's key
    host: str  # for TLS: SNI and the certificate's name
    host_header: str  # host, and the port unless it is the scheme's default

    def request_options(self) -> dict[str, Any]:
        return {"headers": {"Host": self.host_header}, "extensions": {"sni_hostname": self.host}}


def split_port(pattern: str) -> tuple[str, str]:
    """'example.com:8443' -> ('example.com', '8443'); '[::1]:80' -> ('::1', '80'); no port: (name, '')."""
    name, sep, port = pattern.rpartition(":")
    if sep and port.isdigit() and (":" not in name or name.endswith("]")):
        return name.strip("[]"), port
    return pattern.strip("[]"), ""


def allowed(host: str, port: int, scheme: str, patterns: Sequence[str]) -> bool:
    """Whether an allow-list entry names this host and port: "example.com", ".example.com"
    (subdomains too) or "example.com:8443"; without a port, an entry allows the scheme's default."""
    for pattern in patterns:
        name, listed_port = split_port(pattern.lower())
        if port == (int(listed_port) if listed_port else DEFAULT_PORTS[scheme]) and is_same_domain(host, name):
            return True
    return False


async def vet(url: str, allowed_hosts: Sequence[str], *, private_addresses: bool = False) -> Destination:
    """Check a URL a client gave before fetching it (server-side request forgery).

    http or https without credentials; host and port on the allow-list (port-exact); every
    address the name resolves to public (not private, loopback, link-local or reserved),
    unless ``private_addresses``. The Destination connects to the checked address, so a
    name that resolves elsewhere a moment later is not followed. Raises RefusedURLError.
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port that is not a number, or given twice
        host = (parts.hostname or "").encode("idna").decode("ascii")  # UnicodeError if IDNA refuses it
    except (ValueError, UnicodeError):
        raise RefusedURLError("give a valid URL") from None
    if parts.scheme not in DEFAULT_PORTS or not host or parts.username is not None:
        raise RefusedURLError("give an http or https URL, without credentials")
    port = port or DEFAULT_PORTS[parts.scheme]
    if not allowed(host, port, parts.scheme, allowed_hosts):
        raise RefusedURLError(f"fetching from {host} is not allowed")
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise RefusedURLError(f"{host} could not be found") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in found]
    if not private_addresses and not all(address.is_global for address in addresses):
        raise RefusedURLError(f"fetching from {host} is not allowed")
    target = httpx.URL(url).copy_with(host=str(addresses[0]), port=port)
    host_header = host if port == DEFAULT_PORTS[parts.scheme] else f"{host}:{port}"
    return Destination(url=target, origin=f"{parts.scheme}://{host}:{port}", host=host, host_header=host_header)


@asynccontextmanager
async def stream(
    method: str, url: str | httpx.URL, *, origin: str = "", **kwargs: Any
) -> AsyncIterator[httpx.Response]:
    """A streamed request through its origin's breaker; read the body inside the block.

    Raises CircuitOpenError without calling while the origin is failing. Transport errors,
    timeouts and 5xx answers (raised as UpstreamError) count as the origin's failures.
    ``origin`` names the breaker when the URL holds an address instead of the host's name.
    """
    request_url = httpx.URL(url)
    origin = origin or f"{request_url.scheme}://{request_url.netloc.decode('ascii')}"
    with breaker_for(origin).attempt():
        async with shared_client().stream(method, request_url, **kwargs) as response:
            if response.is_server_error:
                raise UpstreamError(response)
            yield response


async def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A whole request through its origin's breaker (see stream())."""
    async with stream(method, url, **kwargs) as response:
        await response.aread()
    return response
