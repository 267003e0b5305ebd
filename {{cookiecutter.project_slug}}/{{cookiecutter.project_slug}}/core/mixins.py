"""Mixins for async class-based views: list them before ``View``, outermost first.

    class LinkPreviewView(RateLimitMixin, TimeoutMixin, View):
        async def get(self, request): ...

Each wraps ``dispatch`` with ``async def``, so they work only on views whose handlers are
all ``async def`` (Django's rule for async views anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from django.views import View

from . import response_cache
from .ratelimit import CounterUnavailableError, client_identity, hit

if TYPE_CHECKING:
    # django-stubs types View.dispatch as synchronous; the mixins override it with an
    # async def (hence the ignore[override] below) and await the next dispatch in line.
    _AsyncViewBase = View
else:
    _AsyncViewBase = object

logger = logging.getLogger(__name__)

type Response = Awaitable[HttpResponseBase]


def text_response(message: str, status: HTTPStatus, **headers: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8", headers=headers)


class CachedResponseMixin(_AsyncViewBase):
    """Serve GET and HEAD from the cache: one copy per URL and Vary, and per user if `cache_per_user`."""

    cache_timeout: int = 60  # seconds; a max-age on the response takes precedence
    # Personal pages set this: the key then includes the user (from request.auser()).
    cache_per_user: bool = False
    # Writes call `await response_cache.ainvalidate(namespace[, user])`. Default: the class name.
    cache_namespace: str = ""
    cache_alias: str = "default"

    def get_cache_namespace(self) -> str:
        return self.cache_namespace or type(self).__name__

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        if request.method not in {"GET", "HEAD"}:
            return await cast(Response, super().dispatch(request, *args, **kwargs))
        user = await request.auser() if self.cache_per_user else None
        namespace, user_key = self.get_cache_namespace(), response_cache.user_key(user)
        prefix, cached = await sync_to_async(response_cache.lookup)(request, namespace, user_key, self.cache_alias)
        if cached is not None:
            return cached
        response = await cast(Response, super().dispatch(request, *args, **kwargs))
        if prefix is None:  # the cache is unreachable: serve the page, store nothing
            return response
        store = partial(
            response_cache.store, request, prefix=prefix, default_timeout=self.cache_timeout, alias=self.cache_alias
        )
        if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
            # Django renders it later, in a thread; store it then, as cache_page does.
            response.add_post_render_callback(store)
        else:
            await sync_to_async(store)(response)
        return response


class RateLimitMixin(_AsyncViewBase):
    """Answer 429 with Retry-After once a user (or an IP) passes `rate_limit` requests per `rate_window` seconds."""

    rate_limit: int = 60
    rate_window: int = 60  # seconds
    # None counts every method; uploads would count only frozenset({"POST"}).
    rate_limit_methods: frozenset[str] | None = None
    # None follows settings.RATELIMIT_FAIL_OPEN: what to do when Redis is unreachable.
    rate_limit_fail_open: bool | None = None
    # Views with the same scope share their counters. Default: the class name.
    rate_limit_scope: str = ""

    def get_rate_limit(self) -> int:
        return self.rate_limit

    async def get_rate_limit_identity(self, request: HttpRequest) -> str:
        return await client_identity(request)

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        if self.rate_limit_methods is None or request.method in self.rate_limit_methods:
            refusal = await self.check_rate_limit(request)
            if refusal is not None:
                return refusal
        return await cast(Response, super().dispatch(request, *args, **kwargs))

    async def check_rate_limit(self, request: HttpRequest) -> HttpResponse | None:
        """Count this request; return the response that refuses it, or None to let it through."""
        scope = self.rate_limit_scope or type(self).__name__
        identity = await self.get_rate_limit_identity(request)
        try:
            verdict = await hit(scope, identity, limit=self.get_rate_limit(), window=self.rate_window)
        except CounterUnavailableError as error:
            fail_open = settings.RATELIMIT_FAIL_OPEN if self.rate_limit_fail_open is None else self.rate_limit_fail_open
            action = "allowing" if fail_open else "refusing"
            logger.warning("rate limit %s not counted (%s); %s the request", scope, error, action)
            if fail_open:
                return None
            return text_response(
                "Service temporarily unavailable; try again shortly.",
                HTTPStatus.SERVICE_UNAVAILABLE,
                **{"Retry-After": str(self.rate_window)},
            )
        if verdict.allowed:
            return None
        return text_response(
            f"Too many requests; try again in {verdict.retry_after} seconds.",
            HTTPStatus.TOO_MANY_REQUESTS,
            **{"Retry-After": str(verdict.retry_after)},
        )


class TimeoutMixin(_AsyncViewBase):
    """Answer 504 when the handler runs longer than `timeout` seconds, cancelling its work."""

    timeout: float = 10.0  # seconds

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        # Cancellation stops the coroutine at its current await. A call already handed to a
        # thread (sync_to_async, the ORM) runs to its end there; the database's
        # statement_timeout bounds those.
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                return await cast(Response, super().dispatch(request, *args, **kwargs))
        except TimeoutError:
            if not deadline.expired():  # raised by the handler itself, not by our deadline
                raise
            logger.warning("%s %s timed out after %ss", request.method, request.path, self.timeout)
            return text_response(
                f"The server did not finish within {self.timeout:g} seconds.", HTTPStatus.GATEWAY_TIMEOUT
            )
