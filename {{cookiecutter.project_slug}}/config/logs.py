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


def logging_config(log_format: str, level: str, loggers: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: everything to stdout, in one of LOG_FORMATS."""
    return {
        "version": 1,
        # Keep loggers created before this runs (gunicorn's, uvicorn's) working.
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
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
        "loggers": loggers or {},
    }
