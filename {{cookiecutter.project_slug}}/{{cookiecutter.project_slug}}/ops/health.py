"""Health checks: ``/healthz`` (the process serves) and ``/readyz`` (its database and cache answer)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import cast

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.decorators import async_only_middleware
from django.views import View

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0  # seconds, per check
OK = "ok"


class CheckError(Exception):
    pass


def ping_databases() -> None:
    for connection in connections.all(initialized_only=False):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")


def ping_cache() -> None:
    # The cache fails soft (errors read as misses): prove a round trip instead.
    key = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(key, OK, timeout=10)
        try:
            if cache.get(key) != OK:
                raise CheckError("the cache did not return the value just written")
        finally:
            cache.delete(key)
    finally:
        # Without Redis the cache is a database table, reached from this pool thread:
        # give back the connection it opened here (only this thread's are closed).
        connections.close_all()


async def run_check(name: str, check: Callable[[], None], *, thread_sensitive: bool) -> str:
    """Run one blocking check in a thread, bounded by CHECK_TIMEOUT; return its state."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await sync_to_async(check, thread_sensitive=thread_sensitive)()
    except TimeoutError:
        logger.warning("readiness check %s timed out after %.1fs", name, CHECK_TIMEOUT)
        return "timeout"
    except Exception:
        logger.warning("readiness check %s failed", name, exc_info=True)
        return "error"
    return OK


async def readiness() -> dict[str, str]:
    """The database and the cache, checked at the same time.

    The database check runs in the request's thread, where Django keeps (and closes) its
    connection; the thread-safe cache client is checked in another thread meanwhile.
    """
    database, cache_state = await asyncio.gather(
        run_check("database", ping_databases, thread_sensitive=True),
        run_check("cache", ping_cache, thread_sensitive=False),
    )
    return {"database": database, "cache": cache_state}


class HealthzView(View):
    """Liveness: the process is up and serving. Does no I/O."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"status": OK})


class ReadyzView(View):
    """Readiness: 200 when the database and the cache answer, 503 naming what failed."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        checks = await readiness()
        failed = sorted(name for name, state in checks.items() if state != OK)
        if failed:
            body = {"status": "unavailable", "failed": failed, **checks}
            return JsonResponse(body, status=HTTPStatus.SERVICE_UNAVAILABLE)
        return JsonResponse({"status": OK, **checks})


type AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

HEALTH_VIEWS: dict[str, AsyncHandler] = {
    "/healthz": cast(AsyncHandler, HealthzView.as_view()),
    "/readyz": cast(AsyncHandler, ReadyzView.as_view()),
}


@async_only_middleware
def HealthCheckMiddleware(get_response: AsyncHandler) -> AsyncHandler:  # noqa: N802 - named like a class in MIDDLEWARE
    """Answer health checks before host validation and the HTTPS redirect.

    Load balancers and container engines probe by IP address over plain HTTP; the
    answers reveal nothing but status.
    """

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        view = HEALTH_VIEWS.get(request.path_info)
        if view is not None:
            return await view(request)
        return await get_response(request)

    return middleware
