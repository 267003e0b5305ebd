"""Fixed-window request counters in the cache: exact under concurrency, and honest when Redis is down.

A window starts with a client's first request and lasts ``window`` seconds; within it
the client gets ``limit`` requests. (So a client can make up to twice the limit across
the end of one window and the start of the next: the price of one counter per client.)

With django-redis the count is one atomic round trip through the raw client: a MULTI/EXEC
transaction that creates the counter with its expiry if missing, increments it and reads
its time to live. With another cache it uses the cache's own ``add`` and ``incr``: atomic
per call in the local-memory cache, but counted per process there, which suits
development and tests, not several workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches
from django.http import HttpRequest
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from redis import Redis
from redis.exceptions import RedisError


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
