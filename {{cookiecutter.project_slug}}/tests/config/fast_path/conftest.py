"""Fixtures for driving the project's ASGI application in-process, stock and fast."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.core.handlers.asgi import ASGIHandler
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support import asgi_urls as urls
from tests.support.asgi import PASSWORD, build


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
    settings.ROOT_URLCONF = "tests.support.asgi_urls"


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
    return User.objects.create_user("alice", "alice@example.com", PASSWORD)
