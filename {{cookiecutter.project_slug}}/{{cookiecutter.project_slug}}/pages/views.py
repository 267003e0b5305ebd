from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views import View


class HomeView(View):
    """The landing page."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return TemplateResponse(request, "pages/home.html")
