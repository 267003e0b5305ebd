"""Log records carry the request id; production writes them as JSON lines."""

import json
import logging
import sys
from collections.abc import Iterator

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncRequestFactory

from {{ cookiecutter.project_slug }}.core.logging import JsonFormatter, RequestIdFilter, request_id
from {{ cookiecutter.project_slug }}.core.middleware import RequestIdMiddleware


@pytest.fixture
def no_request_id() -> Iterator[None]:
    token = request_id.set(None)
    yield
    request_id.reset(token)


def log_line(message: str, *args: object) -> str:
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, message, args, None)
    RequestIdFilter().filter(record)
    return JsonFormatter().format(record)


async def ids_seen_by_the_view(headers: dict[str, str]) -> list[str | None]:
    seen = []

    async def view(request: HttpRequest) -> HttpResponse:
        seen.append(request_id.get())
        return HttpResponse()

    await RequestIdMiddleware(view)(AsyncRequestFactory().get("/", headers=headers))
    return seen


@pytest.mark.usefixtures("no_request_id")
def test_json_log_line() -> None:
    entry = json.loads(log_line("%s uploads", 3))
    assert entry["message"] == "3 uploads"
    assert (entry["level"], entry["logger"], entry["request_id"]) == ("WARNING", "app", None)
    assert entry["time"].endswith("+00:00")


@pytest.mark.usefixtures("no_request_id")
def test_json_log_line_carries_the_request_id() -> None:
    request_id.set("0123456789abcdef0123456789abcdef")
    assert json.loads(log_line("hello"))["request_id"] == "0123456789abcdef0123456789abcdef"


@pytest.mark.usefixtures("no_request_id")
def test_json_log_line_includes_the_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]


@pytest.mark.usefixtures("no_request_id")
async def test_request_id_comes_from_nginx() -> None:
    assert await ids_seen_by_the_view({"X-Request-ID": "0123456789abcdef0123456789abcdef"}) == [
        "0123456789abcdef0123456789abcdef"
    ]


@pytest.mark.usefixtures("no_request_id")
async def test_request_id_is_made_up_without_nginx() -> None:
    [made_up] = await ids_seen_by_the_view({})
    assert made_up is not None
    assert len(made_up) == 32


@pytest.mark.usefixtures("no_request_id")
async def test_malformed_request_id_is_replaced() -> None:
    """A header cannot write arbitrary text into log lines."""
    [seen] = await ids_seen_by_the_view({"X-Request-ID": 'x" injected\nline'})
    assert seen is not None
    assert "injected" not in seen
