"""Upload pages: all async class-based views."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import aget_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from ..toolkit import AsyncLoginRequiredMixin, paginate
from . import status_counts
from .downloads import download_response
from .limits import UploadLimits
from .mixins import ReceivesUploadsMixin, UploadRateLimitMixin
from .models import Upload
from .receive import UploadRejectedError, receive

PAGE_SIZE = 20  # uploads per page


class UploadListView(AsyncLoginRequiredMixin, View):
    """The user's uploads, newest first, with counts by status."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        uploads, pagination = await paginate(request, Upload.objects.owned_by(self.user), PAGE_SIZE)
        context = {"uploads": uploads, "pagination": pagination, "counts": await status_counts.aget(self.user.pk)}
        return TemplateResponse(request, "uploads/list.html", context)


class UploadCreateView(AsyncLoginRequiredMixin, ReceivesUploadsMixin, UploadRateLimitMixin, View):
    """The upload form; several files at once."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return self.form(request)

    async def post(self, request: HttpRequest) -> HttpResponse:
        try:
            uploads = await sync_to_async(receive)(request, self.user)
        except UploadRejectedError as rejected:
            return self.form(request, error=rejected.message, status=rejected.status)
        target = uploads[0].get_absolute_url() if len(uploads) == 1 else reverse("uploads:list")
        return HttpResponseRedirect(target, status=HTTPStatus.SEE_OTHER)

    def form(self, request: HttpRequest, error: str = "", status: int = HTTPStatus.OK) -> HttpResponse:
        context = {"error": error, "limits": UploadLimits.from_settings()}
        return TemplateResponse(request, "uploads/new.html", context, status=status)


class UploadDetailView(AsyncLoginRequiredMixin, View):
    """One upload: its facts, and its progress until the worker is done."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponse:
        upload = await aget_object_or_404(Upload.objects.owned_by(self.user), pk=pk)
        return TemplateResponse(request, "uploads/detail.html", {"upload": upload})


class UploadDownloadView(AsyncLoginRequiredMixin, View):
    """The stored file, as an attachment."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponseBase:
        upload = await aget_object_or_404(Upload.objects.owned_by(self.user), pk=pk)
        return download_response(upload)
