"""The upload limits, read from settings once per request."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

UNITS = (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))  # largest first


def human_size(size: int) -> str:
    """Bytes as people read them: "1,000 bytes", "97.7 KiB", "50 MiB"."""
    for unit, bytes_per_unit in UNITS:
        if size >= bytes_per_unit:
            value = size / bytes_per_unit
            return f"{value:.0f} {unit}" if value.is_integer() or value >= 100 else f"{value:.1f} {unit}"
    return f"{size:,} bytes"


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

    @property
    def max_size(self) -> str:
        """The per-file limit, as people read it."""
        return human_size(self.max_bytes)

    def too_large_message(self, name: str) -> str:
        return f"{name!r} is larger than the limit of {human_size(self.max_bytes)} per file."
