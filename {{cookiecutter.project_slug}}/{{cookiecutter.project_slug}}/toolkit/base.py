"""Typing support shared by the toolkit's mixins."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from django.http import HttpResponseBase

if TYPE_CHECKING:
    # django-stubs types View.dispatch as synchronous; the mixins override it with an
    # async def (hence their ignore[override]) and await the next dispatch in line.
    from django.views import View

    AsyncViewBase = View
else:
    AsyncViewBase = object

# What the next dispatch() in line returns for an async view.
type PendingResponse = Awaitable[HttpResponseBase]
