"""The staff dashboard's parts: each is independent I/O, gathered by toolkit.gather_parts()."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from ..toolkit import outbound


async def account_counts() -> dict[str, int]:
    """Users in total, active and staff: one query."""
    counts: dict[str, int] = await get_user_model().objects.aaggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(is_active=True)),
        staff=Count("pk", filter=Q(is_staff=True)),
    )
    return counts


async def upstream_status(url: str) -> dict[str, int]:
    """The HTTP status of a dependency's status URL and how long it took, in milliseconds."""
    started = time.perf_counter()
    response = await outbound.request("GET", url)
    return {"status": response.status_code, "ms": round((time.perf_counter() - started) * 1000)}
