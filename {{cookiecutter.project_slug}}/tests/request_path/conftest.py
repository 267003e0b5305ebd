"""Fixtures for driving the project's ASGI application in-process, stock and fast."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.core.handlers.asgi import ASGIHandler
from django.dispatch import Signal
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.users.models import User

from . import urls
from .client import build

PASSWORD = "correct horse battery staple"
WAIT = 10.0  # seconds, for conditions the tests poll

# How sync_to_async names the work it moves to the request's thread.
STARTED = "Signal.asend.<locals>.sync_send"  # request_started receivers
FINISHED = "HttpResponseBase.close"  # sends request_finished
VIEW = "View.as_view.<locals>.view"  # a synchronous (class-based) view
RENDER = "SimpleTemplateResponse.render"


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The qualified name of every function sync_to_async runs, in order."""
    names: list[str] = []
    original = SyncToAsync.__call__

    async def counted(self: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
        names.append(getattr(self.func, "__qualname__", type(self.func).__qualname__))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    return names


@pytest.fixture(autouse=True)
def _test_urls(settings: Settings) -> None:
    settings.ROOT_URLCONF = "tests.request_path.urls"


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[urls.Probe]:
    fresh = urls.Probe()
    monkeypatch.setattr(urls, "probe", fresh)
    yield fresh
    fresh.release.set()  # never leave a view waiting


@pytest.fixture(params=["stock", "fast"])
def app(request: pytest.FixtureRequest) -> ASGIHandler:
    """Each of the two applications config/asgi.py can serve."""
    return build(fast=request.param == "fast")


@pytest.fixture
def fast_app() -> ASGIHandler:
    return build(fast=True)


@pytest.fixture
def alice(transactional_db: None) -> User:
    return User.objects.create_user(username="alice", password=PASSWORD)


async def until(event: threading.Event) -> None:
    """Wait, without blocking the loop, until a view sets ``event``."""
    assert await asyncio.to_thread(event.wait, WAIT), "the view never got there"


@contextmanager
def receiving(signal: Signal, *receivers: Callable[..., None]) -> Iterator[None]:
    """``receivers`` connected to ``signal`` for the block, and disconnected after it, whatever happens."""
    for receiver in receivers:
        signal.connect(receiver)
    try:
        yield
    finally:
        for receiver in receivers:
            signal.disconnect(receiver)
