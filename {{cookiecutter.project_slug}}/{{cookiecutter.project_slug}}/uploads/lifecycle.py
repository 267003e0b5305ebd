"""An upload's processing states: pending -> processing -> done | failed.

Every change is one conditional UPDATE: two workers never both own an upload, a worker
that lost its claim cannot overwrite a newer result, and a job run twice changes nothing.
Queueing is tasks.py's: functions here say when an upload should run again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

{% if cookiecutter.object_storage == "s3" -%}
from botocore.exceptions import BotoCoreError, ClientError
{% endif -%}
from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q
from django.utils import timezone

from . import live
from .inspection import UnprocessableFileError, inspect_file
from .models import Upload

logger = logging.getLogger(__name__)

# What the object storage raises when it is unreachable, throttled or failing.
STORAGE_ERRORS: tuple[type[Exception], ...] = {% if cookiecutter.object_storage == "s3" %}(BotoCoreError, ClientError){% else %}(){% endif %}
# What reading a stored file can raise that a later attempt may not: the disk's errors,
# the storage's. Anything else the file's contents cause is final (inspection.py).
READ_ERRORS: tuple[type[Exception], ...] = (OSError, *STORAGE_ERRORS)
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (*READ_ERRORS, DatabaseError)
RETRY_BASE_DELAY = 5  # seconds before the first retry; doubles with every attempt
RETRY_MAX_DELAY = 600  # seconds


def retry_delay(attempts: int) -> float:
    return float(min(RETRY_BASE_DELAY * 2 ** max(attempts - 1, 0), RETRY_MAX_DELAY))


def stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.UPLOAD_PROCESSING_TIMEOUT)


def claim(upload_id: UUID | str) -> Upload | None:
    """Take ownership of a pending (or abandoned) upload; None if someone else has it or it is finished."""
    now = timezone.now()
    claimable = Q(status=Upload.Status.PENDING) | Q(status=Upload.Status.PROCESSING, started_at__lt=stale_before())
    claimed = Upload.objects.filter(claimable, pk=upload_id).update(
        status=Upload.Status.PROCESSING, started_at=now, updated_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    upload = Upload.objects.get(pk=upload_id)
    live.changed(upload.owner_id)
    return upload


def _finish(upload: Upload, **fields: object) -> bool:
    """Record an outcome, only if this worker still holds the claim it started with."""
    now = timezone.now()
    finished = Upload.objects.filter(
        pk=upload.pk, status=Upload.Status.PROCESSING, started_at=upload.started_at
    ).update(processed_at=now, updated_at=now, **fields)
    live.changed(upload.owner_id)
    return bool(finished)


def fail(upload: Upload, message: str) -> None:
    logger.warning("upload %s failed: %s", upload.pk, message)
    _finish(upload, status=Upload.Status.FAILED, error=message)


def retry_later(upload: Upload, message: str) -> float | None:
    """A transient failure: back to pending, to run again after the returned delay; failed when out of attempts."""
    if upload.attempts >= settings.UPLOAD_MAX_ATTEMPTS:
        fail(upload, f"gave up after {upload.attempts} attempts: {message}")
        return None
    delay = retry_delay(upload.attempts)
    now = timezone.now()
    requeued = Upload.objects.filter(
        pk=upload.pk, status=Upload.Status.PROCESSING, started_at=upload.started_at
    ).update(
        status=Upload.Status.PENDING,
        error=message,
        queued_at=now + timedelta(seconds=delay),
        updated_at=now,
    )
    live.changed(upload.owner_id)
    if not requeued:
        return None
    logger.warning("upload %s: %s; retrying in %.0fs", upload.pk, message, delay)
    return delay


def process(upload_id: UUID | str) -> float | None:
    """Claim an upload, inspect its file, record the result; return the delay before a retry, if one is due."""
    upload = claim(upload_id)
    if upload is None:
        return None  # finished already, or another worker owns it
    if upload.attempts > settings.UPLOAD_MAX_ATTEMPTS:
        fail(upload, f"gave up after {upload.attempts - 1} attempts")
        return None
    try:
        with upload.file.open("rb") as file:
            facts = inspect_file(file, settings.UPLOAD_INSPECTION_TIMEOUT, READ_ERRORS)  # type: ignore[arg-type]
    except FileNotFoundError:
        fail(upload, "the stored file is missing")
    except UnprocessableFileError as exc:
        fail(upload, str(exc))
    except RETRYABLE_ERRORS as exc:
        return retry_later(upload, f"{type(exc).__name__}: {exc}")
    else:
        _finish(
            upload,
            status=Upload.Status.DONE,
            size=facts.size,
            sha256=facts.sha256,
            content_type=facts.content_type,
            result=facts.details,
            error="",
        )
    return None


def take_stale() -> list[UUID]:
    """Uploads whose job was lost (stuck in processing, or pending long past their queue time), marked re-queued."""
    cutoff = stale_before()
    # queued_at is touched here, so a job is queued again at most once per timeout (not
    # updated_at: the upload's state does not change).
    stale = Upload.objects.filter(
        Q(status=Upload.Status.PROCESSING, started_at__lt=cutoff) | Q(status=Upload.Status.PENDING),
        queued_at__lt=cutoff,
    )
    ids = list(stale.values_list("pk", flat=True)[:500])
    Upload.objects.filter(pk__in=ids).update(queued_at=timezone.now())
    return ids
