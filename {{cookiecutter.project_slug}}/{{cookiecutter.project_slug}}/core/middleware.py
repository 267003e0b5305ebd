"""Project middleware. All of it is async-only, so it adds no thread hop under ASGI."""

from collections.abc import Awaitable, Callable
from typing import cast

from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import async_only_middleware

from .views import HealthzView, ReadyzView

type AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

HEALTH_VIEWS: dict[str, AsyncHandler] = {
    "/healthz": cast(AsyncHandler, HealthzView.as_view()),
    "/readyz": cast(AsyncHandler, ReadyzView.as_view()),
}


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
