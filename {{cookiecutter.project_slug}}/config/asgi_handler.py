"""Django's ASGI handler, minus a new thread per request.

Stock ``ASGIHandler`` enters a fresh ``ThreadSensitiveContext()`` per request: its first
synchronous call (a ``request_started`` receiver, the ORM, a template) starts a new
thread, and the end of the request joins it from yet another new thread. Both cost more
CPU than the request's own Python work (docs: request-path).

``PooledExecutorASGIHandler`` keeps the rule that matters, one thread per request for
the request's whole life, and reuses that thread for a later request once the first one
has finished cleanly, the way WSGI thread workers always have. It needs asgiref's public
``ThreadSensitiveContext(executor=...)`` (3.13+); without it, threads are stock Django's.
It also runs Django's middleware through the adapters in config/middleware.py, which
keep hooks that do no I/O on the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from functools import cached_property
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

# asgiref < 3.13 has no way to hand a context its executor: fall back to stock Django.
EXECUTOR_CONTEXTS = "executor" in inspect.signature(ThreadSensitiveContext).parameters

type Receive = Callable[[], Awaitable[Mapping[str, Any]]]
type Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class RequestExecutor(ThreadPoolExecutor):
    """One thread that runs one request's synchronous calls, in order."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="asgi-request")
        self._last: Future[Any] | None = None

    def submit[**P, T](self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = super().submit(fn, *args, **kwargs)
        self._last = future
        return future

    def is_idle(self) -> bool:
        """Nothing queued or running: the single worker runs calls in order, so the last one done means all are."""
        return self._last is None or self._last.done()


async def retire(executor: ThreadPoolExecutor) -> None:
    """Stop the executor's thread and wait for it, as Django's own ThreadSensitiveContext does.

    The join runs in a thread of its own: the worker may be waiting for this event loop,
    so joining on the loop (or in the loop's default executor) could deadlock.
    """
    joined: Future[None] = Future()

    def join() -> None:
        executor.shutdown()
        try:
            joined.set_result(None)
        except InvalidStateError:  # the wait below was cancelled meanwhile
            pass

    threading.Thread(target=join, name="asgi-request-join", daemon=True).start()
    await asyncio.wrap_future(joined)


class PooledExecutorASGIHandler(ASGIHandler):
    """ASGIHandler that gives each request a thread of its own, reused after a clean finish.

    - A request owns its executor (one thread) from start to end, so its synchronous code
      (ORM, sessions, templates, signal receivers) runs in one thread that no concurrent
      request shares; Django's per-thread database connections stay per request.
    - After the request finished normally (``request_finished`` ran in that thread, so its
      database connections are closed or back in the pool) and nothing is left running in
      it, the thread waits in a bounded pool for the next request.
    - A request that raised or was cancelled retires its thread exactly like stock Django.
    """

    # Idle threads kept for reuse; past this, a finished request's thread exits as in stock Django.
    max_idle_executors = 64

    @cached_property
    def _idle(self) -> list[RequestExecutor]:
        # Created on first use, so subclasses that skip __init__ (as Django's
        # ASGIStaticFilesHandler does) still work.
        return []

    def load_middleware(self, is_async: bool = False) -> None:
        """Django's middleware chain, built with config/middleware.py's audited adapters.

        settings.MIDDLEWARE keeps Django's own paths, which system checks look for: swap
        them only while the chain is built, once, when the application starts.
        """
        # Imported here: the adapters import django.contrib.auth, which needs the app registry.
        from config.middleware import adapted

        middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = adapted(middleware)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = middleware

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if not EXECUTOR_CONTEXTS or scope["type"] != "http":
            # Stock Django: it also refuses non-HTTP scopes with its own message.
            return await super().__call__(scope, receive, send)
        # The most recently used thread first: its stack and caches are warm.
        executor = self._idle.pop() if self._idle else RequestExecutor()
        finished = False
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
            finished = True
        finally:
            if finished and executor.is_idle() and len(self._idle) < self.max_idle_executors:
                self._idle.append(executor)
            else:
                await retire(executor)
