from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views import View

from .health import OK, readiness


class HomeView(View):
    """The landing page."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return TemplateResponse(request, "core/home.html")


class HealthzView(View):
    """Liveness: the process is up and serving. Does no I/O."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"status": OK})


class ReadyzView(View):
    """Readiness: 200 when the database and the cache answer, 503 naming what failed."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        checks = await readiness()
        failed = sorted(name for name, state in checks.items() if state != OK)
        if failed:
            body = {"status": "unavailable", "failed": failed, **checks}
            return JsonResponse(body, status=HTTPStatus.SERVICE_UNAVAILABLE)
        return JsonResponse({"status": OK, **checks})
