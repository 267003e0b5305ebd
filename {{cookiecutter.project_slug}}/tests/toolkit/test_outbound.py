"""Outbound HTTP: one client per event loop, closed with it; each origin behind its circuit breaker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import httpx
import pytest
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.toolkit import outbound
from {{ cookiecutter.project_slug }}.toolkit.breaker import CircuitOpenError, State

from tests.support.processes import PROJECT_DIR
from tests.support.servers import UpstreamServer

pytestmark = pytest.mark.usefixtures("fresh_outbound")


async def test_one_client_per_event_loop() -> None:
    client = outbound.shared_client()
    assert outbound.shared_client() is client

    def in_another_loop() -> tuple[httpx.AsyncClient, bool]:
        async def use() -> httpx.AsyncClient:
            return outbound.shared_client()

        other = asyncio.run(use())
        return other, other.is_closed

    result: list[tuple[httpx.AsyncClient, bool]] = []
    thread = threading.Thread(target=lambda: result.append(in_another_loop()))
    thread.start()
    thread.join()
    [(other, closed_when_its_loop_ended)] = result
    assert other is not client
    assert closed_when_its_loop_ended
    assert not client.is_closed


async def test_aclose_shared_clients_closes_this_loops_client() -> None:
    client = outbound.shared_client()
    await outbound.aclose_shared_clients()
    assert client.is_closed
    assert outbound.shared_client() is not client


def test_client_closes_when_the_worker_loop_shuts_down() -> None:
    """As a uvicorn worker stops: asyncio.run() cancels what is left, and the client closes."""
    script = (
        "import asyncio, django, logging; django.setup(); "
        "logging.getLogger('{{ cookiecutter.project_slug }}.toolkit.outbound').setLevel(logging.DEBUG); "
        "from {{ cookiecutter.project_slug }}.toolkit.outbound import shared_client\n"
        "async def serve():\n"
        "    return shared_client()\n"
        "client = asyncio.run(serve())\n"
        "print('closed' if client.is_closed else 'open')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Logs go to stdout too (config/logs.py); the script's verdict is the last line.
    assert result.stdout.strip().splitlines()[-1] == "closed"
    assert "closed the shared outbound HTTP client" in result.stdout


async def test_client_is_bounded(settings: Settings) -> None:
    settings.OUTBOUND_HTTP_TIMEOUT = 1.5
    client = outbound.shared_client()
    assert client.timeout == httpx.Timeout(1.5)
    assert client.follow_redirects is False


# The circuit breaker, on a clock the test moves


async def test_a_failing_origin_is_not_called_while_its_circuit_is_open(upstream: UpstreamServer) -> None:
    """Two 500s in a row (CIRCUIT_BREAKER_FAILURES=2): the next calls fail fast, even to healthy paths."""
    for _ in range(2):
        with pytest.raises(outbound.UpstreamError):
            await outbound.request("GET", f"{upstream.url}/error")
    for path in ("/error", "/page"):
        with pytest.raises(CircuitOpenError):
            await outbound.request("GET", f"{upstream.url}{path}")
    assert upstream.hits == {"/error": 2}


async def test_the_circuit_closes_when_the_origin_is_back(upstream: UpstreamServer, settings: Settings) -> None:
    settings.CIRCUIT_BREAKER_COOLDOWN = 0.1
    for _ in range(2):
        with pytest.raises(outbound.UpstreamError):
            await outbound.request("GET", f"{upstream.url}/error")
    [breaker] = outbound.breakers.values()
    assert breaker.state is State.OPEN
    await asyncio.sleep(0.15)  # the cool-down, plus a margin
    response = await outbound.request("GET", f"{upstream.url}/page")
    assert response.status_code == httpx.codes.OK
    assert (breaker.opened_at, breaker.failures) == (None, 0)  # closed
