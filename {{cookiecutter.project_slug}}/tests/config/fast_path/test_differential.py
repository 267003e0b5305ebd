"""The differential test: the same requests through stock Django and the fast path.

``stock`` is Django's ASGIHandler with Django's middleware; ``fast`` is
config.asgi_handler's handler with config/middleware.py's adapters: exactly what
``ASGI_FAST_PATH`` switches between. A client sees the same statuses, headers, cookies
and bodies from both.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support import asgi_urls as urls
from tests.support.asgi import PASSWORD, Client, Response, build, until

# Headers that carry the current time (never_cache sets Expires to now).
DATED_HEADERS = {"date", "expires", "last-modified"}
FORM = "application/x-www-form-urlencoded"
# The CSRF token in a rendered form is masked with a fresh random value every time.
FORM_TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"')
# The Content-Security-Policy nonce is fresh for every response, in the header and the page.
CSP_NONCE = re.compile(r"nonce-[A-Za-z0-9+/_=-]+|nonce=\"[^\"]+\"")

type Step = Callable[[Client], Awaitable[Response]]


async def disconnect_mid_request(client: Client) -> Response:
    gone = asyncio.Event()
    request = asyncio.create_task(client.get("/t/slow/", disconnect=gone))
    await until(urls.probe.started)
    gone.set()
    response = await request
    assert urls.probe.cancelled.is_set(), "the view was not cancelled"
    return response


CORPUS: list[tuple[str, HTTPStatus | None, Step]] = [
    ("plain page", HTTPStatus.OK, lambda c: c.get("/")),
    ("APPEND_SLASH redirect", HTTPStatus.MOVED_PERMANENTLY, lambda c: c.get("/accounts/login")),
    ("404", HTTPStatus.NOT_FOUND, lambda c: c.get("/nowhere/")),
    ("bad Host", HTTPStatus.BAD_REQUEST, lambda c: c.get("/", host="evil.example.com")),
    ("sync view", HTTPStatus.OK, lambda c: c.get("/t/sync/")),
    ("login page", HTTPStatus.OK, lambda c: c.get("/accounts/login/")),
    (
        "log in",
        HTTPStatus.FOUND,
        lambda c: c.post(
            "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD, "next": "/t/whoami/"}
        ),
    ),
    ("request.auser() logged in", HTTPStatus.OK, lambda c: c.get("/t/whoami/")),
    ("session set", HTTPStatus.OK, lambda c: c.get("/t/session/set/?colour=teal")),
    ("session read", HTTPStatus.OK, lambda c: c.get("/t/session/get/")),
    ("message add", HTTPStatus.OK, lambda c: c.get("/t/messages/add/")),
    ("message read, cookie deleted", HTTPStatus.OK, lambda c: c.get("/t/messages/read/")),
    ("message read again", HTTPStatus.OK, lambda c: c.get("/t/messages/read/")),
    # A form (the header's sign-out) rendered after the login rotated the token (with
    # CSRF_USE_SESSIONS, the only copy).
    ("a form for a fresh CSRF token", HTTPStatus.OK, lambda c: c.get("/")),
    (
        "POST without CSRF token",
        HTTPStatus.FORBIDDEN,
        lambda c: c.request("POST", "/t/form/", body=b"x=1", headers=[("content-type", FORM)]),
    ),
    ("POST with CSRF token", HTTPStatus.OK, lambda c: c.post("/t/form/", {"x": "1"})),
    ("upload", HTTPStatus.OK, lambda c: c.upload("/t/upload/", "notes.txt", b"hello\n" * 1000)),
    (
        "upload in several ASGI messages",
        HTTPStatus.OK,
        lambda c: c.upload("/t/upload/", "pieces.txt", b"piece\n" * 1000, chunk_size=1000),
    ),
    ("HEAD", HTTPStatus.OK, lambda c: c.request("HEAD", "/")),
    ("unhandled exception", HTTPStatus.INTERNAL_SERVER_ERROR, lambda c: c.get("/t/broken/")),
    ("async ORM view", HTTPStatus.OK, lambda c: c.get("/t/users/")),
    ("streaming response", HTTPStatus.OK, lambda c: c.get("/t/stream/")),
    ("client disconnects mid-request", None, disconnect_mid_request),
    ("log out", HTTPStatus.FOUND, lambda c: c.post("/accounts/logout/", {"next": "/t/whoami/"})),
    ("request.auser() logged out", HTTPStatus.OK, lambda c: c.get("/t/whoami/")),
]


def comparable(response: Response) -> dict[str, Any]:
    """What a client sees, minus the values that are random on every run (tokens, cookie values, dates)."""
    cookies = {}
    for name, morsel in response.set_cookies().items():
        attributes = {key: value for key, value in morsel.items() if value}
        if "expires" in attributes and "1970" not in attributes["expires"]:
            attributes["expires"] = "<date>"
        cookies[name] = {"value": "<value>" if morsel.value else "", **attributes}
    return {
        "status": response.status,
        "headers": [
            (name, "<date>" if name in DATED_HEADERS else CSP_NONCE.sub("<nonce>", value))
            for name, value in ((name.lower(), value) for name, value in response.headers)
            if name != "set-cookie"
        ],
        "cookies": cookies,
        "chunks": [CSP_NONCE.sub("<nonce>", FORM_TOKEN.sub(r"\1<token>", chunk.decode())) for chunk in response.chunks],
    }


async def run_corpus(app: ASGIHandler) -> dict[str, dict[str, Any]]:
    """Every step of CORPUS in order, with one client (one cookie jar): what it saw at each step."""
    client = Client(app)
    transcript = {}
    for name, _, step in CORPUS:
        urls.probe = urls.Probe()
        transcript[name] = comparable(await step(client))
    return transcript


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "setting", ["defaults", "CSRF_USE_SESSIONS", "SESSION_SAVE_EVERY_REQUEST"], ids=lambda setting: setting
)
async def test_fast_path_answers_exactly_like_stock_django(
    alice: User, probe: urls.Probe, settings: Settings, setting: str
) -> None:
    """The same requests through both paths: same statuses, headers, cookies and bodies.

    Also with the two settings that move middleware hooks to the request's thread.
    """
    if setting != "defaults":
        setattr(settings, setting, True)
    stock = await run_corpus(build(fast=False))
    fast = await run_corpus(build(fast=True))

    for name, _, _ in CORPUS:
        assert (name, fast[name]) == (name, stock[name])
    # The corpus does what it claims.
    assert [stock[name]["status"] for name, _, _ in CORPUS] == [status for _, status, _ in CORPUS]
    bodies = {name: "".join(step["chunks"]) for name, step in fast.items()}
    assert bodies["request.auser() logged in"] == "user=alice"
    assert bodies["request.auser() logged out"] == "user=-"
    assert bodies["session read"] == "colour=teal"
    # allauth's greeting from the login, then the view's own.
    greeting = "Successfully signed in as {% if cookiecutter.username_type == "email" %}alice@example.com{% else %}alice{% endif %}."
    assert bodies["message read, cookie deleted"] == f"messages={greeting},Saved."
    assert fast["message read, cookie deleted"]["cookies"]["messages"]["value"] == ""
    assert bodies["message read again"] == "messages="
    assert bodies["upload"].startswith("notes.txt 6000 ")
    assert bodies["upload in several ASGI messages"].startswith("pieces.txt 6000 ")
    assert bodies["async ORM view"] == '{"users": ["alice"]}'
    assert fast["streaming response"]["chunks"] == ["chunk 0\n", "chunk 1\n", "chunk 2\n"]
