"""Sentry, played locally: an ingest endpoint on 127.0.0.1, and a site with a view and a task that fail.

``IngestServer`` accepts what the Sentry SDK sends (envelopes, POSTed to
``/api/<project>/envelope/``, gzip-compressed) and keeps every event in them, with the raw
bytes, so a test can look for what must not be there. A DSN naming it makes the SDK use
the same HTTP transport it uses with sentry.io.

This module is also the served test site's URLconf (``error_tracking_settings``): the
project's URLs, plus ``/boom/``, an async view that raises, and ``/boom-task/``, which
queues ``fail``, a task that raises in the worker.
"""

from __future__ import annotations

import gzip
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.tasks import task
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from tests.support.processes import wait_for

PROJECT_ID = 42


class IngestServer:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                elif self.headers.get("Content-Encoding") not in {None, "identity"}:
                    raise ValueError(f"unexpected Content-Encoding {self.headers['Content-Encoding']}")
                assert self.path == f"/api/{PROJECT_ID}/envelope/", self.path
                received.raw.append(body)
                received.events.extend(events_in(body))
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://public-key@127.0.0.1:{self.server.server_address[1]}/{PROJECT_ID}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> IngestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def event_with_message(self, text: str) -> dict[str, Any]:
        """The first event whose exception says ``text``, once it has arrived."""

        def found() -> dict[str, Any] | None:
            for event in self.events:
                values = event.get("exception", {}).get("values", [])
                if any(text in str(value.get("value")) for value in values):
                    return event
            return None

        wait_for(found, timeout=60)
        event = found()
        assert event is not None
        return event


def events_in(envelope: bytes) -> list[dict[str, Any]]:
    """The event items of an envelope: a header line, then per item a header line and its payload."""
    events = []
    rest = envelope.split(b"\n", 1)[1] if b"\n" in envelope else b""
    while rest.strip():
        header_line, rest = rest.split(b"\n", 1)
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :].removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        if header.get("type") == "event":
            events.append(json.loads(payload))
    return events


# A secret in a local variable of the failing frame, as a database URL or a password would be.
# Joined at run time: events carry source lines, and the test looks for the value itself.
LOCAL_SECRET = "-".join(("local", "variable", "secret"))


@csrf_exempt
async def boom(request: HttpRequest) -> HttpResponse:
    database_url = f"postgres://app:{LOCAL_SECRET}@db/app"
    raise RuntimeError(f"boom in a view (after {len(database_url)} characters)")


@task()
def fail() -> None:
    raise RuntimeError("boom in a task")


@csrf_exempt
async def boom_task(request: HttpRequest) -> HttpResponse:
    await fail.aenqueue()
    return HttpResponse(status=HTTPStatus.ACCEPTED)


urlpatterns = [
    path("boom/", boom),
    path("boom-task/", boom_task),
    path("", include("config.urls")),
]
