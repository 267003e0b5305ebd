"""config/logs.py: records carry the request id; production writes them as JSON lines."""

import json
import logging
import sys

import pytest

from config.logs import JsonFormatter, RequestIdFilter

from {{ cookiecutter.project_slug }}.ops.request_id import request_id


def log_line(message: str, *args: object) -> str:
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, message, args, None)
    RequestIdFilter().filter(record)
    return JsonFormatter().format(record)


@pytest.mark.usefixtures("no_request_id")
def test_json_log_line() -> None:
    entry = json.loads(log_line("%s uploads", 3))
    assert entry["message"] == "3 uploads"
    assert (entry["level"], entry["logger"], entry["request_id"]) == ("WARNING", "app", None)
    assert entry["time"].endswith("+00:00")


@pytest.mark.usefixtures("no_request_id")
def test_json_log_line_carries_the_request_id() -> None:
    request_id.set("0123456789abcdef0123456789abcdef")
    assert json.loads(log_line("hello"))["request_id"] == "0123456789abcdef0123456789abcdef"


@pytest.mark.usefixtures("no_request_id")
def test_json_log_line_includes_the_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]
