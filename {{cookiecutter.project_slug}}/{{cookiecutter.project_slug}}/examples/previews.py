"""Link previews: the title of a web page, fetched only from allow-listed hosts and ports, public addresses only."""

from __future__ import annotations

import logging
import zlib
from html.parser import HTMLParser
from http import HTTPStatus

import httpx

from ..toolkit import outbound
from ..toolkit.breaker import CircuitOpenError

logger = logging.getLogger(__name__)

MAX_PAGE_BYTES = 512 * 1024  # bytes of a page read at most, once decoded; titles sit near the top
MAX_TITLE_CHARS = 300
# Content-Encoding -> zlib's wbits to inflate it (0: as it is).
INFLATE_WBITS = {"identity": 0, "gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class PreviewError(Exception):
    """A preview that could not be made, with the status to answer and a message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _TitleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_title = False
        self.done = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self.done:
            self.in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.in_title:
            self.in_title, self.done = False, True

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.parts.append(data)


def extract_title(html: str) -> str | None:
    """The first <title>, whitespace collapsed, or None."""
    parser = _TitleParser()
    parser.feed(html)
    parser.close()
    title = " ".join("".join(parser.parts).split())
    return title[:MAX_TITLE_CHARS] or None


async def read_at_most(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body, decoded: a compressed answer is inflated only that far.

    The request asks for identity encoding, but a server may compress anyway; httpx would
    inflate each network chunk whole before a limit could apply (a few KiB of gzip can
    become hundreds of MiB), so the raw bytes are inflated here, bounded.
    """
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in INFLATE_WBITS:
        raise PreviewError(HTTPStatus.BAD_GATEWAY, "the page is compressed in a way previews do not read")
    inflater = zlib.decompressobj(INFLATE_WBITS[encoding]) if INFLATE_WBITS[encoding] else None
    body = bytearray()
    async for chunk in response.aiter_raw():
        try:
            body += inflater.decompress(chunk, limit - len(body)) if inflater else chunk[: limit - len(body)]
        except zlib.error as error:
            raise PreviewError(HTTPStatus.BAD_GATEWAY, "the page could not be read") from error
        if len(body) >= limit:
            break
    return bytes(body)


async def fetch_title(url: str, allowed_hosts: list[str], *, private_addresses: bool = False) -> str | None:
    """The page's title; raises PreviewError saying why there is none."""
    try:
        destination = await outbound.vet(url, allowed_hosts, private_addresses=private_addresses)
    except outbound.RefusedURLError as refused:
        raise PreviewError(HTTPStatus.BAD_REQUEST, str(refused)) from None
    options = destination.request_options()
    options["headers"] |= {"Accept": "text/html", "Accept-Encoding": "identity"}
    try:
        async with outbound.stream("GET", destination.url, origin=destination.origin, **options) as response:
            # Any answer but a 5xx is a success for the circuit breaker: the site is up.
            is_html = "html" in response.headers.get("Content-Type", "")
            ok = response.status_code == HTTPStatus.OK
            body = await read_at_most(response, MAX_PAGE_BYTES) if ok and is_html else b""
    except CircuitOpenError as error:
        raise PreviewError(HTTPStatus.SERVICE_UNAVAILABLE, "the site is failing; try again later") from error
    except httpx.TimeoutException as error:
        raise PreviewError(HTTPStatus.GATEWAY_TIMEOUT, "the page took too long to answer") from error
    except (httpx.TransportError, outbound.UpstreamError) as error:
        # One message for a refused connection, a reset or a TLS failure: what failed is logged, not told.
        logger.info("preview of %s failed: %r", destination.origin, error)
        raise PreviewError(HTTPStatus.BAD_GATEWAY, "the page could not be fetched") from error
    if not ok:
        raise PreviewError(HTTPStatus.BAD_GATEWAY, f"the page answered {response.status_code}")
    if not is_html:
        raise PreviewError(HTTPStatus.BAD_GATEWAY, "the page is not HTML")
    return extract_title(body.decode(response.encoding or "utf-8", errors="replace"))
