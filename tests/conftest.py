"""Fixtures for the template's tests, and the session summary of what they measured.

Helpers the tests import are in tests/support/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support.docker import ComposeStack, running_compose_stack
from .support.serving import Served, served_by_uvicorn
from .support.stack import Stack, create_superuser, running_stack


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A baked project under uvicorn and its task worker (tests/support/serving.py)."""
    with served_by_uvicorn(tmp_path_factory.mktemp("smoke")) as running:
        yield running


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A baked project served by the production stack (tests/support/stack.py).

    A test module may set ``STACK_ENV``, environment values of its own for the stack.
    """
    env = getattr(request.module, "STACK_ENV", {})
    with running_stack(tmp_path_factory.mktemp("stack"), **env) as served:
        yield served


@pytest.fixture(scope="module")
def stack_user(stack: Stack) -> tuple[str, str]:
    """A superuser in the stack's database: (username, password)."""
    return create_superuser(stack)


@pytest.fixture(scope="module")
def compose_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    """A baked project under `docker compose up` (tests/support/docker.py)."""
    with running_compose_stack(tmp_path_factory.mktemp("docker")) as started:
        yield started


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show what tests measured (``record_property("measured", ...)``), also under xdist."""
    lines = [
        f"{report.nodeid.rpartition('::')[2]}: {value}"
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "measured"
    ]
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.line(line)
