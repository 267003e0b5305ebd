"""Django's middleware, audited to run its hooks on the event loop unless a hook may do I/O.

Under ASGI, stock Django runs every hook of a ``MiddlewareMixin`` middleware in a thread.
Each ``Inline*`` class subclasses one of Django's and moves a hook to the request's thread
only when it may do I/O (save the session, store messages, parse a POST); under a sync
handler it is Django's middleware, unchanged. ``handler.py`` builds each middleware that
``settings.MIDDLEWARE`` names from its entry in ``ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csp, csrf, security
from django.utils.deprecation import MiddlewareMixin

# Methods RFC 9110 calls safe; CsrfViewMiddleware accepts them without reading the body.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class InlineHooksMixin(MiddlewareMixin):
    """MiddlewareMixin's async path, with hooks on the event loop unless a predicate asks for a thread."""

    def request_in_thread(self, request: HttpRequest) -> bool:
        """Whether process_request may do I/O for this request."""
        return False

    def response_in_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        """Whether process_response may do I/O for this response."""
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # MiddlewareMixin.__acall__ with the two sync_to_async calls made conditional.
        response: HttpResponseBase | None = None
        process_request: Callable[[HttpRequest], HttpResponseBase | None] | None = getattr(
            self, "process_request", None
        )
        if process_request is not None:
            if self.request_in_thread(request):
                response = await sync_to_async(process_request, thread_sensitive=True)(request)
            else:
                response = process_request(request)
        get_response: Callable[[HttpRequest], Any] = self.get_response
        response = response or await get_response(request)
        process_response: Callable[[HttpRequest, HttpResponseBase], HttpResponseBase] | None = getattr(
            self, "process_response", None
        )
        if process_response is not None:
            if self.response_in_thread(request, response):
                response = await sync_to_async(process_response, thread_sensitive=True)(request, response)
            else:
                response = process_response(request, response)
        return response


class InlineSecurityMiddleware(InlineHooksMixin, security.SecurityMiddleware):
    """Fully inline: both hooks only read the request and settings and set headers."""


class InlineSessionMiddleware(InlineHooksMixin, sessions.SessionMiddleware):
    """process_request only builds the (lazy) SessionStore; process_response saves only if modified."""

    def response_in_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        # process_response calls session.save() (and reads the expiry, which may load the
        # session) only when it was modified or SESSION_SAVE_EVERY_REQUEST is on; otherwise
        # it sets or deletes a cookie and patches Vary.
        session = getattr(request, "session", None)
        if session is None:
            return False
        return bool(getattr(session, "modified", True) or settings.SESSION_SAVE_EVERY_REQUEST)


class InlineCommonMiddleware(InlineHooksMixin, common.CommonMiddleware):
    """Fully inline: user-agent and host checks, URL resolution for APPEND_SLASH, Content-Length."""


class InlineCsrfViewMiddleware(InlineHooksMixin, csrf.CsrfViewMiddleware):
    """Inline for safe methods and exempt views; in a thread for unsafe methods and with CSRF_USE_SESSIONS."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if self.async_mode:
            # load_middleware() wraps whatever process_view it finds on the instance in
            # sync_to_async unless it is a coroutine function: hand it the async one.
            self.process_view = self._process_view_async  # type: ignore[method-assign, assignment]

    def request_in_thread(self, request: HttpRequest) -> bool:
        # Reads the CSRF cookie, or the session with CSRF_USE_SESSIONS.
        return bool(settings.CSRF_USE_SESSIONS)

    def view_in_thread(self, request: HttpRequest, callback: Callable[..., Any]) -> bool:
        # Unsafe methods read request.POST (parsing the body) and may render the failure view.
        if settings.CSRF_USE_SESSIONS:
            return True
        if getattr(request, "csrf_processing_done", False) or getattr(callback, "csrf_exempt", False):
            return False
        return request.method not in SAFE_METHODS

    def response_in_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        # Sets a cookie, or writes the token into the session with CSRF_USE_SESSIONS.
        return bool(settings.CSRF_USE_SESSIONS)

    async def _process_view_async(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        process_view = super().process_view
        if self.view_in_thread(request, callback):
            return await sync_to_async(process_view, thread_sensitive=True)(
                request, callback, callback_args, callback_kwargs
            )
        return process_view(request, callback, callback_args, callback_kwargs)


class InlineAuthenticationMiddleware(InlineHooksMixin, auth.AuthenticationMiddleware):
    """Fully inline: sets the lazy request.user and request.auser; nothing is loaded here."""


class InlineMessageMiddleware(InlineHooksMixin, messages.MessageMiddleware):
    """process_request builds the storage; process_response stores only when messages were used or added."""

    def response_in_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        # BaseStorage.update() stores nothing (no cookie, no session write) unless the
        # messages were iterated (used) or a message was added (added_new).
        storage = getattr(request, "_messages", None)
        if storage is None:
            return False
        return bool(getattr(storage, "used", True) or getattr(storage, "added_new", True))


class InlineXFrameOptionsMiddleware(InlineHooksMixin, clickjacking.XFrameOptionsMiddleware):
    """Fully inline: sets one header from settings."""


class InlineContentSecurityPolicyMiddleware(InlineHooksMixin, csp.ContentSecurityPolicyMiddleware):
    """Fully inline: attaches a lazy nonce, then builds the policy headers from settings."""


# Django's path in settings.MIDDLEWARE -> the class that runs under the fast path. Nothing else is adapted.
ADAPTERS: dict[str, type[InlineHooksMixin]] = {
    "django.middleware.security.SecurityMiddleware": InlineSecurityMiddleware,
    "django.contrib.sessions.middleware.SessionMiddleware": InlineSessionMiddleware,
    "django.middleware.common.CommonMiddleware": InlineCommonMiddleware,
    "django.middleware.csrf.CsrfViewMiddleware": InlineCsrfViewMiddleware,
    "django.contrib.auth.middleware.AuthenticationMiddleware": InlineAuthenticationMiddleware,
    "django.contrib.messages.middleware.MessageMiddleware": InlineMessageMiddleware,
    "django.middleware.clickjacking.XFrameOptionsMiddleware": InlineXFrameOptionsMiddleware,
    "django.middleware.csp.ContentSecurityPolicyMiddleware": InlineContentSecurityPolicyMiddleware,
}
