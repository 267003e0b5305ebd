"""Small files built in memory for the upload tests."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "purple").save(buffer, "PNG")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


CSV = b"name,age,city\nada,36,london\nalan,41,wilmslow\n"
TEXT = b"The quick brown fox\njumps over the lazy dog\n"
HTML_AS_PNG = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
