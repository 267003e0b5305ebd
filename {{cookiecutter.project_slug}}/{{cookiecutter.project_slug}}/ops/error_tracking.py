"""Error reports to Sentry, on when SENTRY_DSN is set (settings.py starts it); without it nothing is patched.

Reported: exceptions a view or a middleware lets out (Django's integration), exceptions in
asyncio tasks of the web server (the asyncio integration, once the event loop runs), a
task that raises (``report_failed_task``, whatever the worker's log level), and ERROR log
records with their traceback (``logger.exception``). All the worker reports during a job
is tagged with the task and its id.
Each event is tagged with the request id (``ops.request_id``): the request's own, or in
the task worker the one of the request that queued the job, as the log lines are.

Not sent: personal data (``send_default_pii`` off: no cookies, no user, no IP address),
request bodies (uploads, passwords in forms: ``max_request_body_size="never"``), the
local variables of stack frames (they hold passwords, database URLs and connection
parameters, which the SDK's scrubber does not find inside strings), and no performance
traces unless SENTRY_TRACES_SAMPLE_RATE asks for them. Only Django's and
asyncio's integrations run, plus the SDK's defaults (logging, dedupe, ...): none patches
Redis or outbound HTTP, so requests pay nothing they did not ask for.
https://docs.sentry.io/platforms/python/integrations/django/
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk
from django.core.exceptions import ImproperlyConfigured
from django.tasks import TaskResult, TaskResultStatus
from django.tasks.signals import task_finished, task_started
from sentry_sdk.integrations.asyncio import enable_asyncio_integration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.scrubber import EventScrubber
from sentry_sdk.utils import BadDsn, Dsn

from .request_id import request_id

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

type Scope = MutableMapping[str, Any]
type Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
type Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
type ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def start(dsn: str, *, environment: str, release: str, traces_sample_rate: float) -> None:
    """Initialise the SDK for this process; a DSN that is not one stops the start with a sentence."""
    try:
        Dsn(dsn)
    except BadDsn as error:
        message = f"SENTRY_DSN is not a Sentry DSN ({error}): copy it from the project's Client Keys page in Sentry"
        raise ImproperlyConfigured(message) from None
    if not 0 <= traces_sample_rate <= 1:
        raise ImproperlyConfigured(f"SENTRY_TRACES_SAMPLE_RATE={traces_sample_rate} is not a share between 0 and 1")
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        # Empty: the SDK's own guess (SENTRY_RELEASE, a git checkout), or none.
        release=release or None,
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        # What is left (tags, contexts, breadcrumbs) is scrubbed at every depth, not the top only.
        event_scrubber=EventScrubber(recursive=True),
        traces_sample_rate=traces_sample_rate,
        auto_enabling_integrations=False,
        integrations=[DjangoIntegration(signals_spans=traces_sample_rate > 0)],
        before_send=tag_request_id,
    )


def isolated(application: ASGIApp, *, traced: bool) -> ASGIApp:
    """The ASGI application with each request in a Sentry scope of its own.

    Django's integration patches ``ASGIHandler.__call__``, which the fast path's handler
    replaces, so the scopes are made here. Without one per request, what the integration
    attaches to a request's scope would pile up in a shared one and show in other
    requests' events. With tracing, the SDK's ASGI middleware (scope and transaction);
    without, the scope alone: measured, a third of the middleware's cost per request.
    """
    if traced:
        from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

        return cast(ASGIApp, SentryAsgiMiddleware(application))

    async def in_own_scope(scope: Scope, receive: Receive, send: Send) -> None:
        with sentry_sdk.isolation_scope() as isolation:
            isolation.add_event_processor(partial(describe_request, scope))
            await application(scope, receive, send)

    return in_own_scope


def describe_request(scope: Scope, event: Event, hint: Hint) -> Event:
    """The request's method and URL (no query string, no headers: they can hold secrets), as events show them."""
    if scope.get("type") == "http":
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        request = event.setdefault("request", {})
        request.setdefault("method", scope.get("method", ""))
        request.setdefault("url", f"{scope.get('scheme', 'http')}://{host}{scope.get('path', '')}")
    return event


def tag_request_id(event: Event, hint: Hint) -> Event:
    """Tag the event with the request id of the context it was captured in, as the logs do."""
    current = request_id.get()
    if current is not None:
        event.setdefault("tags", {})["request_id"] = current
    return event


def watch_event_loop() -> None:
    """Report exceptions of the web server's asyncio tasks: called once its event loop runs (config/workers.py)."""
    if sentry_sdk.get_client().is_active():
        enable_asyncio_integration()


def tag_job(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
    """Tag what the worker reports while a job runs, an error log line or the failure itself, with the job."""
    scope = sentry_sdk.get_isolation_scope()
    scope.set_tag("task", task_result.task.module_path)
    scope.set_tag("task_id", str(task_result.id))


def report_failed_task(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
    """Report a task that raised (task_finished is sent in the worker's exception handler), then untag.

    django.tasks also logs the failure at ERROR, which the logging integration reports
    when the worker's log level lets it through; the SDK's dedupe keeps one of the two.
    """
    error = sys.exc_info()[1]
    if task_result.status == TaskResultStatus.FAILED and error is not None:
        sentry_sdk.capture_exception(error)
    scope = sentry_sdk.get_isolation_scope()
    scope.remove_tag("task")
    scope.remove_tag("task_id")


def connect() -> None:
    """Called by ``OpsConfig.ready()`` when Sentry is on."""
    task_started.connect(tag_job, dispatch_uid="ops.tag_job")
    task_finished.connect(report_failed_task, dispatch_uid="ops.report_failed_task")
