"""EventStreamMixin: events framed as Server-Sent Events, and every way a stream ends.

The streams run through the project's ASGI handler, driven in-process
(tests/support/asgi.py); the view is tests/support/toolkit_urls.py's Countdown.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

import pytest

from {{ cookiecutter.project_slug }}.toolkit.event_stream import DRAIN, SLOTS, Event

from tests.support.asgi import Client, Response, build, eventually
from tests.support.toolkit_urls import Countdown

pytestmark = pytest.mark.urls("tests.support.toolkit_urls")


@pytest.fixture(autouse=True)
def _fresh_streams() -> Iterator[None]:
    Countdown.started.clear()
    Countdown.finished.clear()
    yield
    DRAIN.reset()
    assert not SLOTS.open, "a stream kept its slot"


@pytest.fixture
def client() -> Client:
    return Client(build(fast=True))


def frames(response: Response) -> list[str]:
    return [frame for frame in response.text.split("\n\n") if frame]


def events(response: Response) -> list[dict[str, Any]]:
    """Each event's fields (event, id, data as JSON), in order."""
    found = []
    for frame in frames(response):
        fields = dict(line.split(": ", 1) for line in frame.split("\n") if not line.startswith((":", "retry")))
        if "data" in fields:
            found.append({**fields, "data": json.loads(fields["data"])})
    return found


def test_an_event_is_one_frame_of_json() -> None:
    assert Event({"a": "x\ny"}, event="status", id="7").encode() == b'event: status\nid: 7\ndata: {"a":"x\\ny"}\n\n'
    assert Event([1]).encode() == b"data: [1]\n\n"
    with pytest.raises(ValueError, match="single lines"):
        Event({}, event="a\nb").encode()


async def test_events_are_sent_then_the_stream_says_it_is_complete(client: Client) -> None:
    response = await client.get("/stream")
    assert response.status == HTTPStatus.OK
    assert response.header("content-type") == "text/event-stream"
    assert response.header("cache-control") == "no-store"
    assert response.header("x-accel-buffering") == "no"
    assert frames(response)[0] == "retry: 3000"
    assert events(response) == [
        {"event": "tick", "id": "1", "data": {"n": 1}},
        {"event": "tick", "id": "2", "data": {"n": 2}},
        {"event": "tick", "id": "3", "data": {"n": 3}},
        {"event": "end", "data": {"reason": "complete"}},
    ]
    assert Countdown.finished == [1]


async def test_head_is_not_a_stream(client: Client) -> None:
    response = await client.request("HEAD", "/stream")
    assert response.status == HTTPStatus.METHOD_NOT_ALLOWED
    assert Countdown.started == []


async def test_a_reconnecting_browser_resumes_after_its_last_event(client: Client) -> None:
    response = await client.get("/stream", headers=[("Last-Event-ID", "2")])
    assert [event["id"] for event in events(response) if "id" in event] == ["3", "4", "5"]
    response = await client.get("/stream?last_event_id=10&count=1")
    assert [event["id"] for event in events(response) if "id" in event] == ["11"]


async def test_a_quiet_stream_sends_keep_alive_comments(client: Client) -> None:
    response = await client.get("/stream?count=2&every=0.3")
    between = response.text.split("id: 1\n")[1].split("id: 2\n")[0]
    assert between.count(": keep-alive\n\n") >= 3  # 0.3 s of silence, a heartbeat every 0.05 s


async def test_a_stream_without_events_ends_as_idle(client: Client) -> None:
    started = time.monotonic()
    response = await client.get("/stream/quiet?count=1&every=30")
    assert 0.3 <= time.monotonic() - started < 2
    assert events(response) == [{"event": "end", "data": {"reason": "idle"}}]
    assert Countdown.finished == [1]


async def test_a_stream_ends_after_its_maximum_life_for_the_browser_to_reconnect(client: Client) -> None:
    started = time.monotonic()
    response = await client.get("/stream/short-lived?count=1000&every=0.02")
    assert 0.2 <= time.monotonic() - started < 2
    sent = events(response)
    assert sent
    assert all(event["event"] == "tick" for event in sent)  # no "end": the browser reconnects and resumes


async def test_draining_ends_open_streams_and_refuses_none(client: Client) -> None:
    """What the server does when it stops: streams end at once, telling browsers to reconnect soon."""

    def drain_after_first_event(message: Mapping[str, Any]) -> None:
        if b"id: 1" in message.get("body", b"") and not DRAIN.started:
            asyncio.get_running_loop().call_soon(DRAIN.start)

    started = time.monotonic()
    response = await client.get("/stream?count=1000&every=0.05", send_hook=drain_after_first_event)
    assert time.monotonic() - started < 2
    last = frames(response)[-1]
    assert last.startswith("retry: ")
    assert 200 <= int(last.removeprefix("retry: ")) <= 2000
    assert Countdown.finished == [1]
    # Opened while the server drains: ends at once, and the browser tries again elsewhere.
    response = await client.get("/stream")
    assert response.status == HTTPStatus.OK
    assert not events(response)


async def test_a_user_may_hold_only_so_many_streams_at_once(client: Client) -> None:
    hang_up = asyncio.Event()
    held = [asyncio.create_task(client.get("/stream?count=1000&every=1", disconnect=hang_up)) for _ in range(2)]
    await eventually(lambda: len(Countdown.started) == 2)
    refused = await client.get("/stream")
    assert refused.status == HTTPStatus.TOO_MANY_REQUESTS
    assert refused.header("retry-after") == "30"
    assert "at most 2 at once" in json.loads(refused.body)["error"]
    hang_up.set()
    await asyncio.gather(*held)
    assert sorted(Countdown.finished) == [1, 1]  # the client left: both generators were closed
    assert (await client.get("/stream")).status == HTTPStatus.OK


async def test_open_streams_add_no_threads(client: Client) -> None:
    """Twenty streams waiting for their next event: the process runs no more threads than before."""
    hang_up = asyncio.Event()
    await client.get("/stream?count=1")  # warm up: the handler's first thread exists now
    before = threading.active_count()
    streams = [asyncio.create_task(client.get("/stream?count=2&every=30", disconnect=hang_up)) for _ in range(2)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Countdown, "max_streams", 20)
        streams += [asyncio.create_task(client.get("/stream?count=2&every=30", disconnect=hang_up)) for _ in range(18)]
        await eventually(lambda: len(Countdown.started) == 21)
        await asyncio.sleep(0.2)  # past a few heartbeats
        during = threading.active_count()
        hang_up.set()
        await asyncio.gather(*streams)
    assert during <= before
