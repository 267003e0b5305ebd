"""A test-only URLconf: the project's URLs plus views that exercise the request path.

The tests here send the same requests through stock Django and the fast path; these
views cover what the middleware and the handler must keep unchanged.
``probe`` lets a test see and steer what a view does in its thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

WAIT = 10.0  # seconds a view waits for the test before giving up


@dataclass
class Probe:
    """What views saw, and the events a test uses to hold them."""

    threads: list[threading.Thread] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    rendezvous: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=WAIT))
    background: list[asyncio.Task[object]] = field(default_factory=list)


# Views read this module attribute on every call; tests replace it with a fresh Probe.
probe = Probe()


async def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("plain page")


def sync_view(request: HttpRequest) -> JsonResponse:
    """A synchronous view: Django runs it in the request's thread."""
    probe.threads.append(threading.current_thread())
    return JsonResponse({"main_thread": threading.current_thread() is threading.main_thread()})


def blocking(request: HttpRequest) -> HttpResponse:
    """Holds its thread until the test sets probe.release."""
    probe.threads.append(threading.current_thread())
    probe.started.set()
    probe.release.wait(WAIT)
    return HttpResponse("released")


def rendezvous(request: HttpRequest) -> HttpResponse:
    """Returns only once a second request is in this view at the same time, in another thread."""
    probe.threads.append(threading.current_thread())
    probe.rendezvous.wait()
    return HttpResponse("met")


async def slow(request: HttpRequest) -> HttpResponse:
    """Waits until the client goes away; Django cancels the view then."""
    probe.started.set()
    try:
        await asyncio.sleep(WAIT)
    except asyncio.CancelledError:
        probe.cancelled.set()
        raise
    return HttpResponse("too late")


async def session_set(request: HttpRequest) -> HttpResponse:
    await request.session.aset("colour", request.GET["colour"])
    return HttpResponse("stored")


async def session_get(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"colour={await request.session.aget('colour', '-')}")


async def message_add(request: HttpRequest) -> HttpResponse:
    messages.success(request, "Saved.")
    return HttpResponse("added")


async def message_read(request: HttpRequest) -> HttpResponse:
    # Reading messages may load the session: do it in the request's thread.
    texts = await sync_to_async(lambda: [str(message) for message in messages.get_messages(request)])()
    return HttpResponse("messages=" + ",".join(texts))


async def whoami(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(f"user={user.get_username() or '-'}")


async def form(request: HttpRequest) -> HttpResponse:
    return HttpResponse("accepted")


async def upload(request: HttpRequest) -> HttpResponse:
    def receive() -> tuple[str | None, int, str]:
        uploaded = request.FILES.getlist("file")[0]
        return uploaded.name, uploaded.size or 0, hashlib.sha256(uploaded.read()).hexdigest()

    name, size, digest = await sync_to_async(receive)()
    return HttpResponse(f"{name} {size} {digest}")


async def users(request: HttpRequest) -> JsonResponse:
    names = [user.get_username() async for user in get_user_model().objects.order_by("username")]
    return JsonResponse({"users": names})


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for number in range(3):
            yield f"chunk {number}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def fire_and_forget(request: HttpRequest) -> HttpResponse:
    """Starts background work that calls sync code after the response: the documented mistake."""

    async def later() -> object:
        await asyncio.to_thread(probe.release.wait, WAIT)
        return await sync_to_async(threading.current_thread)()

    probe.threads.append(await sync_to_async(threading.current_thread)())  # the request's own thread
    probe.background.append(asyncio.create_task(later()))
    return HttpResponse("started")


async def broken(request: HttpRequest) -> HttpResponse:
    """An unhandled exception: Django's 500."""
    raise RuntimeError("the view failed")


urlpatterns = [
    *project_urlpatterns,
    path("t/plain/", plain),
    path("t/sync/", sync_view),
    path("t/blocking/", blocking),
    path("t/rendezvous/", rendezvous),
    path("t/slow/", slow),
    path("t/session/set/", session_set),
    path("t/session/get/", session_get),
    path("t/messages/add/", message_add),
    path("t/messages/read/", message_read),
    path("t/whoami/", whoami),
    path("t/form/", form),
    path("t/upload/", upload),
    path("t/users/", users),
    path("t/stream/", stream),
    path("t/fire-and-forget/", fire_and_forget),
    path("t/broken/", broken),
]
