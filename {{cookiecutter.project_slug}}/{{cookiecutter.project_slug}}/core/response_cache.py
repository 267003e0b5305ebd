"""Whole responses in the Django cache, keyed like Django's cache_page and invalidated by generation.

Keys come from ``django.utils.cache`` (the URL, the request headers the response's
``Vary`` names, the language and time zone) under a prefix made of a namespace, the
namespace's current *generation* and, for per-user views, the user. Invalidating a
namespace stores a new generation: every old key becomes unreachable at once and expires
on its own; nothing has to find and delete the variants.

Every function here is blocking; callers run them in a thread (``sync_to_async``).
"""

from __future__ import annotations

import uuid
from http import HTTPStatus

from asgiref.sync import sync_to_async
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.cache import BaseCache, caches
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import get_cache_key, get_max_age, has_vary_header, learn_cache_key
from django.utils.http import split_directive_names

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
