"""A small JSON API for scripts: same session authentication and CSRF as the pages."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import aget_object_or_404
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..core.auth import ApiLoginRequiredMixin
from . import intake
from .views import UploadRateLimitMixin, owned_by, paginate


class UploadCollectionApi(ApiLoginRequiredMixin, UploadRateLimitMixin, View):
    """GET: the user's uploads, paginated. POST: upload one or more files (multipart, field ``file``)."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # CSRF is checked in intake.receive(), after the upload limits are in place.
        return csrf_exempt(super().as_view(**initkwargs))

    async def check_rate_limit(self, request: HttpRequest) -> HttpResponse | None:
        """The same limit as the form, answered in JSON."""
        refusal = await super().check_rate_limit(request)
        if refusal is None:
            return None
        headers = {"Retry-After": refusal["Retry-After"]}
        return JsonResponse({"error": refusal.content.decode()}, status=refusal.status_code, headers=headers)

    async def get(self, request: HttpRequest) -> JsonResponse:
        uploads, pagination = await paginate(request, owned_by(self.user))
        return JsonResponse({"results": [upload.as_json() for upload in uploads], **pagination})

    async def post(self, request: HttpRequest) -> JsonResponse:
        try:
            uploads = await sync_to_async(intake.receive)(request, self.user)
        except intake.UploadRejectedError as rejected:
            return JsonResponse({"error": rejected.message}, status=rejected.status)
        return JsonResponse({"results": [upload.as_json() for upload in uploads]}, status=HTTPStatus.CREATED)


class UploadItemApi(ApiLoginRequiredMixin, View):
    """GET: one upload and its processing result."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponseBase:
        try:
            upload = await aget_object_or_404(owned_by(self.user), pk=pk)
        except Http404:
            return JsonResponse({"error": "No such upload."}, status=HTTPStatus.NOT_FOUND)
        return JsonResponse(upload.as_json())
