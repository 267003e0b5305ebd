"""Live status: the worker's changes reach an open event stream, through Redis or by polling, and nothing is missed.

The streams run through the project's ASGI handler in-process (tests/support/asgi.py);
the changes are made by lifecycle.py, as the task worker makes them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.toolkit.event_stream import SLOTS
from {{ cookiecutter.project_slug }}.uploads import lifecycle, live
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.asgi import Client, Response, build
from tests.support.clients import logged_in
from tests.support.database import open_database_connections
from tests.support.files import CSV, stored
from tests.support.servers import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 10.0  # seconds


@dataclass
class Stream:
    """An open event stream: its events as they arrive, and a way to hang up."""

    task: asyncio.Task[Response]
    events: list[dict[str, Any]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each event
    hang_up: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_until(self, condition: Callable[[dict[str, Any]], bool]) -> tuple[dict[str, Any], float]:
        """The first event that meets ``condition``, and when it arrived.

        A new stream also sends what changed in the seconds before it opened (live.LOOKBACK).
        """
        deadline = time.monotonic() + WAIT
        while True:
            for event, arrived in zip(self.events, self.arrived, strict=True):
                if condition(event):
                    return event, arrived
            assert not self.task.done(), f"the stream ended early: {(await self.task).text!r}"
            assert time.monotonic() < deadline, f"no such event in {self.events}"
            await asyncio.sleep(0.01)

    async def close(self) -> Response:
        self.hang_up.set()
        return await self.task


@pytest.fixture
async def alice(user: User) -> Client:
    """alice's session on an in-process ASGI client of the project."""
    django_client = await logged_in(user)
    return Client(build(fast=True), cookies={name: morsel.value for name, morsel in django_client.cookies.items()})


@pytest.fixture
def no_redis(settings: Settings) -> None:
    settings.REDIS_URL = ""
    settings.BROADCAST_POLL_INTERVAL = 0.1


@pytest.fixture
def redis_only(settings: Settings, redis_server: RedisServer) -> None:
    """Notices through a private Redis; the database polls too rare to deliver anything in a test."""
    settings.REDIS_URL = redis_server.url
    settings.BROADCAST_POLL_INTERVAL = 60.0
    settings.BROADCAST_RECHECK_INTERVAL = 60.0


@pytest.fixture
def open_stream(alice: Client) -> Iterator[Callable[..., Awaitable[Stream]]]:
    streams: list[Stream] = []

    async def start(path: str = "/uploads/events/", headers: tuple[tuple[str, str], ...] = ()) -> Stream:
        def collect(message: Mapping[str, Any]) -> None:
            for frame in message.get("body", b"").decode().split("\n\n"):
                fields = dict(line.split(": ", 1) for line in frame.split("\n") if line and line[0] not in ":r")
                if "data" in fields:
                    stream.events.append({**fields, "data": json.loads(fields["data"])})
                    stream.arrived.append(time.monotonic())

        hang_up = asyncio.Event()
        task = asyncio.create_task(alice.get(path, headers=headers, disconnect=hang_up, send_hook=collect))
        stream = Stream(task, hang_up=hang_up)
        streams.append(stream)
        await asyncio.sleep(0.2)  # subscribed, first read done
        return stream

    yield start
    for stream in streams:
        stream.hang_up.set()


async def test_the_workers_changes_arrive_in_order_with_the_counts(
    open_stream: Callable[..., Awaitable[Stream]], user: User, no_redis: None
) -> None:
    upload = await sync_to_async(stored)(user, CSV, name="cities.csv")
    stream = await open_stream()
    await sync_to_async(lifecycle.process)(upload.pk)
    done, _ = await stream.wait_until(lambda event: event["data"]["status"] == "done")
    assert done["event"] == "status"
    assert done["data"] == {
        "id": str(upload.pk),
        "status": "done",
        "status_label": "Done",
        "finished": True,
        "name": "cities.csv",
        "url": upload.get_absolute_url(),
        "counts": {"pending": 0, "processing": 0, "done": 1, "failed": 0},
    }
    ids = [int(event["id"]) for event in stream.events]
    assert ids == sorted(ids)
    await stream.close()
    assert not SLOTS.open


@pytest.mark.parametrize("path", ["redis_only", "no_redis"])
async def test_a_change_arrives_within_a_second(
    open_stream: Callable[..., Awaitable[Stream]], user: User, path: str, request: pytest.FixtureRequest
) -> None:
    """Through Redis publish/subscribe (polls too rare to help), or by the database poll without Redis."""
    request.getfixturevalue(path)
    upload = await sync_to_async(stored)(user, CSV)
    stream = await open_stream()
    started = time.monotonic()
    await sync_to_async(lifecycle.claim)(upload.pk)
    _, arrived = await stream.wait_until(lambda event: event["data"]["status"] == "processing")
    assert arrived - started < 1.0


async def test_with_redis_down_changes_still_arrive_by_polling(
    open_stream: Callable[..., Awaitable[Stream]], user: User, settings: Settings, redis_server: RedisServer
) -> None:
    settings.REDIS_URL = redis_server.url
    settings.BROADCAST_POLL_INTERVAL = 0.1
    redis_server.stop()
    upload = await sync_to_async(stored)(user, CSV)
    stream = await open_stream()
    await sync_to_async(lifecycle.process)(upload.pk)  # its notices cannot be published
    await stream.wait_until(lambda event: event["data"]["status"] == "done")


async def test_a_reconnecting_page_gets_what_it_missed(
    open_stream: Callable[..., Awaitable[Stream]], user: User, no_redis: None
) -> None:
    first, second = [await sync_to_async(stored)(user, CSV, name=name) for name in ("a.csv", "b.csv")]
    stream = await open_stream()
    claimed = await sync_to_async(lifecycle.claim)(first.pk)
    assert claimed is not None
    seen, _ = await stream.wait_until(lambda event: event["data"]["status"] == "processing")
    await stream.close()
    # While no stream is open: both change.
    await sync_to_async(lifecycle.fail)(claimed, "the worker gave up")
    await sync_to_async(lifecycle.process)(second.pk)
    again = await open_stream(headers=(("Last-Event-ID", seen["id"]),))
    await again.wait_until(lambda event: (event["data"]["name"], event["data"]["status"]) == ("a.csv", "failed"))
    await again.wait_until(lambda event: (event["data"]["name"], event["data"]["status"]) == ("b.csv", "done"))


async def test_a_page_that_opens_its_stream_late_gets_the_changes_since_it_was_rendered(
    open_stream: Callable[..., Awaitable[Stream]], user: User, no_redis: None
) -> None:
    upload = await sync_to_async(stored)(user, CSV)
    rendered_at = live.event_id(await sync_to_async(lambda: Upload.objects.get(pk=upload.pk).updated_at)())
    await sync_to_async(lifecycle.process)(upload.pk)  # before the page's script ran
    stream = await open_stream(f"/uploads/events/?since={rendered_at}")
    await stream.wait_until(lambda event: event["data"]["status"] == "done")


async def test_one_uploads_stream_ends_once_it_is_finished(
    open_stream: Callable[..., Awaitable[Stream]], user: User, no_redis: None
) -> None:
    upload = await sync_to_async(stored)(user, CSV)
    other = await sync_to_async(stored)(user, CSV)
    stream = await open_stream(f"/uploads/{upload.pk}/events/")
    await sync_to_async(lifecycle.process)(other.pk)  # not this stream's upload
    await sync_to_async(lifecycle.process)(upload.pk)
    response = await asyncio.wait_for(stream.task, WAIT)
    statuses = [event["data"]["status"] for event in stream.events if event["event"] == "status"]
    assert statuses[-1] == "done"
    assert {event["data"]["id"] for event in stream.events if event["event"] == "status"} == {str(upload.pk)}
    assert response.text.endswith('event: end\ndata: {"reason":"complete"}\n\n')


async def test_streams_are_per_owner(alice: Client, user: User, other_user: User, no_redis: None) -> None:
    theirs = await sync_to_async(stored)(other_user, CSV)
    response = await alice.get(f"/uploads/{theirs.pk}/events/")
    assert response.status == HTTPStatus.NOT_FOUND


async def test_anonymous_visitors_get_no_stream(no_redis: None) -> None:
    response = await Client(build(fast=True)).get("/uploads/events/")
    assert response.status == HTTPStatus.FOUND
    assert response.header("location") == "/accounts/login/?next=/uploads/events/"


async def test_waiting_streams_hold_no_database_connection(
    open_stream: Callable[..., Awaitable[Stream]], user: User, settings: Settings, no_redis: None
) -> None:
    """Ten open streams, each authenticated and each having read the database: none keeps a connection."""
    settings.LIVE_STATUS_MAX_STREAMS_PER_USER = 10
    upload = await sync_to_async(stored)(user, CSV)
    baseline = await sync_to_async(open_database_connections, thread_sensitive=False)()
    streams = [await open_stream() for _ in range(10)]
    await sync_to_async(lifecycle.claim)(upload.pk)
    for stream in streams:
        await stream.wait_until(lambda event: event["data"]["status"] == "processing")
    await asyncio.sleep(0.3)  # past several polls
    assert await sync_to_async(open_database_connections, thread_sensitive=False)() <= baseline
