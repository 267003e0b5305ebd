"""Build the project's ASGI application either way, and drive it in-process like an ASGI server.

Django's test clients skip the ASGI handler; the request path under test *is* the handler,
so these tests call ``application(scope, receive, send)`` themselves.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from django.core.handlers.asgi import ASGIHandler
from django.dispatch import Signal

from config.fast_path.handler import PooledExecutorASGIHandler

type ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[Mapping[str, Any]]], Callable[[Mapping[str, Any]], Awaitable[None]]],
    Awaitable[None],
]

HOST = "testserver"
FORM_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')

PASSWORD = "correct horse battery staple"
WAIT = 10.0  # seconds, for conditions the tests poll

# How sync_to_async names the work it moves to the request's thread.
STARTED = "Signal.asend.<locals>.sync_send"  # request_started receivers
FINISHED = "HttpResponseBase.close"  # sends request_finished
VIEW = "View.as_view.<locals>.view"  # a synchronous (class-based) view
RENDER = "SimpleTemplateResponse.render"


def build(*, fast: bool) -> ASGIHandler:
    """The application config/asgi.py serves with ASGI_FAST_PATH on (fast) or off (stock)."""
    return PooledExecutorASGIHandler() if fast else ASGIHandler()


@dataclass
class Response:
    status: int | None  # None: the application sent no response (the client went away)
    headers: list[tuple[str, str]]
    chunks: list[bytes]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def text(self) -> str:
        return self.body.decode()

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def set_cookies(self) -> SimpleCookie:
        cookies: SimpleCookie = SimpleCookie()
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                cookies.load(value)
        return cookies


@dataclass
class Client:
    """An ASGI client with a cookie jar, like a browser talking to one application."""

    app: ASGIApp
    cookies: dict[str, str] = field(default_factory=dict)
    # The CSRF token of the last form a page rendered (with CSRF_USE_SESSIONS there is no cookie).
    form_token: str = ""

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        host: str = HOST,
        disconnect: asyncio.Event | None = None,
        send_hook: Callable[[Mapping[str, Any]], None] | None = None,
        chunk_size: int = 0,
    ) -> Response:
        """Send one request; ``disconnect`` set means the client hangs up; ``send_hook`` may raise.

        ``chunk_size`` sends the body in several ``http.request`` messages of that size, as a
        server does for a body that arrives in pieces.
        """
        path, _, query = path.partition("?")
        all_headers = [("host", host), *headers]
        if body:
            all_headers.append(("content-length", str(len(body))))
        if self.cookies:
            all_headers.append(("cookie", "; ".join(f"{name}={value}" for name, value in self.cookies.items())))
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in all_headers],
            "client": ("127.0.0.1", 50000),
            "server": (host, 80),
        }
        size = chunk_size or len(body) or 1
        pieces = [body[start : start + size] for start in range(0, len(body), size)] or [b""]
        gone = disconnect or asyncio.Event()
        response = Response(status=None, headers=[], chunks=[])

        async def receive() -> Mapping[str, Any]:
            if pieces:
                return {"type": "http.request", "body": pieces.pop(0), "more_body": bool(pieces)}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            if send_hook is not None:
                send_hook(message)
            if message["type"] == "http.response.start":
                response.status = message["status"]
                response.headers = [(key.decode("latin-1"), val.decode("latin-1")) for key, val in message["headers"]]
            elif message["type"] == "http.response.body" and message.get("body"):
                response.chunks.append(message["body"])

        await self.app(scope, receive, send)
        if form := FORM_TOKEN.search(b"".join(response.chunks)):
            self.form_token = form[1].decode()
        for name, morsel in response.set_cookies().items():
            if morsel.value and morsel["max-age"] != "0":
                self.cookies[name] = morsel.value
            else:
                self.cookies.pop(name, None)
        return response

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, data: Mapping[str, str], **kwargs: Any) -> Response:
        """A form POST; adds the CSRF token from the cookie jar unless ``data`` has one."""
        fields = {"csrfmiddlewaretoken": self.csrf_token(), **data}
        headers = [("content-type", "application/x-www-form-urlencoded"), *kwargs.pop("headers", ())]
        return await self.request("POST", path, body=urlencode(fields).encode(), headers=headers, **kwargs)

    def csrf_token(self) -> str:
        return self.cookies.get("csrftoken") or self.form_token

    async def upload(self, path: str, name: str, content: bytes, *, chunk_size: int = 0) -> Response:
        """A multipart POST of one file, with the CSRF token (``chunk_size``: see request())."""
        boundary = "----request-path-test"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'.encode()
            + self.csrf_token().encode()
            + b"\r\n",
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'.encode()
            + b"Content-Type: application/octet-stream\r\n\r\n"
            + content
            + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        headers = [("content-type", f"multipart/form-data; boundary={boundary}")]
        return await self.request("POST", path, body=b"".join(parts), headers=headers, chunk_size=chunk_size)


async def eventually(condition: Callable[[], object]) -> None:
    """Wait, without blocking the loop, until ``condition()`` is true (at most WAIT seconds)."""
    async with asyncio.timeout(WAIT):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def until(event: threading.Event) -> None:
    """Wait, without blocking the loop, until a view sets ``event``."""
    assert await asyncio.to_thread(event.wait, WAIT), "the view never got there"


@contextmanager
def receiving(signal: Signal, *receivers: Callable[..., None]) -> Iterator[None]:
    """``receivers`` connected to ``signal`` for the block, and disconnected after it, whatever happens."""
    for receiver in receivers:
        signal.connect(receiver)
    try:
        yield
    finally:
        for receiver in receivers:
            signal.disconnect(receiver)
