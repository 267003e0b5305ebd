"""The task queue's side of uploads: the processing task, and putting uploads on the queue."""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from django.tasks import task
from django.utils import timezone

from . import lifecycle

logger = logging.getLogger(__name__)


@task()
def process_upload(upload_id: str) -> None:
    """Inspect one uploaded file and record what it holds; queue it again after a transient failure."""
    retry_in = lifecycle.process(upload_id)
    if retry_in is not None:
        enqueue(upload_id, delay=retry_in)


def enqueue(upload_id: UUID | str, delay: float = 0) -> None:
    """Queue processing of one upload, now or after ``delay`` seconds."""
    task = process_upload.using(run_after=timezone.now() + timedelta(seconds=delay)) if delay else process_upload
    task.enqueue(str(upload_id))


def requeue_stale() -> int:
    """Queue again the uploads whose job was lost (a killed worker); return how many."""
    ids = lifecycle.take_stale()
    for upload_id in ids:
        enqueue(upload_id)
    if ids:
        logger.warning("re-queued %d stalled upload(s)", len(ids))
    return len(ids)
