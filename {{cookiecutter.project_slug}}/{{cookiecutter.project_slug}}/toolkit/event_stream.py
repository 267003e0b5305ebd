"""Server-Sent Events from async views: bounded streams that hold no thread and no database connection while they wait.

A view lists its events as an async generator (``events()``); ``EventStreamMixin`` sends
them as ``text/event-stream``, with a heartbeat while nothing happens, and ends the
stream after ``max_life`` (the browser reconnects, resuming from the last event id it
got), after ``idle_timeout`` without an event, or at once when the server shuts down
(``drain()``, called by config/workers.py). Each key (a user) may hold a few streams
per process.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import wraps
from http import HTTPStatus
from typing import Any, cast

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections
from django.http import HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse

from .base import AsyncViewBase

HEARTBEAT = b": keep-alive\n\n"  # a comment line: browsers ignore it, proxies see traffic


@dataclass(frozen=True)
class Event:
    """One event: ``data`` is sent as JSON; ``event`` is the type pages listen for; ``id`` comes back on reconnect."""

    data: object
    event: str = ""
    id: str = ""

    def encode(self) -> bytes:
        if any(char in value for value in (self.event, self.id) for char in "\r\n"):
            raise ValueError("an event's type and id are single lines")
        lines = [f"event: {self.event}"] if self.event else []
        if self.id:
            lines.append(f"id: {self.id}")
        # JSON escapes newlines, so the data is always one line.
        lines.append("data: " + json.dumps(self.data, separators=(",", ":")))
        return ("\n".join(lines) + "\n\n").encode()


def close_db_connections() -> None:
    """Close this thread's database connections (with the psycopg pool: hand them back)."""
    for connection in connections.all(initialized_only=True):
        connection.close()


def _closing[**P, T](function: Callable[P, T]) -> Callable[P, T]:
    @wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        finally:
            close_db_connections()

    return call


async def in_shared_thread[**P, T](function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking work (a query) in the loop's shared threads; its database connections are closed before it returns.

    For code that waits between calls, such as a stream: the request's own thread
    (``sync_to_async``'s default) would keep its connection checked out meanwhile.
    """
    return await sync_to_async(_closing(function), thread_sensitive=False)(*args, **kwargs)


@asynccontextmanager
async def thread_of_its_own() -> AsyncIterator[None]:
    """Thread-sensitive calls inside (``request.auser()``, the async ORM) run in a thread that ends on the way out.

    The thread's database connections are closed first. A stream's setup uses it, so
    the request holds neither a thread nor a connection while it streams.
    """
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-stream-setup")
    try:
        async with ThreadSensitiveContext(executor=executor):
            try:
                yield
            finally:
                await sync_to_async(close_db_connections)()
    finally:
        executor.shutdown(wait=False)  # its one thread is idle: it exits at once


class _Drain:
    """The process is shutting down: every stream ends and tells its browser to reconnect (elsewhere)."""

    def __init__(self) -> None:
        self.started = False
        self._waiters: set[asyncio.Future[None]] = set()

    def waiter(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.started:
            future.set_result(None)
        else:
            self._waiters.add(future)
            future.add_done_callback(self._waiters.discard)
        return future

    def start(self) -> int:
        """Called on the event loop; returns how many streams were open."""
        self.started = True
        waiters = list(self._waiters)
        for future in waiters:
            if not future.done():
                future.set_result(None)
        return len(waiters)

    def reset(self) -> None:
        """For tests: the process serves again."""
        self.started = False


DRAIN = _Drain()


def drain() -> int:
    """End this process's open event streams; the server calls it before it waits for open connections."""
    return DRAIN.start()


class _Slots:
    """Open streams per key in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # release() may run in a request's thread
        self.open: Counter[str] = Counter()

    def take(self, key: str, limit: int) -> bool:
        with self._lock:
            if self.open[key] >= limit:
                return False
            self.open[key] += 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self.open[key] -= 1
            if self.open[key] <= 0:
                del self.open[key]


SLOTS = _Slots()


@dataclass(frozen=True)
class StreamLimits:
    heartbeat: float  # seconds of silence before a keep-alive comment
    max_life: float  # seconds; the browser then reconnects with its last event id
    idle_timeout: float  # seconds without an event before the stream ends (event "end", reason "idle")
    reconnect_delay: float  # seconds the browser waits before it reconnects


class _Stream:
    """The response body: the view's events, framed, with heartbeats, limits and the drain applied.

    Django calls ``close()`` when the response ends, streamed or not: the slot is
    given back exactly once.
    """

    def __init__(self, events: AsyncIterator[Event], limits: StreamLimits, release: Callable[[], None]) -> None:
        self.events = events
        self.limits = limits
        self._release: Callable[[], None] | None = release

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _next_event(self) -> Event:
        return await anext(self.events)

    async def _frames(self) -> AsyncIterator[bytes]:
        limits = self.limits
        loop = asyncio.get_running_loop()
        started = last_event = loop.time()
        # Spread the reconnects of streams that started together.
        ends_at = started + limits.max_life * random.uniform(0.9, 1.0)  # noqa: S311 - not for security
        yield f"retry: {round(limits.reconnect_delay * 1000)}\n\n".encode()
        drained = DRAIN.waiter()
        pending: asyncio.Task[Event] | None = None
        try:
            while True:
                now = loop.time()
                if now >= ends_at:
                    return  # the browser reconnects, with Last-Event-ID
                if now - last_event >= limits.idle_timeout:
                    yield Event({"reason": "idle"}, event="end").encode()
                    return
                if pending is None:
                    pending = asyncio.create_task(self._next_event())
                timeout = min(limits.heartbeat, ends_at - now, last_event + limits.idle_timeout - now)
                waiting: set[asyncio.Future[Any]] = {pending, drained}
                await asyncio.wait(waiting, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
                if drained.done():
                    # Reconnect soon, spread over a second or two, to a server that is not stopping.
                    delay = round(random.uniform(0.2, 2.0) * 1000)  # noqa: S311 - not for security
                    yield f"retry: {delay}\n\n".encode()
                    return
                if not pending.done():
                    yield HEARTBEAT
                    continue
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    yield Event({"reason": "complete"}, event="end").encode()
                    return
                pending = None
                last_event = loop.time()
                yield event.encode()
        finally:
            drained.cancel()
            if pending is not None and not pending.done():
                pending.cancel()
                with suppress(BaseException):
                    await pending
            with suppress(BaseException):
                await self.events.aclose()  # type: ignore[attr-defined]
            self.close()


class EventStreamMixin(AsyncViewBase):
    """A GET that streams ``events()`` as Server-Sent Events. Put it first among the bases.

    Override ``events(last_event_id)``: an async generator of ``Event``; returning ends
    the stream (event "end", reason "complete"). Read the database there with
    ``in_shared_thread()``. The view's own work before streaming (authentication,
    checks in ``get``) runs in a thread that ends before the first event.
    """

    # Not HEAD: a monitor's HEAD would hold a stream open (and a slot) with no one reading.
    http_method_names = ["get", "options"]
    heartbeat: float = 15.0
    max_life: float = 3600.0
    idle_timeout: float = 600.0
    reconnect_delay: float = 3.0
    max_streams: int = 8  # per key (``stream_key()``) and process

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = cast(Callable[..., Awaitable[HttpResponseBase]], super().as_view(**initkwargs))

        @wraps(view)
        async def stream_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            async with thread_of_its_own():
                response: HttpResponseBase = await view(request, *args, **kwargs)
                return response

        return stream_view

    def stream_key(self) -> str:
        """Whose streams are counted together: the signed-in user (AsyncLoginRequiredMixin), else the address."""
        user = getattr(self, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"ip:{self.request.META.get('REMOTE_ADDR', 'unknown')}"

    def stream_limits(self) -> StreamLimits:
        return StreamLimits(self.heartbeat, self.max_life, self.idle_timeout, self.reconnect_delay)

    def events(self, last_event_id: str) -> AsyncIterator[Event]:
        """The stream's events: define it as ``async def events(...)`` with ``yield``."""
        raise NotImplementedError("an EventStreamMixin view defines events()")

    def too_many_streams(self) -> HttpResponseBase:
        return JsonResponse(
            {"error": f"Too many open event streams: at most {self.max_streams} at once. Close a tab and retry."},
            status=HTTPStatus.TOO_MANY_REQUESTS,
            headers={"Retry-After": str(round(self.reconnect_delay * 10))},
        )

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = self.stream_key()
        if not SLOTS.take(key, self.max_streams):
            return self.too_many_streams()
        # The browser sends Last-Event-ID when it reconnects; a page opening a new stream
        # passes the id it last saw as ?last_event_id=.
        last_event_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id", "")
        stream = _Stream(self.events(last_event_id[:100]), self.stream_limits(), lambda: SLOTS.release(key))
        response = StreamingHttpResponse(stream, content_type="text/event-stream")
        response["Cache-Control"] = "no-store"
        # Tells nginx to pass each event on at once instead of buffering the response.
        response["X-Accel-Buffering"] = "no"
        return response
