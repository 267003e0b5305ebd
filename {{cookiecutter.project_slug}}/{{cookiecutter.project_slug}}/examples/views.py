from functools import partial

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.views import View

from ..ops.health import readiness
from ..toolkit import CachedResponseMixin, RateLimitMixin, TimeoutMixin, gather_parts, outbound
from . import dashboard
from .previews import PreviewError, fetch_title


class LinkPreviewView(RateLimitMixin, TimeoutMixin, View):
    """The title of a page on an allow-listed host, as JSON: GET /link-preview?url=https://..."""

    rate_window = 60  # seconds
    timeout = 10.0  # seconds, above OUTBOUND_HTTP_TIMEOUT so a slow site counts as failing

    def get_rate_limit(self) -> int:
        return settings.LINK_PREVIEW_RATE_LIMIT

    async def get(self, request: HttpRequest) -> HttpResponse:
        url = request.GET.get("url", "")
        try:
            title = await fetch_title(
                url,
                settings.LINK_PREVIEW_ALLOWED_HOSTS,
                private_addresses=settings.LINK_PREVIEW_PRIVATE_ADDRESSES,
            )
        except PreviewError as error:
            return JsonResponse({"url": url, "error": error.message}, status=error.status)
        return JsonResponse({"url": url, "title": title})


class DashboardView(CachedResponseMixin, TimeoutMixin, View):
    """Staff overview: accounts, services and upstreams gathered at once; a failed part shows alone."""

    cache_timeout = 15  # seconds; the same page for every staff member
    timeout = 10.0  # seconds for the whole page
    part_timeout = 3.0  # seconds for each part

    async def get(self, request: HttpRequest) -> HttpResponse:
        parts = await gather_parts(
            {
                "accounts": dashboard.account_counts,
                "services": readiness,
                **{url: partial(dashboard.upstream_status, url) for url in settings.DASHBOARD_STATUS_URLS},
            },
            part_timeout=self.part_timeout,
        )
        circuits = {origin: breaker.state for origin, breaker in outbound.breakers.items()}
        response = TemplateResponse(request, "examples/dashboard.html", {"parts": parts, "circuits": circuits})
        if not all(part.ok for part in parts.values()):
            add_never_cache_headers(response)  # nor in our cache: the next visit tries again
        return response
