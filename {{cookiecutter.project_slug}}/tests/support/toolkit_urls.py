"""Views built from the toolkit's mixins, the way a project uses them, next to the project's URLs;
tests mount them with ``@pytest.mark.urls("tests.support.toolkit_urls")``."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import path
from django.views import View

from config.urls import urlpatterns as project_urlpatterns

from {{ cookiecutter.project_slug }}.toolkit import CachedResponseMixin, RateLimitMixin, TimeoutMixin
from {{ cookiecutter.project_slug }}.toolkit.event_stream import Event, EventStreamMixin

TEMPLATES = Path(__file__).resolve().parent / "templates"
USER_LIST = engines["django"].from_string((TEMPLATES / "user_list.html").read_text())
CSRF_FORM = engines["django"].from_string((TEMPLATES / "csrf_form.html").read_text())


def rendered() -> str:
    """A fresh token in every rendered page: a page served from the cache repeats one."""
    return uuid.uuid4().hex


class UserListPage(CachedResponseMixin, View):
    """The same page for everyone; its queries run when the template renders."""

    cache_namespace = "users"

    async def get(self, request: HttpRequest) -> HttpResponse:
        users = get_user_model().objects.order_by("username")
        return TemplateResponse(request, USER_LIST, {"users": users, "token": rendered()})


class PersonalPage(CachedResponseMixin, View):
    cache_per_user = True
    cache_namespace = "personal"

    async def get(self, request: HttpRequest) -> HttpResponse:
        user = await request.auser()
        return HttpResponse(f"{user.get_username() or 'anonymous'} rendered {rendered()}")


class VaryingPage(CachedResponseMixin, View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(f"{request.headers.get('X-Variant')} rendered {rendered()}")
        response["Vary"] = "X-Variant"
        return response


class CookiePage(CachedResponseMixin, View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(f"rendered {rendered()}")
        response.set_cookie("seen", "yes")
        return response


class CsrfFormPage(CachedResponseMixin, View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        return TemplateResponse(request, CSRF_FORM, {"token": rendered()})


class MissingPage(CachedResponseMixin, View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(f"rendered {rendered()}", status=404)


class PrivatePage(CachedResponseMixin, View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(f"rendered {rendered()}", headers={"Cache-Control": "private"})


class LimitedPage(RateLimitMixin, View):
    rate_limit = 50
    rate_window = 3600  # seconds: no test outlives a window

    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")


class StrictlyLimitedPage(LimitedPage):
    rate_limit_fail_open = False


class UploadLikePage(RateLimitMixin, View):
    """Counts only POSTs, as an upload form would."""

    rate_limit = 1
    rate_window = 3600
    rate_limit_methods = frozenset({"POST"})

    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("form")

    async def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("uploaded")


class SlowPage(TimeoutMixin, View):
    """Waits until cancelled; records what happened to its work in `events`."""

    timeout = 0.2
    events: list[str] = []  # shared on purpose: the test reads it after the request

    async def get(self, request: HttpRequest) -> HttpResponse:
        self.events.append("started")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.events.append("cancelled")
            raise
        self.events.append("finished")
        return HttpResponse("done")


class QuickPage(TimeoutMixin, View):
    timeout = 5.0

    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("done")


class OwnTimeoutPage(TimeoutMixin, View):
    """Its handler raises TimeoutError of its own: not the mixin's to turn into a 504."""

    timeout = 5.0

    async def get(self, request: HttpRequest) -> HttpResponse:
        async with asyncio.timeout(0.01):
            await asyncio.Event().wait()
        return HttpResponse("unreachable")


class Countdown(EventStreamMixin, View):
    """Events 1, 2, 3… (?count=, default 3), one every ?every= seconds; resumes after Last-Event-ID.

    ``started`` and ``finished`` record the first number of each stream, as it starts and
    as its generator is closed (however the stream ended).
    """

    heartbeat = 0.05
    max_streams = 2
    started: list[int] = []  # shared on purpose: tests read them after the request
    finished: list[int] = []

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Setup in the request's thread, as authentication or an ownership check does.
        await sync_to_async(threading.current_thread)()
        return await super().get(request, *args, **kwargs)

    async def events(self, last_event_id: str) -> AsyncIterator[Event]:
        first = int(last_event_id) + 1 if last_event_id.isdigit() else 1
        count = int(self.request.GET.get("count", "3"))
        every = float(self.request.GET.get("every", "0"))
        self.started.append(first)
        try:
            for number in range(first, first + count):
                await asyncio.sleep(every)
                yield Event({"n": number}, event="tick", id=str(number))
        finally:
            self.finished.append(first)


urlpatterns = [
    path("users", UserListPage.as_view()),
    path("personal", PersonalPage.as_view()),
    path("varying", VaryingPage.as_view()),
    path("cookie", CookiePage.as_view()),
    path("csrf-form", CsrfFormPage.as_view()),
    path("missing", MissingPage.as_view()),
    path("private", PrivatePage.as_view()),
    path("limited", LimitedPage.as_view()),
    path("strictly-limited", StrictlyLimitedPage.as_view()),
    path("upload-like", UploadLikePage.as_view()),
    path("slow", SlowPage.as_view()),
    path("quick", QuickPage.as_view()),
    path("own-timeout", OwnTimeoutPage.as_view()),
    path("stream", Countdown.as_view()),
    path("stream/short-lived", Countdown.as_view(max_life=0.3)),
    path("stream/quiet", Countdown.as_view(idle_timeout=0.3)),
    # The project's own, for the names its templates reverse (error pages included).
    *project_urlpatterns,
]
