"""Processes the tests start: their children, whether they run, waiting for them; reporting what was measured."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def parents() -> dict[int, int]:
    """pid -> parent pid of every process that runs (zombies left out)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(stat.parent.name)] = int(fields[1])
    return found


def child_pids(parent: int) -> set[int]:
    return {pid for pid, its_parent in parents().items() if its_parent == parent}


def descendants(root: int) -> set[int]:
    """Every running process started under ``root``, children of children included."""
    tree = parents()
    found: set[int] = set()
    level = {root}
    while level:
        level = {pid for pid, parent in tree.items() if parent in level}
        found |= level
    return found


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll until condition() is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while (value := condition()) is False or value is None:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
    return value


def measured(record_property: Callable[[str, object], None], text: str) -> None:
    """Print a measurement and report it in the session summary (conftest.py)."""
    print(text)
    record_property("measured", text)
