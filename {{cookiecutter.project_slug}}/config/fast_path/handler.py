"""Django's ASGI handler, with request threads reused and the thread hops that have nothing to do skipped.

Each request still owns one thread from start to end; the thread serves a later request
once the first has finished cleanly, as WSGI thread workers always have. Needs asgiref's
``ThreadSensitiveContext(executor=...)`` (3.13+); without it, threads are stock Django's.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from contextlib import closing
from functools import cached_property
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.cache import close_caches
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import reset_urlconf
from django.core.handlers.exception import convert_exception_to_response
from django.db import close_old_connections, connections, reset_queries
from django.dispatch import Signal
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

from . import AUDITED_DJANGO

logger = logging.getLogger("django.request")  # as Django's BaseHandler

# asgiref < 3.13 has no way to hand a context its executor: fall back to stock Django.
EXECUTOR_CONTEXTS = "executor" in inspect.signature(ThreadSensitiveContext).parameters

type Receive = Callable[[], Awaitable[Mapping[str, Any]]]
type Send = Callable[[Mapping[str, Any]], Awaitable[None]]

# Django's own receivers of the two request signals, and why each has nothing to do in the
# cases handle_pooled() skips a hop for (audited with PooledExecutorASGIHandler.handle_pooled):
# - reset_queries clears the query logs of the thread's connections: empty unless DEBUG is on;
# - close_old_connections closes the thread's connections past CONN_MAX_AGE: with
#   CONN_MAX_AGE=0 the previous request's end already closed them (or gave them back to
#   the pool), and a fresh thread has none. Run on the loop, it sees the connections of
#   the loop's context instead: none, since the ORM refuses to connect from async code;
# - close_caches calls each cache's close(): no I/O for django-redis (unless
#   CLOSE_CONNECTION) and local memory, and a socket close at most for other backends;
# - reset_urlconf clears a context variable, the same on the loop as in the thread.
STARTED_RECEIVERS: frozenset[Callable[..., Any]] = frozenset({reset_queries, close_old_connections})
FINISHED_RECEIVERS: frozenset[Callable[..., Any]] = frozenset({close_old_connections, close_caches, reset_urlconf})


def only_receivers(signal: Signal, sender: type, audited: frozenset[Callable[..., Any]]) -> bool:
    """Whether every receiver ``signal`` would call for ``sender`` is one of ``audited`` (all synchronous)."""
    sync_receivers, async_receivers = signal._live_receivers(sender)
    return not async_receivers and audited.issuperset(sync_receivers)


class RequestExecutor(ThreadPoolExecutor):
    """One thread that runs one request's synchronous calls, in order."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="asgi-request")
        self._last: Future[Any] | None = None
        self.submitted = 0  # calls submitted over the thread's life
        self.request_started_at = 0  # self.submitted when the current request began
        # self.submitted when request_finished last completed in (or for) this thread: equal
        # to self.submitted while nothing has run in the thread since.
        self.finished_at = 0

    def submit[**P, T](self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = super().submit(fn, *args, **kwargs)
        self._last = future
        self.submitted += 1
        return future

    @property
    def used(self) -> bool:
        """Whether the current request ran anything in this thread."""
        return self.submitted != self.request_started_at

    @property
    def clean(self) -> bool:
        """Whether request_finished was the last thing to run in this thread (or nothing ran yet)."""
        return self.finished_at == self.submitted

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
    """ASGIHandler that gives each request a thread of its own for its whole life, reused after a clean finish.

    A thread returns to the (bounded) pool only when request_finished was the last thing it
    ran and nothing is left running in it; a request that raised or was cancelled retires
    its thread like stock Django. Subclasses change ``handle_pooled()``, not ``handle()``.
    """

    # Idle threads kept for reuse; past this, a finished request's thread exits as in stock Django.
    max_idle_executors = 64
    # The Django release whose handle() and load_middleware() are copied here, and whose
    # signal receivers (STARTED_RECEIVERS, FINISHED_RECEIVERS) were audited.
    audited_against = AUDITED_DJANGO

    @cached_property
    def _idle(self) -> list[RequestExecutor]:
        # Created on first use, so subclasses that skip __init__ (as Django's
        # ASGIStaticFilesHandler does) still work.
        return []

    def load_middleware(self, is_async: bool = False) -> None:
        """Django's ``BaseHandler.load_middleware()``, building each audited middleware from its adapter.

        settings.MIDDLEWARE names Django's classes, which system checks look for; each one
        in ``adapters.ADAPTERS`` is built from its ``Inline*`` subclass instead. The line
        marked "changed" is the only change in behaviour.
        """
        # Imported here: the adapters import django.contrib.auth, which needs the app registry.
        from .adapters import ADAPTERS

        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []

        get_response = self._get_response_async if is_async else self._get_response  # type: ignore[attr-defined]
        handler = convert_exception_to_response(get_response)
        handler_is_async = is_async
        for middleware_path in reversed(settings.MIDDLEWARE):
            middleware = ADAPTERS.get(middleware_path) or import_string(middleware_path)  # changed
            middleware_can_sync = getattr(middleware, "sync_capable", True)
            middleware_can_async = getattr(middleware, "async_capable", False)
            if not middleware_can_sync and not middleware_can_async:
                raise RuntimeError(
                    f"Middleware {middleware_path} must have at least one of sync_capable/async_capable set to True."
                )
            elif not handler_is_async and middleware_can_sync:
                middleware_is_async = False
            else:
                middleware_is_async = middleware_can_async
            try:
                # Adapt handler, if needed.
                adapted_handler = self.adapt_method_mode(
                    middleware_is_async,
                    handler,
                    handler_is_async,
                    debug=settings.DEBUG,
                    name=f"middleware {middleware_path}",
                )
                mw_instance = middleware(adapted_handler)
            except MiddlewareNotUsed as exc:
                if settings.DEBUG:
                    if str(exc):
                        logger.debug("MiddlewareNotUsed(%r): %s", middleware_path, exc)
                    else:
                        logger.debug("MiddlewareNotUsed: %r", middleware_path)
                continue
            else:
                handler = adapted_handler

            if mw_instance is None:
                raise ImproperlyConfigured(f"Middleware factory {middleware_path} returned None.")

            if hasattr(mw_instance, "process_view"):
                self._view_middleware.insert(0, self.adapt_method_mode(is_async, mw_instance.process_view))
            if hasattr(mw_instance, "process_template_response"):
                self._template_response_middleware.append(
                    self.adapt_method_mode(is_async, mw_instance.process_template_response),
                )
            if hasattr(mw_instance, "process_exception"):
                # The exception-handling stack is still always synchronous for
                # now, so adapt that way.
                self._exception_middleware.append(self.adapt_method_mode(False, mw_instance.process_exception))

            handler = convert_exception_to_response(mw_instance)
            handler_is_async = middleware_is_async

        # Adapt the top of the stack, if needed.
        handler = self.adapt_method_mode(is_async, handler, handler_is_async)
        # We only assign to this when initialization is complete as it is used
        # as a flag for initialization being complete.
        self._middleware_chain = handler

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if not EXECUTOR_CONTEXTS or scope["type"] != "http":
            # Stock Django: it also refuses non-HTTP scopes with its own message.
            return await super().__call__(scope, receive, send)
        # The most recently used thread first: its stack and caches are warm.
        executor = self._idle.pop() if self._idle else RequestExecutor()
        executor.request_started_at = executor.submitted
        finished = False
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle_pooled(scope, receive, send, executor)
            finished = True
        finally:
            # Reused only when request_finished was the last thing the thread ran: work a
            # task of the request queued after it could have reopened a connection.
            if finished and executor.clean and executor.is_idle() and len(self._idle) < self.max_idle_executors:
                self._idle.append(executor)
            else:
                await retire(executor)

    def started_is_a_no_op(self) -> bool:
        """Whether request_started's receivers would do nothing in a fresh or cleanly reused thread."""
        return (
            not settings.DEBUG
            and all(database["CONN_MAX_AGE"] == 0 for database in connections.settings.values())
            and only_receivers(signals.request_started, self.__class__, STARTED_RECEIVERS)
        )

    def finished_can_run_here(self, executor: RequestExecutor) -> bool:
        """Whether request_finished may run on the loop: nothing of this request ran in its thread."""
        return not executor.used and only_receivers(signals.request_finished, self.__class__, FINISHED_RECEIVERS)

    async def handle_pooled(
        self, scope: dict[str, Any], receive: Receive, send: Send, executor: RequestExecutor
    ) -> None:
        """Django's ``ASGIHandler.handle()`` (see ``audited_against``), minus two thread hops that have nothing to do.

        ``request_started`` is skipped while its receivers would do nothing
        (started_is_a_no_op), and ``response.close()``, which sends ``request_finished``,
        runs on the loop when nothing of the request ran in its thread
        (finished_can_run_here). Any other receiver brings back the stock hop. The lines
        marked "added" record when request_finished completed, for the pool; the rest is
        Django's code, line for line (docs/request-path.md).
        """
        # Receive the HTTP request body as a stream object.
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return

        with closing(body_file):
            # Request is complete and can be served.
            set_script_prefix(get_script_prefix(scope))
            if not self.started_is_a_no_op():  # changed: stock Django always sends it
                await signals.request_started.asend(sender=self.__class__, scope=scope)
            # Get the request and check for basic issues.
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                body_file.close()
                # create_request() returns an error response whenever it returns no request.
                await self.send_response(error_response, send)  # type: ignore[arg-type]
                closing_at = executor.submitted + 1  # added: the submission that runs close()
                await sync_to_async(error_response.close)()  # type: ignore[union-attr]
                executor.finished_at = closing_at  # added
                return

            class RequestProcessed(Exception):  # noqa: N818 - Django's name
                pass

            response = None
            try:
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self.listen_for_disconnect(receive))
                        response = await self.run_get_response(request)
                        await self.send_response(response, send)
                        raise RequestProcessed
                except* (RequestProcessed, RequestAborted):
                    pass
            except BaseExceptionGroup as exception_group:
                if len(exception_group.exceptions) == 1:
                    raise exception_group.exceptions[0]  # noqa: B904 - as Django: the view's own exception
                raise

            if response is None:
                # The thread is not marked clean here: it is retired, as in stock Django.
                await signals.request_finished.asend(sender=self.__class__)
            elif self.finished_can_run_here(executor):  # changed: stock Django always hops
                response.close()
                executor.finished_at = executor.submitted  # added
            else:
                closing_at = executor.submitted + 1  # added: the submission that runs close()
                await sync_to_async(response.close)()
                executor.finished_at = closing_at  # added
