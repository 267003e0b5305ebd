"""config/fast_path/adapters.py: built by the fast handler, and in a thread only when a hook may do I/O."""

from __future__ import annotations

from http import HTTPStatus
from inspect import iscoroutinefunction

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client as SyncClient
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string
from pytest_django.fixtures import Settings

from config.fast_path.adapters import ADAPTERS

from tests.support.asgi import FINISHED, RENDER, STARTED, VIEW, Client, build


def adapted(middleware: list[str]) -> list[str]:
    """settings.MIDDLEWARE with each audited Django middleware replaced by its adapter's path."""
    return [
        f"{ADAPTERS[path].__module__}.{ADAPTERS[path].__qualname__}" if path in ADAPTERS else path
        for path in middleware
    ]


def test_each_adapter_wraps_the_django_middleware_it_replaces() -> None:
    for path, adapter in ADAPTERS.items():
        assert adapter.__mro__[2] is import_string(path), f"{adapter.__name__} does not adapt {path}"


def test_the_fast_handler_builds_each_audited_middleware_from_its_adapter(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """settings.MIDDLEWARE names Django's classes; the fast handler's chain is made of their adapters."""
    built: list[type] = []
    original = MiddlewareMixin.__init__

    def recording(self: MiddlewareMixin, get_response: object) -> None:
        built.append(type(self))
        original(self, get_response)  # type: ignore[arg-type]

    monkeypatch.setattr(MiddlewareMixin, "__init__", recording)
    build(fast=True)
    classes = [import_string(path) for path in reversed(adapted(settings.MIDDLEWARE))]
    assert built == [cls for cls in classes if isinstance(cls, type) and issubclass(cls, MiddlewareMixin)]
    assert set(ADAPTERS.values()) <= set(built)


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
