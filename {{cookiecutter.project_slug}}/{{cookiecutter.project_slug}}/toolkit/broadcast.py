"""Change notices across processes: "topic X changed", from the process that changed it to waiters in every process.

With Redis (REDIS_URL), the changing process publishes on ``<name>:<topic>`` and each
process's one subscriber connection wakes its own waiters, within milliseconds. Each
process also polls the database through the app's ``poll`` function: every
BROADCAST_POLL_INTERVAL seconds without Redis or while Redis is unreachable, and every
BROADCAST_RECHECK_INTERVAL seconds with it, for a notice lost meanwhile. Either way the
cost is one connection or one query per process, however many waiters it has.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta

import redis
import redis.asyncio
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from .event_stream import in_shared_thread

logger = logging.getLogger(__name__)

# A poll looks back this far past its previous start: changes committed late, or stamped
# by a process whose clock is a little behind, are still found.
POLL_MARGIN = timedelta(seconds=2)
REDIS_RETRY_DELAY = 5.0  # seconds between attempts to reach Redis again
LOG_EVERY = 60.0  # seconds between two warnings about the same failure

# (topics being waited for, changed since) -> (topic, change) pairs; a change is any string
# that differs for each change of a topic, such as "<row id>@<updated_at>".
type Poll = Callable[[frozenset[str], datetime], Iterable[tuple[str, str]]]


class Waiter:
    """One waiter's view of a topic: ``wait()`` returns once the topic has changed since the last call."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._changed = asyncio.Event()

    def wake(self) -> None:
        self._changed.set()

    async def wait(self) -> None:
        """Return once the topic has changed (wrap it in ``asyncio.timeout()`` to bound the wait)."""
        await self._changed.wait()
        self._changed.clear()


class Broadcast:
    """Notices for the topics of one kind (``name``); ``poll`` finds changes in the database."""

    def __init__(self, name: str, poll: Poll) -> None:
        self.name = name
        self.poll = poll
        self._waiters: dict[str, set[Waiter]] = {}
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[str, float] = {}  # changes already announced -> when they may be forgotten
        self._logged: dict[str, float] = {}
        self._publishers: dict[str, redis.Redis] = {}  # by URL; redis-py's clients are thread-safe

    # Any process: announce a change

    def publish(self, topic: str) -> None:
        """Tell every process's waiters that ``topic`` changed; call it once the change is committed.

        Without Redis this does nothing: the polls find the change. When Redis is down, the
        change is found by the next recheck.
        """
        if not settings.REDIS_URL:
            return
        url = settings.REDIS_URL
        if url not in self._publishers:
            self._publishers[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            self._publishers[url].publish(f"{self.name}:{topic}", b"")
        except RedisError as error:
            self._warn("publish", "could not publish a change notice (%s); polls will find it", error)

    # Web processes: wait for changes

    @asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[Waiter]:
        """A waiter for ``topic``, registered before the caller reads the current state (so nothing falls between)."""
        waiter = Waiter(topic)
        self._waiters.setdefault(topic, set()).add(waiter)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name=f"broadcast:{self.name}")
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(topic, set())
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(topic, None)
            if not self._waiters and self._task is not None:
                self._task.cancel()  # the last waiter left: no connection, no polling
                self._task = None

    @property
    def waiting(self) -> int:
        """Waiters of this process."""
        return sum(len(waiters) for waiters in self._waiters.values())

    def _wake(self, topic: str) -> None:
        for waiter in self._waiters.get(topic, ()):
            waiter.wake()

    async def _run(self) -> None:
        since = timezone.now()
        while True:
            if settings.REDIS_URL:
                try:
                    since = await self._subscribed(since)
                except (RedisError, OSError) as error:
                    self._warn("subscribe", "change notices from Redis stopped (%s); polling the database", error)
            # No Redis, or Redis unreachable: poll until it is time to try Redis again.
            retry_at = time.monotonic() + REDIS_RETRY_DELAY
            while not settings.REDIS_URL or time.monotonic() < retry_at:
                since = await self._poll(since)
                await asyncio.sleep(settings.BROADCAST_POLL_INTERVAL)

    async def _subscribed(self, since: datetime) -> datetime:
        """Wake waiters on each notice from Redis, polling every BROADCAST_RECHECK_INTERVAL; returns on failure only."""
        client = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2.0, socket_keepalive=True, health_check_interval=30
        )
        async with client, client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.psubscribe(f"{self.name}:*")
            # Notices published before the subscription started are found by this poll.
            since = await self._poll(since)
            recheck_at = time.monotonic() + settings.BROADCAST_RECHECK_INTERVAL
            prefix = f"{self.name}:".encode()
            while True:
                message = await pubsub.get_message(timeout=max(recheck_at - time.monotonic(), 0.01))
                if message is not None and message["type"] == "pmessage":
                    self._wake(message["channel"].removeprefix(prefix).decode())
                if time.monotonic() >= recheck_at:
                    since = await self._poll(since)
                    recheck_at = time.monotonic() + settings.BROADCAST_RECHECK_INTERVAL

    async def _poll(self, since: datetime) -> datetime:
        """Wake the waiters of topics with changes not announced yet; returns where the next poll starts."""
        topics = frozenset(self._waiters)
        started = timezone.now()
        if not topics:
            return started - POLL_MARGIN
        try:
            changes = await in_shared_thread(lambda: list(self.poll(topics, since)))
        except Exception as error:  # a database error must not end the waiters' notices
            self._warn("poll", "polling for changes failed (%s)", error)
            return since
        now = time.monotonic()
        forget_at = now + 2 * (POLL_MARGIN.total_seconds() + settings.BROADCAST_POLL_INTERVAL)
        for topic, change in changes:
            if change not in self._seen:
                self._seen[change] = forget_at
                self._wake(topic)
        self._seen = {change: until for change, until in self._seen.items() if until > now}
        return started - POLL_MARGIN

    def _warn(self, what: str, message: str, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._logged.get(what, -LOG_EVERY) >= LOG_EVERY:
            self._logged[what] = now
            logger.warning(message, error)

    async def aclose(self) -> None:
        """Stop the background task (tests)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
