"""Login required, for async views: ``request.auser()`` instead of the synchronous ``request.user``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from .base import AsyncViewBase


class AsyncLoginRequiredMixin(AsyncViewBase):
    """Anonymous users go to the login page; ``self.user`` is the signed-in user. Async views only.

    Responses without a Cache-Control of their own get ``private, no-store``.
    """

    user: AbstractBaseUser | AnonymousUser

    # Async, unlike View.dispatch: Django awaits what as_view() returns because every
    # handler of the view is async.
    async def dispatch(  # type: ignore[override]
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        self.user = await request.auser()
        if not self.user.is_authenticated:
            return self.handle_no_permission(request)
        response: HttpResponseBase = await super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        if not response.has_header("Cache-Control"):
            # One user's page: never kept by a shared cache, nor by the browser after logout.
            response["Cache-Control"] = "private, no-store"
        return response

    def handle_no_permission(self, request: HttpRequest) -> HttpResponseBase:
        return redirect_to_login(request.get_full_path())


class JsonLoginRequiredMixin(AsyncLoginRequiredMixin):
    """AsyncLoginRequiredMixin for JSON APIs: anonymous requests get a JSON 401."""

    def handle_no_permission(self, request: HttpRequest) -> HttpResponseBase:
        return JsonResponse(
            {"error": "Authentication required: log in at /accounts/login/ and send the session cookie."},
            status=HTTPStatus.UNAUTHORIZED,
        )
