"""Per-user upload counts by status, for the list page: cached, and forgotten on every write."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db.models import Count

from .models import Upload

COUNTS_TIMEOUT = 300  # seconds; every write forgets the entry anyway


def cache_key(owner_id: Any) -> str:
    return f"uploads:counts:{owner_id}"


def compute(owner_id: Any) -> dict[str, int]:
    rows = Upload.objects.filter(owner_id=owner_id).values("status").annotate(n=Count("pk")).order_by()
    counts = {status: 0 for status in Upload.Status.values}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def get(owner_id: Any) -> dict[str, int]:
    """The counts, from the cache when it has them."""
    counts: dict[str, int] | None = cache.get(cache_key(owner_id))
    if counts is None:
        counts = compute(owner_id)
        cache.set(cache_key(owner_id), counts, COUNTS_TIMEOUT)
    return counts


async def aget(owner_id: Any) -> dict[str, int]:
    """The counts, from the cache when it has them (a Redis outage only costs one query)."""
    counts: dict[str, int] | None = await cache.aget(cache_key(owner_id))
    if counts is None:
        counts = await sync_to_async(compute)(owner_id)
        await cache.aset(cache_key(owner_id), counts, COUNTS_TIMEOUT)
    return counts


def forget(owner_id: Any) -> None:
    cache.delete(cache_key(owner_id))
