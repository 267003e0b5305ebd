"""A deadline for async views: 504 when the handler runs too long, its work cancelled."""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .base import AsyncViewBase, PendingResponse

logger = logging.getLogger(__name__)


class TimeoutMixin(AsyncViewBase):
    """Answer 504 when the handler runs longer than `timeout` seconds, cancelling its work."""

    timeout: float = 10.0  # seconds

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        # Cancellation stops the coroutine at its current await. A call already handed to a
        # thread (sync_to_async, the ORM) runs to its end there; the database's
        # statement_timeout bounds those.
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                return await cast(PendingResponse, super().dispatch(request, *args, **kwargs))
        except TimeoutError:
            if not deadline.expired():  # raised by the handler itself, not by our deadline
                raise
            logger.warning("%s %s timed out after %ss", request.method, request.path, self.timeout)
            return HttpResponse(
                f"The server did not finish within {self.timeout:g} seconds.",
                status=HTTPStatus.GATEWAY_TIMEOUT,
                content_type="text/plain; charset=utf-8",
            )
