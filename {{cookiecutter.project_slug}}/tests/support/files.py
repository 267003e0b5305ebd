"""Small files built in memory for the upload tests, and uploads stored without a request."""

from __future__ import annotations

import io
import struct
import zlib

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "purple").save(buffer, "PNG")
    return buffer.getvalue()


def png_without_pixels() -> bytes:
    """A PNG header and an end, and no image data: Pillow raises IndexError reading it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


CSV = b"name,age,city\nada,36,london\nalan,41,wilmslow\n"
TEXT = b"The quick brown fox\njumps over the lazy dog\n"
HTML_AS_PNG = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"


def stored(owner: User, content: bytes, name: str = "file", **fields: object) -> Upload:
    """An upload row and its file, as the upload views would store them."""
    upload = Upload(owner=owner, original_name=name, size=len(content), content_type="text/plain", **fields)
    upload.file.save(upload.id.hex, ContentFile(content), save=False)
    upload.save()
    return upload
