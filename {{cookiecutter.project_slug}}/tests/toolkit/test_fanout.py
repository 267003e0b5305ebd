"""gather_parts: independent parts run at once; one failing or slow part degrades alone."""

from __future__ import annotations

import asyncio

from {{ cookiecutter.project_slug }}.toolkit.fanout import gather_parts


async def test_parts_run_concurrently() -> None:
    """Each part waits for the other: only concurrent parts can finish."""
    first_started, second_started = asyncio.Event(), asyncio.Event()

    async def first() -> str:
        first_started.set()
        await second_started.wait()
        return "first"

    async def second() -> str:
        second_started.set()
        await first_started.wait()
        return "second"

    parts = await gather_parts({"a": first, "b": second}, part_timeout=5)
    assert {name: part.value for name, part in parts.items()} == {"a": "first", "b": "second"}


async def test_a_failing_part_degrades_alone() -> None:
    async def works() -> int:
        return 42

    async def fails() -> int:
        raise ConnectionError("upstream down")

    async def hangs() -> int:
        await asyncio.Event().wait()
        return 0

    parts = await gather_parts({"works": works, "fails": fails, "hangs": hangs}, part_timeout=0.05)
    assert parts["works"].value == 42
    assert parts["fails"].error == "ConnectionError"
    assert parts["hangs"].error == "timed out"


async def test_cancelling_the_page_cancels_every_part() -> None:
    started = asyncio.Event()
    cancelled: list[str] = []

    async def waits() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("waits")
            raise

    page = asyncio.create_task(gather_parts({"waits": waits}, part_timeout=60))
    await started.wait()
    page.cancel()
    await asyncio.gather(page, return_exceptions=True)
    assert page.cancelled()
    assert cancelled == ["waits"]
