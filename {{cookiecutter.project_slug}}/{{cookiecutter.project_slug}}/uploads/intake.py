"""Receive uploaded files: limits, CSRF, type check and storage, in one synchronous step.

Parsing multipart bodies is synchronous file I/O, so views run ``receive`` in a single
``sync_to_async`` call: the event loop never blocks on it, and the checks, the writes
to storage and the database transaction happen in one thread. An upload is only
acknowledged once its file is in storage and its row is committed.
"""

from __future__ import annotations

import unicodedata
from functools import partial
from http import HTTPStatus
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware

from . import counts, jobs
from .models import Upload
from .processing import SNIFF_BYTES, sniff_content_type

FIELD_NAME = "file"
MAX_NAME_LENGTH = 200  # characters kept of the client's file name
MULTIPART_OVERHEAD = 64 * 1024  # bytes of headers and boundaries allowed per request on top of the files
FALLBACK_NAME = "upload"
PARSE_CHUNK_SIZE = 1024 * 1024  # bytes the multipart parser hands to upload handlers at a time


class UploadRejectedError(Exception):
    """The request cannot be accepted; ``message`` tells the user what to do."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def clean_filename(name: str) -> str:
    """A display-safe version of a client's file name: no path, no control or bidi characters, bounded length."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: control characters (NUL included); Cf: format characters such as the
    # right-to-left override that makes "evil\u202etxt.exe" display as "evilexe.txt".
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf"})
    name = " ".join(name.split()).strip(". ")
    if not name:
        return FALLBACK_NAME
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return name


class SizeLimitHandler(FileUploadHandler):
    """Stop parsing as soon as one file passes UPLOAD_MAX_BYTES, before it is written out whole."""

    def __init__(self, request: HttpRequest, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.too_large: str | None = None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.max_bytes:
            self.too_large = self.file_name or FALLBACK_NAME
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def check_csrf(request: HttpRequest) -> bool:
    """Django's CSRF check, run here because it reads request.POST, which parses the body."""

    def view(request: HttpRequest) -> HttpResponse:  # never called; not csrf_exempt, so the check runs
        return HttpResponse()

    return CsrfViewMiddleware(view).process_view(request, view, (), {}) is None


def too_large_message(name: str) -> str:
    limit = settings.UPLOAD_MAX_BYTES
    return f"{clean_filename(name)!r} is larger than the limit of {limit:,} bytes ({limit / 1024 / 1024:.0f} MiB)."


def validate(files: list[UploadedFile[bytes]]) -> list[tuple[UploadedFile[bytes], str]]:
    """Each file with its sniffed content type, or UploadRejectedError naming the first bad file."""
    if not files:
        raise UploadRejectedError(
            HTTPStatus.BAD_REQUEST, f"No file received: send one or more files in the {FIELD_NAME!r} field."
        )
    if len(files) > settings.UPLOAD_MAX_FILES:
        raise UploadRejectedError(
            HTTPStatus.BAD_REQUEST, f"Too many files: send at most {settings.UPLOAD_MAX_FILES} at once."
        )
    checked = []
    for uploaded in files:
        name = clean_filename(uploaded.name or "")
        if not uploaded.size:
            raise UploadRejectedError(HTTPStatus.BAD_REQUEST, f"{name!r} is empty.")
        if uploaded.size > settings.UPLOAD_MAX_BYTES:
            raise UploadRejectedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large_message(name))
        uploaded.seek(0)
        content_type = sniff_content_type(uploaded.read(SNIFF_BYTES))
        uploaded.seek(0)
        if content_type not in settings.UPLOAD_ALLOWED_TYPES:
            allowed = ", ".join(settings.UPLOAD_ALLOWED_TYPES)
            raise UploadRejectedError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"{name!r} contains {content_type}, which is not accepted. Accepted types: {allowed}.",
            )
        checked.append((uploaded, content_type))
    return checked


def store(owner: Any, checked: list[tuple[UploadedFile[bytes], str]]) -> list[Upload]:
    """Write the files and their rows in one transaction; queue processing once committed."""
    uploads = []
    try:
        with transaction.atomic():
            for uploaded, content_type in checked:
                upload = Upload(
                    owner=owner,
                    original_name=clean_filename(uploaded.name or ""),
                    size=uploaded.size or 0,
                    declared_type=(uploaded.content_type or "")[:255],
                    content_type=content_type,
                )
                upload.file.save(upload.id.hex, uploaded, save=False)
                upload.save(force_insert=True)
                uploads.append(upload)
            for upload in uploads:
                transaction.on_commit(partial(jobs.enqueue, upload.pk), robust=True)
            transaction.on_commit(partial(counts.forget, owner.pk), robust=True)
    except BaseException:
        for upload in uploads:  # the rows were rolled back: do not leave their files behind
            if upload.file.name:
                upload.file.storage.delete(upload.file.name)
        raise
    return uploads


def receive(request: HttpRequest, owner: Any) -> list[Upload]:
    """Parse, check and store the files of an upload request. Raises UploadRejectedError."""
    content_length = int(request.META.get("CONTENT_LENGTH") or 0)
    if content_length > settings.UPLOAD_MAX_FILES * settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD:
        raise UploadRejectedError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The request is larger than the upload limits allow."
        )
    limiter = SizeLimitHandler(request, settings.UPLOAD_MAX_BYTES)
    # Upload handlers must be set before anything parses the body; the views are
    # csrf_exempt so that the CSRF middleware does not parse it first.
    request.upload_handlers.insert(0, limiter)
    for handler in request.upload_handlers:
        # Bigger pieces than Django's 64 KiB: fewer Python-level steps per file, so the
        # parsing thread holds the GIL (and delays the event loop) for less time.
        handler.chunk_size = PARSE_CHUNK_SIZE
    try:
        files = request.FILES.getlist(FIELD_NAME)
    except TooManyFilesSent:
        raise UploadRejectedError(
            HTTPStatus.BAD_REQUEST, f"Too many files: send at most {settings.UPLOAD_MAX_FILES} at once."
        ) from None
    except (MultiPartParserError, RequestDataTooBig) as exc:
        raise UploadRejectedError(HTTPStatus.BAD_REQUEST, f"The upload could not be read: {exc}") from None
    if limiter.too_large is not None:
        # Checked before CSRF: parsing stopped early, so a token after the file was never read.
        raise UploadRejectedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large_message(limiter.too_large))
    if not check_csrf(request):
        raise UploadRejectedError(
            HTTPStatus.FORBIDDEN,
            "CSRF check failed: reload the form, or send the csrftoken cookie's value in an X-CSRFToken header.",
        )
    return store(owner, validate(files))
