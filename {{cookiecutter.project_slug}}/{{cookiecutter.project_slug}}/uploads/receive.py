"""Receive an upload request: limits, CSRF, type check and storage, in one synchronous step.

Views run ``receive()`` in one ``sync_to_async`` call, since parsing a multipart body is
blocking file I/O. An upload is acknowledged only once its file is stored and its row
committed.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import partial
from http import HTTPStatus
from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db import InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware

from . import live, tasks
from .inspection import SNIFF_BYTES, sniff_content_type
from .lifecycle import STORAGE_ERRORS
from .limits import UploadLimits
from .models import Upload
from .presentation import type_name

logger = logging.getLogger(__name__)

FIELD_NAME = "file"
MAX_NAME_LENGTH = 200  # characters kept of the client's file name
MULTIPART_OVERHEAD = 64 * 1024  # bytes of headers and boundaries allowed per request on top of the files
FALLBACK_NAME = "upload"
PARSE_CHUNK_SIZE = 1024 * 1024  # bytes the multipart parser hands to upload handlers at a time
# A service the upload needs is down or unreachable: the database, the object storage.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, *STORAGE_ERRORS)


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
    """Refuse a file as soon as it passes the limit, before it is written out whole."""

    def __init__(self, request: HttpRequest, limits: UploadLimits) -> None:
        super().__init__(request)
        self.limits = limits

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limits.max_bytes:
            name = clean_filename(self.file_name or "")
            raise UploadRejectedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self.limits.too_large_message(name))
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def check_csrf(request: HttpRequest) -> bool:
    """Django's CSRF check, run here because it reads request.POST, which parses the body."""

    def view(request: HttpRequest) -> HttpResponse:  # never called; not csrf_exempt, so the check runs
        return HttpResponse()

    return CsrfViewMiddleware(view).process_view(request, view, (), {}) is None


def validate(files: list[UploadedFile[bytes]], limits: UploadLimits) -> list[tuple[UploadedFile[bytes], str]]:
    """Each file with its sniffed content type, or UploadRejectedError naming the first bad file."""
    if not files:
        raise UploadRejectedError(
            HTTPStatus.BAD_REQUEST, f"No file received: send one or more files in the {FIELD_NAME!r} field."
        )
    if len(files) > limits.max_files:
        raise UploadRejectedError(HTTPStatus.BAD_REQUEST, f"Too many files: send at most {limits.max_files} at once.")
    checked = []
    for uploaded in files:
        name = clean_filename(uploaded.name or "")
        if not uploaded.size:
            raise UploadRejectedError(HTTPStatus.BAD_REQUEST, f"{name!r} is empty.")
        if uploaded.size > limits.max_bytes:
            raise UploadRejectedError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, limits.too_large_message(name))
        uploaded.seek(0)
        content_type = sniff_content_type(uploaded.read(SNIFF_BYTES))
        uploaded.seek(0)
        if content_type not in limits.allowed_types:
            allowed = ", ".join(type_name(allowed_type) for allowed_type in limits.allowed_types)
            raise UploadRejectedError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"{name!r} is not an accepted type: its contents are {content_type} ({type_name(content_type)}). "
                f"Accepted: {allowed}.",
            )
        checked.append((uploaded, content_type))
    return checked


def store(owner: Any, checked: list[tuple[UploadedFile[bytes], str]]) -> list[Upload]:
    """Write the files and their rows in one transaction; queue processing once committed.

    If a service is down, nothing is kept and the user is told to try again (503).
    """
    uploads = []
    written = False  # every file and row written: a failure after that is the commit's
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
                uploads.append(upload)
                upload.file.save(upload.id.hex, uploaded, save=False)
                upload.save(force_insert=True)
            for upload in uploads:
                transaction.on_commit(partial(tasks.enqueue, upload.pk), robust=True)
            live.changed(owner.pk)
            written = True
    except BaseException as exc:
        if written:
            # The commit failed, and the database may have kept the rows all the same: a
            # file without a row is the lesser harm than a row without its file.
            logger.exception("the upload's commit failed; its %d file(s) are kept", len(uploads))
        else:
            discard_files(uploads)
        if isinstance(exc, UNAVAILABLE_ERRORS):
            logger.error("upload not stored: %s: %s", type(exc).__name__, exc, exc_info=exc)
            raise UploadRejectedError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "The files could not be stored just now, and none was kept: try again in a minute.",
            ) from exc
        raise
    return uploads


def discard_files(uploads: list[Upload]) -> None:
    """The rows were rolled back: do not leave their files behind (as far as the storage, maybe what failed, allows)."""
    for upload in uploads:
        # The name the file was (or was being) written under: a write that failed half way,
        # or whose answer was lost, may have left something there.
        name = upload.file.name or upload.file.field.generate_filename(upload, upload.id.hex)
        try:
            upload.file.storage.delete(name)
        except Exception:
            logger.exception("could not delete %s, stored for an upload that failed", name)


def close_partial_files(request: HttpRequest) -> None:
    """Close (and so delete) the temporary file of a part whose parsing was cut short."""
    for handler in request.upload_handlers:
        if (file := getattr(handler, "file", None)) is not None:
            file.close()


def receive(request: HttpRequest, owner: Any) -> list[Upload]:
    """Parse, check and store the files of an upload request. Raises UploadRejectedError."""
    limits = UploadLimits.from_settings()
    content_length = int(request.META.get("CONTENT_LENGTH") or 0)
    if content_length > limits.max_files * limits.max_bytes + MULTIPART_OVERHEAD:
        raise UploadRejectedError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The request is larger than the upload limits allow."
        )
    # Upload handlers must be set before anything parses the body; the views are
    # csrf_exempt so that the CSRF middleware does not parse it first.
    request.upload_handlers.insert(0, SizeLimitHandler(request, limits))
    for handler in request.upload_handlers:
        # Bigger pieces than Django's 64 KiB: fewer Python-level steps per file, so the
        # parsing thread holds the GIL (and delays the event loop) for less time.
        handler.chunk_size = PARSE_CHUNK_SIZE
    try:
        files = request.FILES.getlist(FIELD_NAME)
    except TooManyFilesSent:
        raise UploadRejectedError(
            HTTPStatus.BAD_REQUEST, f"Too many files: send at most {limits.max_files} at once."
        ) from None
    except TooManyFieldsSent:
        raise UploadRejectedError(
            HTTPStatus.BAD_REQUEST, "Too many form fields: send the files and the CSRF token only."
        ) from None
    except (MultiPartParserError, RequestDataTooBig) as exc:
        raise UploadRejectedError(HTTPStatus.BAD_REQUEST, f"The upload could not be read: {exc}") from None
    except UploadRejectedError:
        # Raised by SizeLimitHandler before CSRF is checked: a token after the file was never read.
        close_partial_files(request)
        raise
    if not check_csrf(request):
        raise UploadRejectedError(
            HTTPStatus.FORBIDDEN,
            "CSRF check failed: reload the form, or send the csrftoken cookie's value in an X-CSRFToken header.",
        )
    return store(owner, validate(files, limits))
