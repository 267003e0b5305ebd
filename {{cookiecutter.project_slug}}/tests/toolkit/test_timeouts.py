"""TimeoutMixin: a slow handler gets 504 and its work is cancelled, not left running."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import AsyncClient

from tests.support.toolkit_urls import SlowPage

pytestmark = pytest.mark.urls("tests.support.toolkit_urls")


async def test_slow_handler_answers_504_and_is_cancelled(async_client: AsyncClient) -> None:
    SlowPage.events.clear()
    response = await async_client.get("/slow")
    assert response.status_code == HTTPStatus.GATEWAY_TIMEOUT
    assert response.content == b"The server did not finish within 0.2 seconds."
    assert SlowPage.events == ["started", "cancelled"]


async def test_quick_handler_is_untouched(async_client: AsyncClient) -> None:
    response = await async_client.get("/quick")
    assert response.status_code == HTTPStatus.OK


async def test_a_timeout_inside_the_handler_is_not_a_504(async_client: AsyncClient) -> None:
    """Only the mixin's own deadline becomes a 504; the handler's TimeoutError is a bug to see."""
    with pytest.raises(TimeoutError):
        await async_client.get("/own-timeout")
