"""Concurrent fan-out: run a page's independent parts at once; a part that fails degrades alone.

Pays off for parts that wait on the network, not for ORM calls: one request's queries
all run on its one thread, one after another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    value: Any = None
    error: str = ""  # empty when the part succeeded

    @property
    def ok(self) -> bool:
        return not self.error


async def _settle(name: str, part: Callable[[], Awaitable[Any]], seconds: float) -> Part:
    try:
        async with asyncio.timeout(seconds):
            return Part(value=await part())
    except TimeoutError:
        logger.warning("part %s timed out after %ss", name, seconds)
        return Part(error="timed out")
    except Exception as error:
        logger.warning("part %s failed", name, exc_info=True)
        return Part(error=type(error).__name__)


async def gather_parts(parts: Mapping[str, Callable[[], Awaitable[Any]]], *, part_timeout: float) -> dict[str, Part]:
    """Run each part concurrently, within `part_timeout` seconds each; return every part's value or error.

    If the caller is cancelled (a TimeoutMixin deadline, a client that went away), the
    TaskGroup cancels every part still running.
    """
    async with asyncio.TaskGroup() as group:
        tasks = {name: group.create_task(_settle(name, part, part_timeout)) for name, part in parts.items()}
    return {name: task.result() for name, task in tasks.items()}
