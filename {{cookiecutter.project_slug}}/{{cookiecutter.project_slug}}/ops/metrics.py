"""Prometheus metrics at /metrics: requests, the task queue and its worker, the database pool.

Collected where they happen, each a memory write:
- requests, by ``MetricsMiddleware`` on the event loop (no thread hop): a latency
  histogram by route (the URL pattern, so ids do not multiply series), method and
  status, whose ``_count`` is the request count, and the requests in progress;
- jobs, by task signals in the worker: finished, by task and outcome, and retried (a job
  that queues its own task again: the uploads' and the mail's retries);
- the worker's heartbeat, when it starts, at every sweep and every job;
- the database pool's connections in use and idle, and requests waiting for one,
  sampled every few seconds by each web process (``sample_database_pool()``).
The queue's depth and the age of its oldest due job are read from the database when
/metrics is scraped.

Every process writes its own files in PROMETHEUS_MULTIPROC_DIR (deploy/entrypoint.sh
empties it at start), and /metrics, answered by whichever gunicorn worker gets the
request, adds them up: one scrape covers every worker and the task worker. Without that
variable (development, tests) each process counts for itself.

/metrics is answered before host validation, like the health checks: Prometheus scrapes
gunicorn directly (``web:8000``, ``127.0.0.1:8000``). nginx refuses it, so the public
internet never reaches it.
https://prometheus.github.io/client_python/multiprocess/
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, InterfaceError, connections
from django.db.models import Case, Count, F, Min, When
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.tasks import DEFAULT_TASK_QUEUE_NAME, TaskResult, TaskResultStatus
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils import timezone
from django.utils.decorators import async_only_middleware
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .health import HEALTH_VIEWS
from .metrics_files import locked

type AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
POOL_SAMPLE_INTERVAL = 5.0  # seconds
QUEUE_READ_TIMEOUT = 2.0  # seconds a scrape waits for the queue's state

REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request (to the start of the response), by route, method and status.",
    ["route", "method", "status"],
)
IN_PROGRESS = Gauge("http_requests_in_progress", "Requests being answered.", multiprocess_mode="livesum")
JOBS_FINISHED = Counter("tasks_finished_total", "Jobs the worker finished, by task and outcome.", ["task", "outcome"])
JOBS_RETRIED = Counter("tasks_retried_total", "Jobs queued again by their own task, to retry.", ["task"])
HEARTBEAT = Gauge(
    "task_worker_heartbeat_timestamp_seconds",
    "When a task worker last showed it is alive (Unix time).",
    multiprocess_mode="max",
)
POOL_CONNECTIONS = Gauge(
    "db_pool_connections", "Database pool connections, by state.", ["state"], multiprocess_mode="livesum"
)
POOL_WAITING = Gauge("db_pool_requests_waiting", "Requests waiting for a pool connection.", multiprocess_mode="livesum")

# The task this process's worker is running, to tell a retry from a first queueing.
running_task: ContextVar[str | None] = ContextVar("running_task", default=None)


def route_of(request: HttpRequest) -> str:
    """The URL pattern that matched, or the probe's path; "unmatched" for the rest (404s), so series stay few."""
    match = request.resolver_match
    if match is not None:
        return match.route
    return request.path_info if request.path_info in HEALTH_VIEWS else "unmatched"


@async_only_middleware
def MetricsMiddleware(get_response: AsyncHandler) -> AsyncHandler:  # noqa: N802 - named like a class in MIDDLEWARE
    """Count and time every request; answer /metrics (before host validation, like the health checks)."""

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        if request.path_info == METRICS_PATH:
            return await metrics_response()
        IN_PROGRESS.inc()
        started = time.perf_counter()
        status = 500
        try:
            response = await get_response(request)
            status = response.status_code
            return response
        finally:
            IN_PROGRESS.dec()
            method = request.method if request.method in METHODS else "OTHER"
            REQUEST_DURATION.labels(route_of(request), method, str(status)).observe(time.perf_counter() - started)

    return middleware


class QueueCollector(Collector):
    """The task queue as read just before a scrape: due jobs per queue, and how long the oldest has waited."""

    def __init__(self, queues: list[Mapping[str, Any]]) -> None:
        self.queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("task_queue_ready_jobs", "Jobs due and waiting for a worker.", labels=["queue"])
        age = GaugeMetricFamily(
            "task_queue_oldest_ready_age_seconds", "How long the oldest due job has waited.", labels=["queue"]
        )
        now = timezone.now()
        # The default queue always has a series, 0 when empty: an alert can tell "empty" from "not scraped".
        waiting = {DEFAULT_TASK_QUEUE_NAME: (0, 0.0)}
        for queue in self.queues:
            waiting[queue["queue_name"]] = (queue["depth"], max((now - queue["oldest"]).total_seconds(), 0.0))
        for name, (jobs, seconds) in sorted(waiting.items()):
            depth.add_metric([name], jobs)
            age.add_metric([name], seconds)
        yield depth
        yield age


async def queue_state() -> list[Mapping[str, Any]]:
    # A job to run at once has no run_after (django-tasks-db stores a far date): it is due since it was queued.
    due_since = Case(When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after"))
    ready = DBTaskResult.objects.ready().values("queue_name").annotate(depth=Count("pk"), oldest=Min(due_since))
    return [queue async for queue in ready.order_by("queue_name")]


class ProcessesCollector(Collector):
    """Every process's metrics, from their files in ``directory``, read while gunicorn folds none (metrics_files.py)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.files = multiprocess.MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]  # untyped

    def collect(self) -> Iterator[Metric]:
        with locked(self.directory, exclusive=False):
            metrics = list(self.files.collect())  # type: ignore[no-untyped-call]  # untyped
        yield from metrics


def shared_registry() -> CollectorRegistry:
    """Every process's metrics with PROMETHEUS_MULTIPROC_DIR set; without it, this process's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    registry.register(ProcessesCollector(directory))
    return registry


def exposition(queues: list[Mapping[str, Any]] | None) -> bytes:
    """Every process's metrics (or this one's), then the queue's (None: unknown), in Prometheus' text format."""
    shared = generate_latest(shared_registry())
    if queues is None:
        return shared
    queue_registry = CollectorRegistry()
    queue_registry.register(QueueCollector(queues))
    return shared + generate_latest(queue_registry)


def serve_worker_metrics(port: int) -> None:
    """The task worker's metrics on a port of its own, from a thread: when it runs without gunicorn next to it.

    Compose's worker service and Kubernetes' worker Deployment are scrape targets of their
    own (WORKER_METRICS_PORT); the queue's series stay with the web processes' /metrics.
    """
    start_http_server(port, registry=shared_registry())


async def metrics_response() -> HttpResponse:
    try:
        # Bounded: with the database down, the pool would wait its own timeout, and
        # Prometheus gives up on a scrape after 10 s.
        queues = await asyncio.wait_for(queue_state(), QUEUE_READ_TIMEOUT)
    except (DatabaseError, InterfaceError, TimeoutError):
        # The processes' own metrics matter most then: served without the queue's series.
        logger.warning("/metrics: the task queue could not be read", exc_info=True)
        queues = None
    # Reading every process's files is disk I/O: in a thread, once per scrape.
    body = await sync_to_async(exposition, thread_sensitive=False)(queues)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


async def sample_database_pool(interval: float = POOL_SAMPLE_INTERVAL) -> None:
    """Copy this process's pool statistics into the gauges, every ``interval`` seconds (PostgreSQL's pool only)."""
    pool = getattr(connections["default"], "pool", None)
    if pool is None:
        return
    while True:
        stats = pool.get_stats()
        in_use = stats.get("pool_size", 0) - stats.get("pool_available", 0)
        POOL_CONNECTIONS.labels("in_use").set(in_use)
        POOL_CONNECTIONS.labels("idle").set(stats.get("pool_available", 0))
        POOL_WAITING.set(stats.get("requests_waiting", 0))
        await asyncio.sleep(interval)


def beat() -> None:
    HEARTBEAT.set_to_current_time()


def job_started(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
    running_task.set(task_result.task.module_path)
    beat()


def job_finished(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
    outcome = "succeeded" if task_result.status == TaskResultStatus.SUCCESSFUL else "failed"
    JOBS_FINISHED.labels(task_result.task.module_path, outcome).inc()
    running_task.set(None)
    beat()


def job_enqueued(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
    if running_task.get() == task_result.task.module_path:
        JOBS_RETRIED.labels(task_result.task.module_path).inc()


def connect() -> None:
    """Count the jobs of this process: called by the task worker (run_worker) as it starts."""
    task_started.connect(job_started, dispatch_uid="ops.metrics.job_started")
    task_finished.connect(job_finished, dispatch_uid="ops.metrics.job_finished")
    task_enqueued.connect(job_enqueued, dispatch_uid="ops.metrics.job_enqueued")
