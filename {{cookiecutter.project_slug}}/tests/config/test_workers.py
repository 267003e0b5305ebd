"""config/workers.py: the servers end open event streams first when they stop, instead of waiting for them."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from django.test import Client

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.processes import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


def read_stream(url: str, session: str, frames: list[str], opened: threading.Event) -> None:
    with httpx.stream("GET", f"{url}/uploads/events/", cookies={"sessionid": session}, timeout=30) as response:
        assert response.status_code == 200
        opened.set()
        frames.extend(response.iter_lines())


@pytest.mark.parametrize("workers", [0, 1], ids=["make-run-server", "gunicorn-worker"])
def test_stopping_the_server_ends_open_streams_at_once(
    live_server_factory: Callable[..., LiveServer], user: User, workers: int
) -> None:
    """TERM with a stream open: it ends with a short retry hint, and the server exits within seconds.

    Without the drain the server would wait for the stream: gunicorn for its graceful
    timeout (30 s), uvicorn alone for ever.
    """
    client = Client()
    client.force_login(user)
    server = live_server_factory(workers=workers)
    frames: list[str] = []
    opened = threading.Event()
    reader = threading.Thread(target=read_stream, args=(server.url, client.cookies["sessionid"].value, frames, opened))
    reader.start()
    assert opened.wait(10)
    time.sleep(0.2)  # the stream is waiting for changes
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=20)
    reader.join(timeout=5)
    assert time.monotonic() - started < 5
    assert not reader.is_alive()
    retry_hints = [frame for frame in frames if frame.startswith("retry: ")]
    assert retry_hints[0] == "retry: 3000"  # the stream's own, first
    assert 200 <= int(retry_hints[-1].removeprefix("retry: ")) <= 2000  # the drain's, last
