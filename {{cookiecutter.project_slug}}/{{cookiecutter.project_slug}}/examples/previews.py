"""Link previews: the title of a web page, fetched only from allow-listed hosts."""

from __future__ import annotations

from html.parser import HTMLParser
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx
from django.utils.http import is_same_domain

from ..toolkit import outbound
from ..toolkit.breaker import CircuitOpenError

MAX_PAGE_BYTES = 512 * 1024  # bytes read from a page at most; titles sit near the top
MAX_TITLE_CHARS = 300


class PreviewError(Exception):
    """A preview that could not be made, with the status to answer and a message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_url(url: str, allowed_hosts: list[str]) -> None:
    """Refuse URLs that are not http(s) on an allow-listed host (".example.com" allows subdomains).

    Fetching any URL a client names would let it reach internal services through this
    server (server-side request forgery): hosts must be listed in LINK_PREVIEW_ALLOWED_HOSTS.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username is not None:
        raise PreviewError(HTTPStatus.BAD_REQUEST, "give an http or https URL, without credentials")
    if not any(is_same_domain(parts.hostname, pattern.lower()) for pattern in allowed_hosts):
        raise PreviewError(HTTPStatus.BAD_REQUEST, f"previews of {parts.hostname} are not allowed")


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
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


async def fetch_title(url: str, allowed_hosts: list[str]) -> str | None:
    """The page's title; raises PreviewError saying why there is none."""
    check_url(url, allowed_hosts)
    try:
        # identity: a compressed page could inflate far beyond MAX_PAGE_BYTES in one chunk.
        headers = {"Accept": "text/html", "Accept-Encoding": "identity"}
        async with outbound.stream("GET", url, headers=headers) as response:
            # Any answer but a 5xx is a success for the circuit breaker: the site is up.
            is_html = "html" in response.headers.get("Content-Type", "")
            ok = response.status_code == HTTPStatus.OK
            body = await read_at_most(response, MAX_PAGE_BYTES) if ok and is_html else b""
    except CircuitOpenError as error:
        raise PreviewError(HTTPStatus.SERVICE_UNAVAILABLE, "the site is failing; try again later") from error
    except httpx.TimeoutException as error:
        raise PreviewError(HTTPStatus.GATEWAY_TIMEOUT, "the page took too long to answer") from error
    except (httpx.TransportError, outbound.UpstreamError) as error:
        raise PreviewError(HTTPStatus.BAD_GATEWAY, "the page could not be fetched") from error
    if not ok:
        raise PreviewError(HTTPStatus.BAD_GATEWAY, f"the page answered {response.status_code}")
    if not is_html:
        raise PreviewError(HTTPStatus.BAD_GATEWAY, "the page is not HTML")
    return extract_title(body.decode(response.encoding or "utf-8", errors="replace"))
