"""The upload limits, read from settings once per request."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

MIB = 1024 * 1024  # bytes


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int  # per file
    max_files: int  # per request
    allowed_types: tuple[str, ...]  # sniffed from the bytes, never the client's claim

    @classmethod
    def from_settings(cls) -> UploadLimits:
        return cls(
            max_bytes=settings.UPLOAD_MAX_BYTES,
            max_files=settings.UPLOAD_MAX_FILES,
            allowed_types=tuple(settings.UPLOAD_ALLOWED_TYPES),
        )

    def too_large_message(self, name: str) -> str:
        return f"{name!r} is larger than the limit of {self.max_bytes:,} bytes ({self.max_bytes / MIB:.0f} MiB)."
