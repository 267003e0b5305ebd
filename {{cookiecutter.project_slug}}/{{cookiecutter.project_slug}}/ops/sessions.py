"""Sessions: Django's ``cached_db``, with cached copies that live at most ``CACHE_MAX_AGE`` seconds.

A logout deletes the database row, then the cached copy; when Redis misses that delete,
the cap bounds how long the copy still answers (two weeks with plain ``cached_db``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

# Seconds a session stays in the cache before it is read from the database again: how
# long a logout that Redis missed can leave a copy of the session usable.
CACHE_MAX_AGE = 300


class CappedTimeouts:
    """A cache whose ``set()``/``aset()`` keep a value at most ``max_age`` seconds; everything else is the cache's."""

    def __init__(self, cache: BaseCache, max_age: int) -> None:
        self._cache = cache
        self.max_age = max_age

    def _capped(self, timeout: Any) -> int:
        if timeout is DEFAULT_TIMEOUT or timeout is None:
            return self.max_age
        return min(int(timeout), self.max_age)

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._cache.set(key, value, self._capped(timeout), version)

    async def aset(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:  # noqa: ASYNC109 - the cache API's expiry, not a deadline
        await self._cache.aset(key, value, self._capped(timeout), version)

    def __contains__(self, key: str) -> bool:
        return key in self._cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cache, name)


class SessionStore(cached_db.SessionStore):
    """``cached_db`` sessions whose cached copies live at most ``CACHE_MAX_AGE`` seconds."""

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._cache = CappedTimeouts(caches[settings.SESSION_CACHE_ALIAS], CACHE_MAX_AGE)

    async def aexists(self, session_key: str) -> bool:
        # Django's cached_db asks the cache with a synchronous `in` here: a blocking call on
        # the event loop, refused outright when the cache is a database table.
        if session_key and await self._cache.ahas_key(self.cache_key_prefix + session_key):
            return True
        return await super(cached_db.SessionStore, self).aexists(session_key)
