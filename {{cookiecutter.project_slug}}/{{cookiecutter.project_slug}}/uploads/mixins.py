"""What the upload form and the upload API share: the rate limit, and CSRF checked after the limits."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.views.decorators.csrf import csrf_exempt

from ..toolkit import RateLimitMixin
from ..toolkit.base import AsyncViewBase


class UploadRateLimitMixin(RateLimitMixin):
    """Uploads per user and minute (UPLOAD_RATE_LIMIT), one allowance for the form and the API."""

    rate_limit_methods = frozenset({"POST"})
    rate_limit_scope = "uploads"

    def get_rate_limit(self) -> int:
        return int(settings.UPLOAD_RATE_LIMIT)


class ReceivesUploadsMixin(AsyncViewBase):
    """For views whose POST calls receive(): CSRF is checked there, once the upload limits are in place.

    The CSRF middleware would parse the whole body before the limits could apply.
    """

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return csrf_exempt(super().as_view(**initkwargs))
