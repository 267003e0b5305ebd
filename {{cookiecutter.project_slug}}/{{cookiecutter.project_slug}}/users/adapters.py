"""How allauth behaves in this project: sign-up can be closed, a rate limit answers 429, and failed
logins are counted per account whatever the Host header."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.ratelimit import respond_429
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest


# allauth ships no type information (no py.typed): its classes are Any to mypy.
class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return bool(settings.SIGNUP_OPEN)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth's key begins with the request's host: each Host header ALLOWED_HOSTS accepts
        # (another port, upper case, a trailing dot) would start a fresh count for the same
        # account. The account's login alone is the key.
        return str(credentials.get("email", credentials.get("username", ""))).lower()
{%- if cookiecutter.username_type == "username" %}

    def authenticate(self, request: HttpRequest, **credentials: Any) -> Any:
        # With usernames and addresses both accepted, allauth also tries an address as a
        # username ("for usernames that look like addresses"), and so checks a known
        # account's password twice: a wrong password then took twice as long for an
        # existing address as for an unknown one. Usernames here cannot hold an "@"
        # (clean_username), so an address is only ever an address.
        if credentials.get("username") is not None and credentials.get("username") == credentials.get("email"):
            credentials = {name: value for name, value in credentials.items() if name != "username"}
        return super().authenticate(request, **credentials)

    def clean_username(self, username: str, shallow: bool = False) -> str:
        if "@" in username:
            raise ValidationError("A username cannot contain “@”: it would read as an email address.")
        cleaned: str = super().clean_username(username, shallow=shallow)
        return cleaned
{%- endif %}

    def validation_error(self, code: str, *args: Any) -> ValidationError:
        # allauth reports a passed login limit as a form error (200, "too many failed
        # login attempts"); every other limit it answers with 429. One answer for all:
        # the 429 page (templates/429.html), which AccountMiddleware returns.
        if code == "too_many_login_attempts" and context.request is not None:
            raise ImmediateHttpResponse(respond_429(context.request))
        error: ValidationError = super().validation_error(code, *args)
        return error
