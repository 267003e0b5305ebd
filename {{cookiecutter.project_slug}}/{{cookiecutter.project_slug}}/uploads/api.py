"""A small JSON API for scripts: the same session authentication and CSRF as the pages."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse
from django.shortcuts import aget_object_or_404
from django.views import View

from ..toolkit import JsonLoginRequiredMixin, paginate
from .mixins import ReceivesUploadsMixin, UploadRateLimitMixin
from .models import Upload
from .receive import UploadRejectedError, receive

PAGE_SIZE = 20  # uploads per page of results


class UploadCollectionApi(JsonLoginRequiredMixin, ReceivesUploadsMixin, UploadRateLimitMixin, View):
    """GET: the user's uploads, paginated. POST: upload one or more files (multipart, field ``file``)."""

    def rate_limit_refusal(self, status: HTTPStatus, message: str, retry_after: int) -> HttpResponseBase:
        return JsonResponse({"error": message}, status=status, headers={"Retry-After": str(retry_after)})

    async def get(self, request: HttpRequest) -> JsonResponse:
        uploads, pagination = await paginate(request, Upload.objects.owned_by(self.user), PAGE_SIZE)
        return JsonResponse({"results": [upload.as_json() for upload in uploads], **pagination})

    async def post(self, request: HttpRequest) -> JsonResponse:
        try:
            uploads = await sync_to_async(receive)(request, self.user)
        except UploadRejectedError as rejected:
            return JsonResponse({"error": rejected.message}, status=rejected.status)
        return JsonResponse({"results": [upload.as_json() for upload in uploads]}, status=HTTPStatus.CREATED)


class UploadItemApi(JsonLoginRequiredMixin, View):
    """GET: one upload and its processing result."""

    async def get(self, request: HttpRequest, pk: UUID) -> HttpResponseBase:
        try:
            upload = await aget_object_or_404(Upload.objects.owned_by(self.user), pk=pk)
        except Http404:
            return JsonResponse({"error": "No such upload."}, status=HTTPStatus.NOT_FOUND)
        return JsonResponse(upload.as_json())
