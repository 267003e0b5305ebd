"""Outbound HTTP: one client per event loop, closed with it; each origin behind its circuit breaker."""

from __future__ import annotations

import asyncio
import re
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


# vet(): the one check for a URL a client chose


@pytest.mark.parametrize(
    ("host", "port", "scheme", "patterns", "expected"),
    [
        ("example.com", 443, "https", ["example.com"], True),
        ("example.com", 8443, "https", ["example.com"], False),  # another port must be listed
        ("example.com", 8443, "https", ["example.com:8443"], True),
        ("api.example.com", 80, "http", [".example.com"], True),
        ("example.com", 80, "http", ["other.example"], False),
        ("::1", 8080, "http", ["[::1]:8080"], True),
    ],
)
def test_the_allow_list_is_port_exact(host: str, port: int, scheme: str, patterns: list[str], expected: bool) -> None:
    assert outbound.allowed(host, port, scheme, patterns) is expected


async def test_vet_connects_to_the_address_it_checked(upstream: UpstreamServer) -> None:
    destination = await outbound.vet(
        f"http://localhost:{upstream.port}/page?q=1", [f"localhost:{upstream.port}"], private_addresses=True
    )
    assert destination.url.host in {"127.0.0.1", "::1"}
    assert (destination.url.port, destination.url.raw_path) == (upstream.port, b"/page?q=1")
    assert destination.request_options() == {
        "headers": {"Host": f"localhost:{upstream.port}"},
        "extensions": {"sni_hostname": "localhost"},
    }
    assert destination.origin == f"http://localhost:{upstream.port}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1/", "give a valid URL"),
        ("http://example.com:80:80/", "give a valid URL"),
        ("ftp://example.com/", "give an http or https URL, without credentials"),
        ("http://user@example.com/", "give an http or https URL, without credentials"),
        ("http://example.com:8080/", "fetching from example.com is not allowed"),
        ("http://localhost/", "fetching from localhost is not allowed"),  # listed, but loopback
        ("http://nowhere.invalid/", "nowhere.invalid could not be found"),
    ],
)
async def test_vet_refuses_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(outbound.RefusedURLError, match=f"^{re.escape(reason)}$"):
        await outbound.vet(url, ["example.com", "localhost", "nowhere.invalid"])


def test_breakers_are_bounded(settings: Settings) -> None:
    """One breaker per origin, but never more than MAX_BREAKERS: the least recently used go first."""
    for port in range(outbound.MAX_BREAKERS + 50):
        outbound.breaker_for(f"http://example.com:{port}")
    assert len(outbound.breakers) == outbound.MAX_BREAKERS
    assert f"http://example.com:{outbound.MAX_BREAKERS + 49}" in outbound.breakers
    assert "http://example.com:0" not in outbound.breakers
