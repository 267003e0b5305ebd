"""Per-user upload counts by status, for the list page: cached, and made stale by every write.

The counts are stored under the owner's current *generation*, a token every write
replaces. A reader that counted before a write but stores its result after the write
was announced stores it under the old generation, where nobody looks again; deleting the
entry instead would leave those old counts cached until they expire.
"""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db.models import Count

from .models import Upload

COUNTS_TIMEOUT = 300  # seconds; every write makes the entry stale anyway


def generation_key(owner_id: Any) -> str:
    return f"uploads:counts-generation:{owner_id}"


def cache_key(owner_id: Any, generation: str) -> str:
    return f"uploads:counts:{owner_id}:{generation}"


def compute(owner_id: Any) -> dict[str, int]:
    rows = Upload.objects.filter(owner_id=owner_id).values("status").annotate(n=Count("pk")).order_by()
    counts = {status: 0 for status in Upload.Status.values}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def get(owner_id: Any) -> dict[str, int]:
    """The counts, from the cache when it has them."""
    key = cache_key(owner_id, cache.get(generation_key(owner_id), "0"))
    counts: dict[str, int] | None = cache.get(key)
    if counts is None:
        counts = compute(owner_id)
        cache.set(key, counts, COUNTS_TIMEOUT)
    return counts


async def aget(owner_id: Any) -> dict[str, int]:
    """The counts, from the cache when it has them (a Redis outage only costs one query)."""
    key = cache_key(owner_id, await cache.aget(generation_key(owner_id), "0"))
    counts: dict[str, int] | None = await cache.aget(key)
    if counts is None:
        counts = await sync_to_async(compute)(owner_id)
        await cache.aset(key, counts, COUNTS_TIMEOUT)
    return counts


def forget(owner_id: Any) -> None:
    """Make the cached counts stale: a new generation (a fresh token, so concurrent writers never undo each other)."""
    cache.set(generation_key(owner_id), uuid.uuid4().hex, None)
