"""The async view toolkit: import from here. It imports nothing from the project's feature apps."""

from .auth import AsyncLoginRequiredMixin, JsonLoginRequiredMixin
from .breaker import CircuitBreaker, CircuitOpenError
from .fanout import Part, gather_parts
from .pagination import paginate
from .ratelimit import RateLimitMixin
from .response_cache import CachedResponseMixin, ainvalidate, invalidate
from .timeouts import TimeoutMixin

__all__ = [
    "AsyncLoginRequiredMixin",
    "CachedResponseMixin",
    "CircuitBreaker",
    "CircuitOpenError",
    "JsonLoginRequiredMixin",
    "Part",
    "RateLimitMixin",
    "TimeoutMixin",
    "ainvalidate",
    "gather_parts",
    "invalidate",
    "paginate",
]
