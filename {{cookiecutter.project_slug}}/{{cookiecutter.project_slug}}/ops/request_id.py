"""Request ids: the id nginx gave a request (``X-Request-ID``), on everything logged while it runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.utils.decorators import async_only_middleware

if TYPE_CHECKING:  # config/logs.py imports this module in gunicorn's master: keep it light
    from django.http import HttpRequest, HttpResponseBase

type AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

# Set per request by RequestIdMiddleware, read by config/logs.py. Each request runs in an
# asyncio task of its own, whose copy of the context ends with it.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# nginx's $request_id is 32 hex digits; anything else from outside is replaced, so a
# header cannot inject text into log lines.
REQUEST_ID = re.compile(r"[0-9A-Za-z._-]{1,64}")


@async_only_middleware
def RequestIdMiddleware(get_response: AsyncHandler) -> AsyncHandler:  # noqa: N802 - named like a class in MIDDLEWARE
    """Tag the request's log records with nginx's X-Request-ID, or a fresh id without nginx."""

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get("X-Request-ID", "")
        # Not reset afterwards: the server's access line, logged after this returns, carries it too.
        request_id.set(incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex)
        return await get_response(request)

    return middleware
