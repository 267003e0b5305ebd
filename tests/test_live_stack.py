"""Live status through the production stack: nginx -> gunicorn (uvicorn workers) -> the event stream, Redis pub/sub.

A stack of its own (tests/support/stack.py), with a connection pool of three per worker:
if a waiting stream kept its database connection, a few of them would exhaust it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus

import httpx
import pytest

from .support.http import EventStream, log_in
from .support.processes import child_pids, measured, wait_for
from .support.stack import GUNICORN_WORKERS, START_TIMEOUT, Stack

pytestmark = pytest.mark.slow

POOL_SIZE = 3  # connections per gunicorn worker
STREAMS = 24  # open at once: four times what the two workers' pools hold
STACK_ENV = {
    "DATABASE_POOL_MAX_SIZE": str(POOL_SIZE),
    "DATABASE_POOL_MIN_SIZE": "1",
    # A request that cannot get a connection fails fast instead of waiting 10 s.
    "DATABASE_POOL_TIMEOUT": "3",
    "LIVE_STATUS_MAX_STREAMS_PER_USER": str(STREAMS),
}
CSV = b"city,country\nParis,France\nRome,Italy\n"
NGINX_READ_TIMEOUT = 60  # seconds: proxy_read_timeout in deploy/nginx/templates/default.conf.template


@pytest.fixture
def signed_in(stack: Stack, stack_user: tuple[str, str]) -> Iterator[Callable[[], httpx.Client]]:
    clients = []

    def client() -> httpx.Client:
        client = stack.client()
        log_in(client, *stack_user)
        clients.append(client)
        return client

    yield client
    for client in clients:
        client.close()


@pytest.fixture
def open_streams() -> Iterator[list[EventStream]]:
    streams: list[EventStream] = []
    yield streams
    for stream in streams:
        stream.close()


def upload(client: httpx.Client, content: bytes = CSV) -> str:
    response = client.post(
        "/api/uploads/", files={"file": ("cities.csv", content)}, headers={"X-CSRFToken": client.cookies["csrftoken"]}
    )
    assert response.status_code == HTTPStatus.CREATED, response.text
    return str(response.json()["results"][0]["id"])


def arrival(stream: EventStream, upload_id: str, status: str) -> tuple[float, dict[str, object]]:
    """When the event saying ``upload_id`` reached ``status`` arrived, and its data."""

    def found() -> tuple[float, dict[str, object]] | None:
        for arrived, fields in stream.events():
            data = json.loads(fields["data"])
            if data.get("id") == upload_id and data.get("status") == status:
                return arrived, {**data, "event_id": fields["id"]}
        return None

    result: tuple[float, dict[str, object]] = wait_for(found, f"{status} of {upload_id} on the stream", timeout=60)
    return result


def test_a_status_change_reaches_an_open_page_within_a_second(
    stack: Stack,
    signed_in: Callable[[], httpx.Client],
    open_streams: list[EventStream],
    record_property: Callable[[str, object], None],
) -> None:
    client = signed_in()
    stream = EventStream(client, "/uploads/events/")
    open_streams.append(stream)
    wait_for(lambda: bool(stream.frames), "the stream to open")
    assert stream.status == HTTPStatus.OK
    upload_id = upload(client)
    arrived, data = arrival(stream, upload_id, "done")
    # The event id is the change's updated_at (microseconds), stamped by the worker on this machine.
    delay = arrived - int(str(data["event_id"])) / 1_000_000
    measured(
        record_property, f"live status through nginx and Redis: 'done' arrived {delay * 1000:.0f} ms after the update"
    )
    assert delay < 1.0


def test_a_quiet_stream_outlives_nginxs_read_timeout(
    stack: Stack, signed_in: Callable[[], httpx.Client], open_streams: list[EventStream]
) -> None:
    """Keep-alive comments every 15 s keep nginx (proxy_read_timeout 60 s) from closing a quiet stream."""
    client = signed_in()
    stream = EventStream(client, "/uploads/events/")
    open_streams.append(stream)
    time.sleep(NGINX_READ_TIMEOUT + 5)
    assert not stream.ended.is_set(), stream.frames
    assert sum(frame == ": keep-alive" for _, frame in stream.frames) >= 4
    upload_id = upload(client)
    arrival(stream, upload_id, "done")


def test_waiting_streams_hold_no_database_connection(
    stack: Stack,
    signed_in: Callable[[], httpx.Client],
    open_streams: list[EventStream],
    record_property: Callable[[str, object], None],
) -> None:
    """24 streams, each authenticated and each having read the database, on pools of three connections per worker.

    Then pages that need the database still answer at once: no stream holds a connection.
    """
    client = signed_in()
    started = time.monotonic()
    open_streams.extend(EventStream(client, "/uploads/events/") for _ in range(STREAMS))
    wait_for(lambda: all(stream.frames for stream in open_streams), f"{STREAMS} streams to open", timeout=30)
    opened = time.monotonic() - started
    assert {stream.status for stream in open_streams} == {HTTPStatus.OK}
    timings = []
    for _ in range(10):
        before = time.monotonic()
        response = client.get("/uploads/")
        timings.append(time.monotonic() - before)
        assert response.status_code == HTTPStatus.OK
    measured(
        record_property,
        f"{STREAMS} open streams on pools of {POOL_SIZE} per worker: opened in {opened:.2f}s; "
        f"the list page meanwhile in {max(timings) * 1000:.0f} ms at most",
    )
    assert max(timings) < 2.0  # a request waiting for a pooled connection would take DATABASE_POOL_TIMEOUT (3 s)
    assert not any(stream.ended.is_set() for stream in open_streams)


def errors_logged_since(stack: Stack, count: int) -> list[dict[str, object]]:
    return [entry for entry in stack.app_log_entries()[count:] if entry["level"] in {"ERROR", "CRITICAL"}]


def test_a_hup_ends_open_streams_cleanly_and_browsers_reconnect(
    stack: Stack, signed_in: Callable[[], httpx.Client], open_streams: list[EventStream]
) -> None:
    """A deploy (HUP): old workers end their streams at once, telling browsers to reconnect, and log no error."""
    client = signed_in()
    open_streams.extend(EventStream(client, "/uploads/events/") for _ in range(6))
    wait_for(lambda: all(stream.frames for stream in open_streams), "the streams to open")
    logged = len(stack.app_log_entries())
    master = stack.gunicorn_master()
    old_workers = child_pids(master)
    signalled = time.monotonic()
    stack.supervisorctl("signal", "HUP", "web")
    wait_for(lambda: all(stream.ended.is_set() for stream in open_streams), "the streams to end", timeout=20)
    ended_after = time.monotonic() - signalled
    for stream in open_streams:
        assert stream.error is None
        last = stream.frames[-1][1]
        assert last.startswith("retry: "), stream.frames
        assert 200 <= int(last.removeprefix("retry: ")) <= 2000, stream.frames
    assert ended_after < 10  # not gunicorn's graceful_timeout (30 s)

    def replaced() -> set[int] | None:
        workers = child_pids(master)
        return workers if workers.isdisjoint(old_workers) and len(workers) == GUNICORN_WORKERS else None

    stack.wait_until_serving(wait_for(replaced, "new workers", timeout=START_TIMEOUT))
    again = EventStream(client, "/uploads/events/")
    open_streams.append(again)
    wait_for(lambda: bool(again.frames), "a new stream")
    assert again.status == HTTPStatus.OK
    assert errors_logged_since(stack, logged) == []


def test_stopping_web_ends_open_streams_at_once(
    stack: Stack, signed_in: Callable[[], httpx.Client], open_streams: list[EventStream]
) -> None:
    """supervisorctl stop web with streams open: they end, and gunicorn exits long before its graceful timeout.

    Runs last; it starts web again afterwards.
    """
    client = signed_in()
    open_streams.extend(EventStream(client, "/uploads/events/") for _ in range(4))
    wait_for(lambda: all(stream.frames for stream in open_streams), "the streams to open")
    logged = len(stack.app_log_entries())
    started = time.monotonic()
    try:
        stack.supervisorctl("stop", "web")
        stopped_after = time.monotonic() - started
        assert all(stream.ended.is_set() for stream in open_streams)
        assert all(stream.frames[-1][1].startswith("retry: ") for stream in open_streams)
        assert stopped_after < 10, stopped_after
        assert errors_logged_since(stack, logged) == []
    finally:
        stack.supervisorctl("start", "web")
        stack.wait_until_ready()
