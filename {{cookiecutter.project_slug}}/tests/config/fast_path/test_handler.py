"""The pooled handler keeps Django's thread rules; the one behaviour change; the switch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, cast

import django
import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished, request_started
from django.db import connections
from django.dispatch import Signal
from pytest_django.fixtures import Settings

import config.fast_path.handler
from config.fast_path import AUDITED_DJANGO
from config.fast_path.handler import FINISHED_RECEIVERS, PooledExecutorASGIHandler, RequestExecutor

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support import asgi_urls as urls
from tests.support.asgi import FINISHED, STARTED, WAIT, Client, build, receiving, until
from tests.support.processes import project_env, run_manage


async def test_signals_and_sync_code_of_a_request_share_one_worker_thread(app: ASGIHandler, probe: urls.Probe) -> None:
    seen: dict[str, threading.Thread] = {}

    def started(**kwargs: object) -> None:
        seen["request_started"] = threading.current_thread()

    def finished(**kwargs: object) -> None:
        seen["request_finished"] = threading.current_thread()

    with receiving(request_started, started), receiving(request_finished, finished):
        response = await Client(app).get("/t/sync/")

    assert response.status == HTTPStatus.OK
    assert seen["request_started"] is seen["request_finished"] is probe.threads[0]
    assert probe.threads[0] is not threading.current_thread()  # not the event loop's thread


async def test_a_request_that_needs_no_thread_sends_request_finished_on_the_loop(
    monkeypatch: pytest.MonkeyPatch, fast_app: ASGIHandler, hops: list[str]
) -> None:
    """An async view that runs no synchronous code costs no thread hop, and request_finished is still sent."""
    seen: list[threading.Thread] = []

    def finished(**kwargs: object) -> None:
        seen.append(threading.current_thread())

    # Counted among Django's own receivers, so the handler keeps the request on the loop.
    monkeypatch.setattr(config.fast_path.handler, "FINISHED_RECEIVERS", FINISHED_RECEIVERS | {finished})
    with receiving(request_finished, finished):
        response = await Client(fast_app).get("/t/plain/")

    assert response.status == HTTPStatus.OK
    assert hops == []
    assert seen == [threading.current_thread()]


@pytest.mark.parametrize("signal", [request_started, request_finished], ids=["request_started", "request_finished"])
async def test_any_other_receiver_runs_in_the_requests_thread(app: ASGIHandler, signal: Signal) -> None:
    """A receiver from the project or a package brings back stock behaviour, even for a request that needs no thread."""
    seen: list[threading.Thread] = []

    def receiver(**kwargs: object) -> None:
        seen.append(threading.current_thread())

    with receiving(signal, receiver):
        response = await Client(app).get("/t/plain/")

    assert response.status == HTTPStatus.OK
    assert len(seen) == 1
    assert seen[0] is not threading.current_thread()


@pytest.mark.parametrize("setting", ["DEBUG", "CONN_MAX_AGE"])
async def test_request_started_is_sent_when_its_receivers_have_work(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, fast_app: ASGIHandler, hops: list[str], setting: str
) -> None:
    """With DEBUG on, reset_queries has query logs to clear; with persistent connections,
    close_old_connections has connections to check: then the signal is sent, as in stock Django."""
    if setting == "DEBUG":
        settings.DEBUG = True
    else:
        monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    response = await Client(fast_app).get("/t/plain/")
    assert response.status == HTTPStatus.OK
    assert hops == [STARTED, FINISHED]


def test_fast_path_was_audited_against_the_installed_django() -> None:
    """A Django upgrade fails here until someone re-reads what config/fast_path/ copies, skips and predicts."""
    assert AUDITED_DJANGO == django.VERSION[:3], (
        f"Django is now {django.get_version()}; config/fast_path/ was audited against {AUDITED_DJANGO}. "
        "Diff ASGIHandler.handle() and BaseHandler.load_middleware() between the two releases and carry the "
        "changes into handler.py; re-check what Django's receivers of request_started and request_finished do "
        "(STARTED_RECEIVERS, FINISHED_RECEIVERS); diff each middleware in adapters.ADAPTERS (and the session and "
        "message storages it calls) and correct its *_in_thread predicates; then bump AUDITED_DJANGO."
    )
    assert PooledExecutorASGIHandler.audited_against == AUDITED_DJANGO


async def test_concurrent_requests_get_different_threads(app: ASGIHandler, probe: urls.Probe) -> None:
    """Each view waits for the other: sharing a thread would deadlock them."""
    client = Client(app)
    first, second = await asyncio.gather(client.get("/t/rendezvous/"), client.get("/t/rendezvous/"))
    assert (first.status, second.status) == (HTTPStatus.OK, HTTPStatus.OK)
    assert probe.threads[0] is not probe.threads[1]


async def test_a_finished_requests_thread_serves_the_next_request(fast_app: ASGIHandler, probe: urls.Probe) -> None:
    client = Client(fast_app)
    await client.get("/t/sync/")
    await client.get("/t/sync/")
    assert probe.threads[0] is probe.threads[1]
    assert probe.threads[0].is_alive()


async def test_a_busy_thread_is_not_lent_to_another_request(fast_app: ASGIHandler, probe: urls.Probe) -> None:
    client = Client(fast_app)
    await client.get("/t/sync/")  # leaves one idle thread
    held = asyncio.create_task(client.get("/t/blocking/"))
    await until(probe.started)
    await client.get("/t/sync/")
    probe.release.set()
    await held
    _, blocking, concurrent = probe.threads
    assert concurrent is not blocking


async def test_a_request_that_raised_retires_its_thread(app: ASGIHandler, probe: urls.Probe) -> None:
    client = Client(app)

    def client_gone(message: Mapping[str, Any]) -> None:
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await client.get("/t/sync/", send_hook=client_gone)
    retired = probe.threads[0]
    assert not retired.is_alive()
    await client.get("/t/sync/")
    assert probe.threads[1] is not retired


async def test_a_cancelled_request_retires_its_thread(app: ASGIHandler, probe: urls.Probe) -> None:
    request = asyncio.create_task(Client(app).get("/t/blocking/"))
    await until(probe.started)
    request.cancel()
    probe.release.set()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert not probe.threads[0].is_alive()


async def test_a_thread_with_work_left_is_retired(fast_app: ASGIHandler, probe: urls.Probe) -> None:
    """Work still running when the request ends (a task the view did not await) keeps the thread from the pool."""
    leftover: list[asyncio.Future[bool]] = []

    def hold_the_thread() -> bool:
        probe.started.set()
        return probe.release.wait(WAIT)

    def queue_more_work(**kwargs: object) -> None:
        # Runs in the request's thread at the very end of the request; the task it
        # starts on the loop inherits the request's context, so its thread.
        loop.call_soon_threadsafe(lambda: leftover.append(asyncio.ensure_future(sync_to_async(hold_the_thread)())))

    loop = asyncio.get_running_loop()
    with receiving(request_finished, queue_more_work):
        request = asyncio.create_task(Client(fast_app).get("/t/sync/"))
        await until(probe.started)
    assert not request.done()  # it waits for its thread to finish the work, as stock Django does
    probe.release.set()
    await request
    assert await leftover[0]
    assert not probe.threads[0].is_alive()


async def test_a_thread_that_ran_work_after_request_finished_is_retired(
    fast_app: ASGIHandler, probe: urls.Probe
) -> None:
    """Even work that finished in time: request_finished must be the last thing a pooled thread ran.

    Otherwise the thread could go back to the pool holding a database connection that
    work opened after close_old_connections ran.
    """
    leftover: list[asyncio.Future[threading.Thread]] = []

    def quick() -> threading.Thread:
        return threading.current_thread()

    def queue_more_work(**kwargs: object) -> None:
        loop.call_soon_threadsafe(lambda: leftover.append(asyncio.ensure_future(sync_to_async(quick)())))

    loop = asyncio.get_running_loop()
    with receiving(request_finished, queue_more_work):
        response = await Client(fast_app).get("/t/sync/")
    assert response.status == HTTPStatus.OK
    ran_in = await leftover[0]
    assert ran_in is probe.threads[0]  # the request's thread, after request_finished
    assert not ran_in.is_alive()  # retired, not pooled


def test_request_executor_is_idle_only_when_its_queue_is_empty() -> None:
    executor = RequestExecutor()
    release = threading.Event()
    try:
        assert executor.is_idle()
        executor.submit(release.wait, WAIT)
        queued = executor.submit(int)
        assert not executor.is_idle()
        release.set()
        queued.result(WAIT)
        assert executor.is_idle()
    finally:
        release.set()
        executor.shutdown()


async def test_without_executor_contexts_the_handler_is_stock(
    monkeypatch: pytest.MonkeyPatch, fast_app: ASGIHandler, probe: urls.Probe
) -> None:
    """With asgiref older than 3.13, every request gets a new thread, as in stock Django."""
    monkeypatch.setattr(config.fast_path.handler, "EXECUTOR_CONTEXTS", False)
    client = Client(fast_app)
    await client.get("/t/sync/")
    await client.get("/t/sync/")
    assert probe.threads[0] is not probe.threads[1]
    assert not probe.threads[0].is_alive()


async def test_non_http_scopes_are_refused_as_in_stock_django(fast_app: ASGIHandler) -> None:
    async def receive() -> Mapping[str, Any]:
        raise AssertionError

    async def send(message: Mapping[str, Any]) -> None:
        raise AssertionError

    with pytest.raises(ValueError, match="Django can only handle ASGI/HTTP connections, not websocket"):
        await fast_app({"type": "websocket"}, receive, send)


@pytest.mark.django_db(transaction=True)
async def test_a_burst_of_requests_returns_every_pooled_connection(fast_app: ASGIHandler, alice: User) -> None:
    """More concurrent ORM requests than the pool holds: all succeed, and every connection comes back."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... to check the connection pool's statistics")
    pool = cast(Any, connections["default"]).pool
    max_size = pool.max_size

    def checked_out() -> int:
        stats = pool.get_stats()
        return int(stats["pool_size"] - stats["pool_available"])

    before = checked_out()  # the fixtures' connection
    client = Client(fast_app)
    responses = await asyncio.gather(*(client.get("/t/users/") for _ in range(2 * max_size)))
    assert [response.status for response in responses] == [HTTPStatus.OK] * (2 * max_size)
    # The pool counts a connection it is still opening (it grew for the burst) as in use:
    # wait for that. A leak would keep one connection per request thread out for good.
    for _ in range(int(WAIT / 0.05)):
        if checked_out() <= before:
            break
        await asyncio.sleep(0.05)
    assert checked_out() <= before
    assert pool.get_stats()["requests_waiting"] == 0


# The documented behaviour change --------------------------------------------------------


async def test_sync_code_in_a_task_that_outlives_its_request_fails_loudly(
    fast_app: ASGIHandler, probe: urls.Probe
) -> None:
    """Background work must not call sync_to_async after the response: use the task queue."""
    response = await Client(fast_app).get("/t/fire-and-forget/")
    assert response.status == HTTPStatus.OK
    probe.release.set()
    with pytest.raises(RuntimeError, match="ThreadSensitiveContext has exited"):
        await probe.background[0]


async def test_stock_django_runs_such_a_task_in_a_stray_thread(probe: urls.Probe) -> None:
    """What the fast path changes: stock Django silently starts a new thread the request never owned."""
    response = await Client(build(fast=False)).get("/t/fire-and-forget/")
    assert response.status == HTTPStatus.OK
    probe.release.set()
    stray = await probe.background[0]
    assert isinstance(stray, threading.Thread)
    assert stray is not threading.current_thread()
    assert stray is not probe.threads[0]  # not the thread the request owned


# The switch -----------------------------------------------------------------------------

# The handler config.asgi serves, and how its chain runs CsrfViewMiddleware.process_view:
# a coroutine method of the adapter (fast), or Django's sync one wrapped in SyncToAsync.
PRINT_APPLICATION = (
    "from config.asgi import application; "
    "handler = getattr(application, 'application', application); "  # inside the DEBUG static files handler
    "print(type(handler).__name__, type(handler._view_middleware[0]).__name__)"
)


@pytest.mark.parametrize(
    ("switch", "handler", "process_view"),
    [
        ("", "PooledExecutorASGIHandler", "method"),
        ("1", "PooledExecutorASGIHandler", "method"),
        ("0", "ASGIHandler", "SyncToAsync"),
    ],
)
def test_asgi_fast_path_switches_handler_and_middleware(switch: str, handler: str, process_view: str) -> None:
    result = run_manage("shell", "--no-imports", "-c", PRINT_APPLICATION, env=project_env(ASGI_FAST_PATH=switch))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [handler, process_view]
