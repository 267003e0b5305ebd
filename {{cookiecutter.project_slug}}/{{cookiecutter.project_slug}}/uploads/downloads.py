"""Downloads: always an attachment, never rendered from the site's origin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote{% if cookiecutter.object_storage == "s3" %}, urlsplit{% endif %}

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header

from .inspection import CHUNK_SIZE
from .models import Upload


async def stream(file: FieldFile) -> AsyncIterator[bytes]:
    """Read a stored file in chunks, each read in a thread (development downloads only)."""
    handle = await sync_to_async(file.open)("rb")
    try:
        while chunk := await sync_to_async(handle.read)(CHUNK_SIZE):
            yield chunk
    finally:
        await sync_to_async(file.close)()


{% if cookiecutter.object_storage == "s3" -%}
def storage_location(prefix: str, upload: Upload, disposition: str, content_type: str) -> str:
    """nginx's internal location for the object: ``prefix``, then a presigned GET URL's path and query.

    The storage answers with the content type and disposition signed into the URL (S3's
    response-content-* overrides): nginx sends the object without them passing through
    here. Signing is local (no request to the storage); the URL expires in a minute.
    """
    url = upload.file.storage.url(  # type: ignore[call-arg]  # S3Storage.url takes parameters
        upload.file.name,
        parameters={"ResponseContentDisposition": disposition, "ResponseContentType": content_type},
    )
    parts = urlsplit(url)
    return prefix.rstrip("/") + parts.path + "?" + parts.query


{% endif -%}
def download_response(upload: Upload, *, inline: bool = False) -> HttpResponseBase:
    """The file as an attachment (or ``inline``, for image previews); sent by nginx with DOWNLOAD_X_ACCEL_PREFIX set.

    Under ASGI, Django would hold a whole FileResponse in memory: nginx sends the file
    from its internal location instead. Inline files are only ever raster images whose
    type was sniffed from their bytes (presentation.PREVIEWABLE_TYPES), and their policy
    forbids everything but being shown.
    """
    # Never None: there is always a file name.
    disposition = content_disposition_header(as_attachment=not inline, filename=upload.original_name) or "attachment"
    headers = {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        # A user's file: no shared cache (a CDN, a proxy) may keep a copy.
        "Cache-Control": "private, no-store",
    }
    content_type = upload.content_type or "application/octet-stream"
    if prefix := settings.DOWNLOAD_X_ACCEL_PREFIX:
        headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(str(upload.file.name))
{%- if cookiecutter.object_storage == "s3" %}
        if hasattr(upload.file.storage, "bucket_name"):  # in the bucket; without one (development), on disk
            headers["X-Accel-Redirect"] = storage_location(prefix, upload, disposition, content_type)
{%- endif %}
        return HttpResponse(content_type=content_type, headers=headers)
    return StreamingHttpResponse(stream(upload.file), content_type=content_type, headers=headers)
