"""Fixed-window request counters in the cache: exact under concurrency, and honest when Redis is down.

A window starts with a client's first request and lasts ``window`` seconds. In Redis the
count is one MULTI/EXEC round trip; in the database cache, ``add`` and ``incr`` in one
locked transaction; in another cache, its own ``add`` and ``incr`` (exact per process).
"""

from __future__ import annotations

import logging
import math
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from redis import Redis
from redis.exceptions import RedisError

from .base import AsyncViewBase, PendingResponse

logger = logging.getLogger(__name__)


class CounterUnavailableError(Exception):
    """The cache holding the counters could not be reached."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int  # requests seen in this window, this one included
    retry_after: int  # seconds until the window ends


async def client_identity(request: HttpRequest) -> str:
    """Whom to count: the signed-in user, else the client's IP address.

    REMOTE_ADDR is the client's address: gunicorn's uvicorn workers rewrite it from
    X-Forwarded-For, but only for requests from ``forwarded_allow_ips`` (the proxy), so
    a client cannot pick its own bucket by sending that header.
    """
    user = await request.auser()
    if user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', 'unknown')}"


def _count_in_redis(client: Redis, key: str, window: int) -> tuple[int, int]:
    with client.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.pttl(key)
        _, count, milliseconds = pipe.execute()
    return int(count), math.ceil(milliseconds / 1000) if milliseconds > 0 else window


def _count_in_cache(cache: BaseCache, key: str, window: int) -> tuple[int, int]:
    # add() is a no-op when another request created the counter first; incr() is atomic.
    for _ in range(2):  # again if the counter expired between add() and incr()
        cache.add(key, 0, timeout=window)
        try:
            return int(cache.incr(key)), window  # the cache API has no TTL: the window bounds it
        except ValueError:
            continue
    raise CounterUnavailableError(f"counter {key!r} vanished")  # e.g. the dummy cache


def _count_in_database(cache: DatabaseCache, key: str, window: int) -> tuple[int, int]:
    # One transaction that no other counter of this key can interleave with: SQLite takes
    # the database's write lock when it begins (the settings make every transaction
    # IMMEDIATE); PostgreSQL takes an advisory lock on the key.
    database = router.db_for_write(cache.cache_model_class)
    with transaction.atomic(using=database):
        connection = connections[database]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(cache.make_key(key).encode())])
        return _count_in_cache(cache, key, window)


def _count(alias: str, key: str, window: int) -> tuple[int, int]:
    """Count one request; return (requests in the window, seconds until it ends)."""
    cache = caches[alias]
    if isinstance(cache, RedisCache):
        full_key = cache.make_key(key)  # KEY_PREFIX and VERSION, as the cache API would apply
        try:
            # The raw client raises on connection errors, unlike the cache API, which
            # turns them into misses (IGNORE_EXCEPTIONS): the limiter must know.
            return _count_in_redis(get_redis_connection(alias), full_key, window)
        except RedisError as error:
            raise CounterUnavailableError(str(error)) from error
    if isinstance(cache, DatabaseCache):
        return _count_in_database(cache, key, window)
    return _count_in_cache(cache, key, window)


async def hit(scope: str, identity: str, *, limit: int, window: int, alias: str = "default") -> Verdict:
    """Count one request by ``identity`` against ``limit`` per ``window`` seconds.

    The blocking cache call runs in the request's own thread (``thread_sensitive``), like
    Django's async cache methods: no shared pool for a slow Redis to exhaust.
    Raises CounterUnavailableError when Redis cannot be reached.
    """
    key = f"ratelimit:{scope}:{identity}"
    count, retry_after = await sync_to_async(_count, thread_sensitive=True)(alias, key, window)
    return Verdict(allowed=count <= limit, count=count, retry_after=retry_after)


class RateLimitMixin(AsyncViewBase):
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
        return await cast(PendingResponse, super().dispatch(request, *args, **kwargs))

    async def check_rate_limit(self, request: HttpRequest) -> HttpResponseBase | None:
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
            return self.rate_limit_refusal(
                HTTPStatus.SERVICE_UNAVAILABLE, "Service temporarily unavailable; try again shortly.", self.rate_window
            )
        if verdict.allowed:
            return None
        return self.rate_limit_refusal(
            HTTPStatus.TOO_MANY_REQUESTS,
            f"Too many requests; try again in {verdict.retry_after} seconds.",
            verdict.retry_after,
        )

    def rate_limit_refusal(self, status: HTTPStatus, message: str, retry_after: int) -> HttpResponseBase:
        """The refusal (429, or 503 when failing closed); override to answer in another format."""
        headers = {"Retry-After": str(retry_after)}
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8", headers=headers)
