"""Whole responses in the cache, keyed like Django's ``cache_page``, invalidated by generation.

Invalidating a namespace stores a new generation in its key prefix: every old entry
becomes unreachable at once and expires on its own. The functions here are blocking;
``CachedResponseMixin`` runs them in the request's thread.
"""

from __future__ import annotations

import uuid
from functools import partial
from http import HTTPStatus
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.cache import BaseCache, caches
from django.http import HttpRequest, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from django.utils.cache import get_cache_key, get_max_age, has_vary_header, learn_cache_key
from django.utils.http import split_directive_names

from .base import AsyncViewBase, PendingResponse

UNCACHEABLE_DIRECTIVES = frozenset({"private", "no-cache", "no-store"})
# A generation that expires only costs its namespace one miss per page.
GENERATION_TIMEOUT = 24 * 60 * 60  # seconds


def user_key(user: AbstractBaseUser | AnonymousUser | None) -> str:
    """The part of the key that separates users: "shared" for views that are the same for all."""
    if user is None:
        return "shared"
    return f"user{user.pk}" if user.is_authenticated else "anonymous"


def _generation_key(namespace: str, user_key: str) -> str:
    return f"response-cache:{namespace}:{user_key}:generation"


def current_generation(cache: BaseCache, namespace: str, user_key: str) -> str | None:
    """The namespace's generation, created on first use; None when the cache is unreachable."""
    key = _generation_key(namespace, user_key)
    generation: str | None = cache.get(key)
    if generation is None:
        # add() keeps a generation another request created meanwhile; read back the winner.
        cache.add(key, uuid.uuid4().hex, timeout=GENERATION_TIMEOUT)
        generation = cache.get(key)
    return generation


def key_prefix(namespace: str, user_key: str, generation: str) -> str:
    return f"{namespace}.{user_key}.{generation}"


def lookup(
    request: HttpRequest, namespace: str, user_key: str, alias: str
) -> tuple[str | None, HttpResponseBase | None]:
    """Return (key prefix, cached response); the prefix is None when the cache is down."""
    cache = caches[alias]
    generation = current_generation(cache, namespace, user_key)
    if generation is None:
        return None, None
    prefix = key_prefix(namespace, user_key, generation)
    key = get_cache_key(request, prefix, "GET", cache)
    response: HttpResponseBase | None = cache.get(key) if key else None
    return prefix, response


def timeout_for(request: HttpRequest, response: HttpResponseBase, default: int) -> int:
    """Seconds to keep the response, or 0 when it must not be shared from the cache.

    Only a successful GET without cookies is stored, and not when the page used a CSRF
    token (CsrfViewMiddleware will set the cookie it belongs to) or when Cache-Control or
    Vary forbid it. A ``max-age`` on the response overrides the view's default.
    """
    if request.method != "GET" or response.status_code != HTTPStatus.OK or response.streaming:
        return 0
    if response.cookies or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return 0
    if UNCACHEABLE_DIRECTIVES.intersection(split_directive_names(response.get("Cache-Control", ""))):
        return 0
    if has_vary_header(response, "*"):
        return 0
    max_age = get_max_age(response)
    return default if max_age is None else max_age


def store(request: HttpRequest, response: HttpResponseBase, prefix: str, default_timeout: int, alias: str) -> None:
    """Store a rendered response if it may be shared."""
    timeout = timeout_for(request, response, default_timeout)
    if timeout > 0:
        cache = caches[alias]
        cache.set(learn_cache_key(request, response, timeout, prefix, cache), response, timeout)


def invalidate(namespace: str, user: AbstractBaseUser | AnonymousUser | None = None, alias: str = "default") -> None:
    """Make the namespace's cached responses unreachable: the shared ones, or one user's."""
    caches[alias].set(_generation_key(namespace, user_key(user)), uuid.uuid4().hex, timeout=GENERATION_TIMEOUT)


async def ainvalidate(
    namespace: str, user: AbstractBaseUser | AnonymousUser | None = None, alias: str = "default"
) -> None:
    """invalidate() from async code, e.g. after a write: ``await ainvalidate("uploads", user)``."""
    await sync_to_async(invalidate)(namespace, user, alias)


class CachedResponseMixin(AsyncViewBase):
    """Serve GET and HEAD from the cache: one copy per URL and Vary, and per user if `cache_per_user`."""

    cache_timeout: int = 60  # seconds; a max-age on the response takes precedence
    # Personal pages set this: the key then includes the user (from request.auser()).
    cache_per_user: bool = False
    # Writes call `await ainvalidate(namespace[, user])`. Default: the class name.
    cache_namespace: str = ""
    cache_alias: str = "default"

    def get_cache_namespace(self) -> str:
        return self.cache_namespace or type(self).__name__

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        if request.method not in {"GET", "HEAD"}:
            return await cast(PendingResponse, super().dispatch(request, *args, **kwargs))
        user = await request.auser() if self.cache_per_user else None
        prefix, cached = await sync_to_async(lookup)(
            request, self.get_cache_namespace(), user_key(user), self.cache_alias
        )
        if cached is not None:
            return cached
        response = await cast(PendingResponse, super().dispatch(request, *args, **kwargs))
        if prefix is None:  # the cache is unreachable: serve the page, store nothing
            return response
        store_later = partial(store, request, prefix=prefix, default_timeout=self.cache_timeout, alias=self.cache_alias)
        if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
            # Django renders it later, in a thread; store it then, as cache_page does.
            response.add_post_render_callback(store_later)
        else:
            await sync_to_async(store_later)(response)
        return response
