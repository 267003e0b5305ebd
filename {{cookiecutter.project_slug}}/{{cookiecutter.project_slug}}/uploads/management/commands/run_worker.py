"""Run the task worker, plus a sweep that re-queues uploads whose job was lost and forgets mail sent.

The worker outlives a database outage (a restart, a failover): it waits and tries again
instead of exiting, so supervisord does not give up on it and containers do not restart.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError, connections
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker

{% if cookiecutter.metrics == "yes" -%}
from {{ cookiecutter.project_slug }}.ops import metrics
{% endif -%}
from {{ cookiecutter.project_slug }}.ops.mail import forget_sent

from ...tasks import requeue_stale

logger = logging.getLogger(__name__)

SWEEP_INTERVAL = 30.0  # seconds between sweeps for stalled uploads
RECONNECT_DELAYS = (1.0, 30.0)  # seconds before trying the database again: the first, doubling up to the last


class ResilientWorker(Worker):
    """django-tasks-db's worker, which waits for the database to come back instead of exiting.

    Its loop raises on any database error but a locked SQLite file. Here an unreachable
    database (OperationalError, InterfaceError) is logged and tried again after a growing
    delay; a job it was running is left to the sweep, which queues it again. Other
    errors (a bug) still stop the worker. TERM while waiting stops it at once.
    """

    def run(self) -> None:
        delay = RECONNECT_DELAYS[0]
        while True:  # until the library's loop returns: stopped, or its batch done
            started = time.monotonic()
            try:
                super().run()
                return
            except (OperationalError, InterfaceError) as exc:
                connections.close_all()
                if not self.running:
                    return  # asked to stop meanwhile (TERM during a job): no reason to wait
                if time.monotonic() - started > RECONNECT_DELAYS[1]:
                    delay = RECONNECT_DELAYS[0]  # a new outage, not the same one going on
                # At the longest delay the outage has lasted a minute: an error, for alerts.
                level = logging.ERROR if delay >= RECONNECT_DELAYS[1] else logging.WARNING
                logger.log(level, "the database is unreachable (%s); the worker tries again in %.0fs", exc, delay)
                self.startup_delay = False
                time.sleep(delay)  # TERM now stops at once (Worker.shutdown: no job running)
                delay = min(delay * 2, RECONNECT_DELAYS[1])


def touch_heartbeat() -> None:
    """Mark the worker alive for its health check (WORKER_HEARTBEAT_FILE; compose, Kubernetes)."""
    if path := settings.WORKER_HEARTBEAT_FILE:
        try:
            Path(path).touch()
        except OSError:
            logger.exception("could not touch the heartbeat file %s", path)


def sweep_forever(stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        touch_heartbeat()
        try:
{%- if cookiecutter.metrics == "yes" %}
            if settings.METRICS_ENABLED:
                metrics.beat()  # the worker's heartbeat in /metrics
{%- endif %}
            requeue_stale()
            forget_sent()
        except Exception:
            logger.exception("sweep for stalled uploads and sent mail failed; trying again in %.0fs", interval)
        finally:
            connections.close_all()  # this thread's connections only
        stop.wait(interval)


class Command(DbWorkerCommand):
    help = "Run django-tasks-db's worker, and re-queue uploads whose processing stalled (e.g. a killed worker)."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        # More often than half the timeout finds nothing new; less often delays recovery.
        default = min(SWEEP_INTERVAL, settings.UPLOAD_PROCESSING_TIMEOUT / 2)
        parser.add_argument(
            "--sweep-interval", type=float, default=default, help="Seconds between sweeps for stalled uploads."
        )

    def handle(self, *args: Any, **options: Any) -> None:
{%- if cookiecutter.metrics == "yes" %}
        if settings.METRICS_ENABLED:
            # Here, not in every process: only the worker runs jobs (and only it imports the client).
            metrics.connect()
            metrics.beat()
            if settings.WORKER_METRICS_PORT:
                metrics.serve_worker_metrics(settings.WORKER_METRICS_PORT)
{%- endif %}
        stop = threading.Event()
        sweeper = threading.Thread(
            target=sweep_forever, args=(stop, options.pop("sweep_interval")), name="upload-sweeper", daemon=True
        )
        sweeper.start()
        try:
            if options["reload"]:
                super().handle(*args, **options)  # development: the library's autoreloading worker
            else:
                self.run_worker(**options)
        finally:
            stop.set()

    def run_worker(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options: Any,
    ) -> None:
        """What django-tasks-db's handle() does without autoreload, with the worker that outlives an outage."""
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = ResilientWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )
        worker.configure_signals()
        worker.run()
