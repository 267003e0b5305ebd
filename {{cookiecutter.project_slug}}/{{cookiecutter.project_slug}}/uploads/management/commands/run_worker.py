"""Run the task worker, plus a sweep that re-queues uploads whose job was lost and forgets mail sent."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

{% if cookiecutter.metrics == "yes" -%}
from {{ cookiecutter.project_slug }}.ops import metrics
{% endif -%}
from {{ cookiecutter.project_slug }}.ops.mail import forget_sent

from ...tasks import requeue_stale

logger = logging.getLogger(__name__)

SWEEP_INTERVAL = 30.0  # seconds between sweeps for stalled uploads


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
            super().handle(*args, **options)
        finally:
            stop.set()
