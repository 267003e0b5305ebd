"""config/middleware.py: audited for this Django, and in a thread only when a hook may do I/O."""

from __future__ import annotations

from http import HTTPStatus
from inspect import iscoroutinefunction

import django
import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client as SyncClient
from django.utils.module_loading import import_string
from pytest_django.fixtures import Settings

from config.middleware import ADAPTERS, adapted

from .client import Client, build
from .conftest import FINISHED, RENDER, STARTED, VIEW


def test_adapters_were_audited_against_the_installed_django() -> None:
    """A Django upgrade fails here until someone re-audits config/middleware.py."""
    stale = {adapter.__name__: adapter.audited_against for adapter in ADAPTERS.values()}
    stale = {name: version for name, version in stale.items() if version != django.VERSION[:3]}
    assert not stale, (
        f"Django is now {django.get_version()}; these adapters were audited against another release: {stale}. "
        "Diff each wrapped middleware (and the session and message storages it calls) between the two "
        "releases, correct the *_in_thread predicates in config/middleware.py, then bump audited_against."
    )


def test_each_adapter_wraps_the_django_middleware_it_replaces(settings: Settings) -> None:
    for path, adapter in ADAPTERS.items():
        assert adapter.__mro__[2] is import_string(path), f"{adapter.__name__} does not adapt {path}"
    for path, chain_path in zip(settings.MIDDLEWARE, adapted(settings.MIDDLEWARE), strict=True):
        assert chain_path == path or import_string(chain_path) is ADAPTERS[path]


async def test_stock_middleware_makes_fifteen_thread_hops(hops: list[str]) -> None:
    """The cost the adapters remove: every hook of the project's eight Django middleware runs in a thread."""
    response = await Client(build(fast=False)).get("/t/plain/")
    assert response.status == HTTPStatus.OK
    assert len(hops) == 17  # 15 middleware hooks, plus request_started and request_finished
    assert (hops[0], hops[-1]) == (STARTED, FINISHED)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param("GET", "/t/plain/", [], id="async view"),
        pytest.param("GET", "/accounts/login/", [VIEW, RENDER, FINISHED], id="login page"),
        pytest.param(
            "GET", "/t/session/set/?colour=teal", ["SessionMiddleware.process_response", FINISHED], id="session saved"
        ),
        pytest.param("GET", "/t/messages/add/", ["MessageMiddleware.process_response", FINISHED], id="message stored"),
        pytest.param("POST", "/t/form/", ["CsrfViewMiddleware.process_view", FINISHED], id="CSRF check"),
    ],
)
async def test_fast_path_leaves_the_loop_only_for_io(
    hops: list[str], method: str, path: str, expected: list[str]
) -> None:
    """Hooks hop to the request's thread only to save, store or parse; an async view needs no thread at all."""
    client = Client(build(fast=True))
    await client.get("/accounts/login/")  # a CSRF cookie for the POST
    hops.clear()
    response = await (client.post(path, {}) if method == "POST" else client.get(path))
    assert response.status == HTTPStatus.OK
    assert hops == expected


async def test_csrf_in_sessions_and_save_every_request_move_hooks_to_the_thread(
    settings: Settings, hops: list[str]
) -> None:
    settings.CSRF_USE_SESSIONS = True
    settings.SESSION_SAVE_EVERY_REQUEST = True
    response = await Client(build(fast=True)).get("/t/plain/")
    assert response.status == HTTPStatus.OK
    assert hops == [
        "CsrfViewMiddleware.process_request",
        "CsrfViewMiddleware.process_view",
        "CsrfViewMiddleware.process_response",
        "SessionMiddleware.process_response",
        FINISHED,
    ]


def test_under_a_sync_handler_the_adapters_are_the_stock_middleware(settings: Settings) -> None:
    """Tests, management commands or a WSGI server get Django's middleware unchanged."""
    settings.MIDDLEWARE = adapted(settings.MIDDLEWARE)
    response = SyncClient(enforce_csrf_checks=True).post("/t/form/")
    assert response.status_code == HTTPStatus.FORBIDDEN

    def get_response(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    for adapter in ADAPTERS.values():
        instance = adapter(get_response)
        assert not instance.async_mode
        assert not iscoroutinefunction(getattr(instance, "process_view", None))
