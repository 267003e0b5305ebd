from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


def stored_name(instance: Upload, filename: str) -> str:
    """Where the file lives in storage: derived from the upload's id, never from the client's name."""
    return f"uploads/{instance.id.hex[:2]}/{instance.id.hex}"


class UploadQuerySet(models.QuerySet["Upload"]):
    def owned_by(self, user: Any) -> UploadQuerySet:
        """The only way views look uploads up: someone else's id is simply not found (404, not 403)."""
        return self.filter(owner=user)


class Upload(models.Model):
    """A file a user uploaded, and what the background worker found in it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to=stored_name, max_length=255)
    # The client's file name, cleaned; for display and Content-Disposition only.
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()  # bytes
    # What the client claimed; kept for reference, never trusted.
    declared_type = models.CharField(max_length=255, blank=True)
    # Sniffed from the bytes.
    content_type = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a task for it was last enqueued; stale pending uploads are re-queued from it.
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Every change of status sets it (lifecycle.py passes it to each update()): open pages
    # get the changes since the last one they saw (live.py).
    updated_at = models.DateTimeField(auto_now=True)

    objects = UploadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="upload_owner_recent"),
            models.Index(fields=["status", "queued_at"], name="upload_status_queued"),
            models.Index(fields=["owner", "updated_at"], name="upload_owner_updated"),
        ]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("uploads:detail", kwargs={"pk": self.pk})

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    def as_json(self) -> dict[str, object]:
        """The API representation."""
        return {
            "id": str(self.id),
            "status": self.status,
            "original_name": self.original_name,
            "size": self.size,
            "content_type": self.content_type,
            "sha256": self.sha256 or None,
            "result": self.result or None,
            "error": self.error or None,
            "created_at": self.created_at.isoformat(),
            "processed_at": self.processed_at.isoformat() if self.processed_at else None,
            "url": self.get_absolute_url(),
        }
