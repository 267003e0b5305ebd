"""Upload pages: all async class-based views."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import aget_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View

from ..toolkit import AsyncLoginRequiredMixin, paginate
from . import live, presentation, status_counts
from .downloads import download_response
from .limits import UploadLimits
from .mixins import ReceivesUploadsMixin, UploadRateLimitMixin
from .models import Upload
from .receive import UploadRejectedError, receive

PAGE_SIZE = 20  # uploads per page


class UploadListView(AsyncLoginRequiredMixin, View):
    """The user's uploads, newest first, with counts by status."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        # Read before the page: the live stream resends anything that changed meanwhile.
        events_since = live.event_id(timezone.now())
        uploads, pagination = await paginate(request, Upload.objects.owned_by(self.user), PAGE_SIZE)
        context = {
            "uploads": uploads,
            "pagination": pagination,
            "counts": await status_counts.aget(self.user.pk),
            "events_since": events_since,
        }
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
        names = ", ".join(upload.original_name for upload in uploads)
        messages.success(request, f"Uploaded {names}. Each file is inspected in the background.")
        target = uploads[0].get_absolute_url() if len(uploads) == 1 else reverse("uploads:list")
        return HttpResponseRedirect(target, status=HTTPStatus.SEE_OTHER)

    def form(self, request: HttpRequest, error: str = "", status: int = HTTPStatus.OK) -> HttpResponse:
        limits = UploadLimits.from_settings()
        context = {
            "error": error,
            "limits": limits,
            "accepted_names": [presentation.type_name(content_type) for content_type in limits.allowed_types],
            "accept": presentation.accept_attribute(limits.allowed_types),
            "events_since": live.event_id(timezone.now()),
        }
        return TemplateResponse(request, "uploads/new.html", context, status=status)


class UploadDetailView(AsyncLoginRequiredMixin, View):
    """One upload: its facts, and its progress until the worker is done."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponse:
        events_since = live.event_id(timezone.now())
        upload = await aget_object_or_404(Upload.objects.owned_by(self.user), pk=pk)
        result = upload.result if upload.status == Upload.Status.DONE else {}
        context = {
            "upload": upload,
            "events_since": events_since,
            "kind": result.get("kind", ""),
            "figures": presentation.figures(result),
            "json_summary": presentation.json_summary(result) if upload.content_type == "application/json" else "",
            "previewable": result.get("kind") == "image" and upload.content_type in presentation.PREVIEWABLE_TYPES,
        }
        return TemplateResponse(request, "uploads/detail.html", context)


class UploadDownloadView(AsyncLoginRequiredMixin, View):
    """The stored file, as an attachment."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponseBase:
        upload = await aget_object_or_404(Upload.objects.owned_by(self.user), pk=pk)
        return download_response(upload)


class UploadPreviewView(AsyncLoginRequiredMixin, View):
    """A processed raster image, shown inline on its page; any other file is not found here."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponseBase:
        previewable = Upload.objects.owned_by(self.user).filter(
            status=Upload.Status.DONE, content_type__in=presentation.PREVIEWABLE_TYPES, result__kind="image"
        )
        upload = await aget_object_or_404(previewable, pk=pk)
        return download_response(upload, inline=True)
