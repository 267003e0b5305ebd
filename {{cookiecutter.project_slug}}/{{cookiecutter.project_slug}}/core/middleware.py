"""Project middleware. All of it is async-only, so it adds no thread hop under ASGI."""

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import async_only_middleware

from .logging import request_id
from .views import HealthzView, ReadyzView

type AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

HEALTH_VIEWS: dict[str, AsyncHandler] = {
    "/healthz": cast(AsyncHandler, HealthzView.as_view()),
    "/readyz": cast(AsyncHandler, ReadyzView.as_view()),
}
# nginx's $request_id is 32 hex digits; anything else from outside is replaced, so a
# header cannot inject text into log lines.
REQUEST_ID = re.compile(r"[0-9A-Za-z._-]{1,64}")


@async_only_middleware
def RequestIdMiddleware(get_response: AsyncHandler) -> AsyncHandler:  # noqa: N802 - named like a class in MIDDLEWARE
    """Tag everything logged during a request with the id nginx gave it (X-Request-ID).

    Without nginx in front (development), each request gets a fresh id.
    """

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get("X-Request-ID", "")
        # Not reset afterwards: the server's access log line, written after this
        # returns, must carry it too; the request's task (and its context) ends there.
        request_id.set(incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex)
        return await get_response(request)

    return middleware


@async_only_middleware
def HealthCheckMiddleware(get_response: AsyncHandler) -> AsyncHandler:  # noqa: N802 - named like a class in MIDDLEWARE
    """Answer health checks before host validation and the HTTPS redirect.

    Probes from load balancers and container engines reach the app by IP address over
    plain HTTP; the health endpoints must answer them, and reveal nothing but status.
    """

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        view = HEALTH_VIEWS.get(request.path_info)
        if view is not None:
            return await view(request)
        return await get_response(request)

    return middleware
