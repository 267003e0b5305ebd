"""Logging configuration: every record to stdout with its request id, as JSON lines or plain text.

Settings and ``deploy/gunicorn.conf.py`` both call ``logging_config()``; nothing here
needs Django's settings, so gunicorn's master process can use it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from {{ cookiecutter.project_slug }}.ops.request_id import request_id

LOG_FORMATS = ("json", "plain")


class RequestIdFilter(logging.Filter):
    """Add ``record.request_id``: the current request's id, or ``-`` outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, pid, request_id, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "request_id": request_id.get(),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


# Loggers that come with handlers of their own (Django's console handler in DEBUG, the
# uvicorn command's): emptied, so their records reach the root handler once, formatted.
# Django's mail_admins handler goes too: error reports belong to the log pipeline.
OWN_HANDLERS_REMOVED = ("django", "uvicorn", "uvicorn.access", "uvicorn.error")


def logging_config(log_format: str, level: str, loggers: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: every record to stdout once, in one of LOG_FORMATS."""
    return {
        "version": 1,
        # Keep loggers created before this runs (gunicorn's, uvicorn's) working.
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {"()": JsonFormatter},
            # For a terminal: the time of day and the request id's first 8 characters.
            "plain": {
                "format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id).8s] %(message)s",
                "datefmt": "%H:%M:%S",
            },
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {**{name: {"handlers": [], "propagate": True} for name in OWN_HANDLERS_REMOVED}, **(loggers or {})},
    }
