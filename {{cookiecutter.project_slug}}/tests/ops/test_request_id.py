"""Every request gets an id for its log lines: nginx's, or a fresh one."""

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncRequestFactory

from {{ cookiecutter.project_slug }}.ops.request_id import RequestIdMiddleware, request_id


async def ids_seen_by_the_view(headers: dict[str, str]) -> list[str | None]:
    seen = []

    async def view(request: HttpRequest) -> HttpResponse:
        seen.append(request_id.get())
        return HttpResponse()

    await RequestIdMiddleware(view)(AsyncRequestFactory().get("/", headers=headers))
    return seen


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
