"""Readiness checks: can this process reach its database and its cache right now?"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connections

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
    # The cache fails soft (errors read as misses), so prove a round trip instead of
    # trusting that no exception was raised.
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, OK, timeout=10)
    try:
        if cache.get(key) != OK:
            raise CheckError("the cache did not return the value just written")
    finally:
        cache.delete(key)


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
    """Check the database and the cache concurrently.

    The database check runs in the request's own thread, where Django keeps (and at the
    end of the request closes) its connection. The cache client is thread-safe, so its
    check runs in another thread and the two waits overlap.
    """
    database, cache_state = await asyncio.gather(
        run_check("database", ping_databases, thread_sensitive=True),
        run_check("cache", ping_cache, thread_sensitive=False),
    )
    return {"database": database, "cache": cache_state}
