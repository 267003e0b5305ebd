"""Upload pages: all async class-based views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.paginator import AsyncPaginator
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import aget_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..core.auth import LoginRequiredMixin
from ..core.mixins import RateLimitMixin
from . import counts, intake
from .models import Upload
from .processing import CHUNK_SIZE

PAGE_SIZE = 20  # uploads per page


def owned_by(user: Any) -> QuerySet[Upload]:
    """The only way views look uploads up: someone else's id is simply not found (404, not 403)."""
    return Upload.objects.filter(owner=user)


async def paginate(request: HttpRequest, queryset: QuerySet[Upload]) -> tuple[list[Upload], dict[str, Any]]:
    """One page of ``queryset`` (``?page=N``; out-of-range numbers give the last page)."""
    paginator = AsyncPaginator(queryset, PAGE_SIZE)
    page = await paginator.aget_page(request.GET.get("page"))
    objects = await page.aget_object_list()
    return objects, {
        "number": page.number,
        "num_pages": await paginator.anum_pages(),
        "count": await paginator.acount(),
        "previous": await page.aprevious_page_number() if await page.ahas_previous() else None,
        "next": await page.anext_page_number() if await page.ahas_next() else None,
    }


async def stream(file: FieldFile) -> AsyncIterator[bytes]:
    """Read a stored file in chunks, each read in a thread (development downloads only)."""
    handle = await sync_to_async(file.open)("rb")
    try:
        while chunk := await sync_to_async(handle.read)(CHUNK_SIZE):
            yield chunk
    finally:
        await sync_to_async(file.close)()


def download_response(upload: Upload) -> HttpResponseBase:
    """Always an attachment, never rendered from the site's origin.

    With DOWNLOAD_X_ACCEL_PREFIX set (production), nginx sends the file from its
    internal location: under ASGI, Django would hold the whole file in memory.
    """
    headers = {
        "Content-Disposition": content_disposition_header(as_attachment=True, filename=upload.original_name),
        "X-Content-Type-Options": "nosniff",
    }
    content_type = upload.content_type or "application/octet-stream"
    if prefix := settings.DOWNLOAD_X_ACCEL_PREFIX:
        headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(str(upload.file.name))
        return HttpResponse(content_type=content_type, headers=headers)
    return StreamingHttpResponse(stream(upload.file), content_type=content_type, headers=headers)


class UploadListView(LoginRequiredMixin, View):
    """The user's uploads, newest first, with counts by status."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        uploads, pagination = await paginate(request, owned_by(self.user))
        context = {"uploads": uploads, "pagination": pagination, "counts": await counts.aget(self.user.pk)}
        return TemplateResponse(request, "uploads/list.html", context)


class UploadRateLimitMixin(RateLimitMixin):
    """Uploads per user and minute (UPLOAD_RATE_LIMIT), shared by the form and the API."""

    rate_limit_methods = frozenset({"POST"})
    rate_limit_scope = "uploads"

    def get_rate_limit(self) -> int:
        return int(settings.UPLOAD_RATE_LIMIT)


class UploadCreateView(LoginRequiredMixin, UploadRateLimitMixin, View):
    """The upload form; several files at once."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # CSRF is checked in intake.receive(), after the upload limits are in place:
        # the CSRF middleware would parse the whole body before they could be.
        return csrf_exempt(super().as_view(**initkwargs))

    async def get(self, request: HttpRequest) -> HttpResponse:
        return self.form(request)

    async def post(self, request: HttpRequest) -> HttpResponse:
        try:
            uploads = await sync_to_async(intake.receive)(request, self.user)
        except intake.UploadRejectedError as rejected:
            return self.form(request, error=rejected.message, status=rejected.status)
        target = uploads[0].get_absolute_url() if len(uploads) == 1 else reverse("uploads:list")
        return HttpResponseRedirect(target, status=HTTPStatus.SEE_OTHER)

    def form(self, request: HttpRequest, error: str = "", status: int = HTTPStatus.OK) -> HttpResponse:
        context = {
            "error": error,
            "max_bytes": settings.UPLOAD_MAX_BYTES,
            "max_files": settings.UPLOAD_MAX_FILES,
            "allowed_types": settings.UPLOAD_ALLOWED_TYPES,
        }
        return TemplateResponse(request, "uploads/new.html", context, status=status)


class UploadDetailView(LoginRequiredMixin, View):
    """One upload: its facts, and its progress until the worker is done."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponse:
        upload = await aget_object_or_404(owned_by(self.user), pk=pk)
        return TemplateResponse(request, "uploads/detail.html", {"upload": upload})


class UploadDownloadView(LoginRequiredMixin, View):
    """The stored file, as an attachment."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponseBase:
        upload = await aget_object_or_404(owned_by(self.user), pk=pk)
        return download_response(upload)
