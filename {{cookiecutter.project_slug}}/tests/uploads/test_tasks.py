"""The processing task: transient failures are queued again with backoff; lost jobs are re-queued."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.uploads import lifecycle, tasks
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.files import CSV, HTML_AS_PNG, stored

pytestmark = pytest.mark.django_db(transaction=True)


def test_transient_failure_is_retried_later_with_backoff(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    def storage_hiccup(file: object, budget: float, read_errors: object) -> None:
        raise OSError("temporary I/O error")

    monkeypatch.setattr(lifecycle, "inspect_file", storage_hiccup)
    upload = stored(user, CSV)
    before = DBTaskResult.objects.count()
    tasks.process_upload.call(str(upload.pk))
    upload.refresh_from_db()
    assert upload.status == Upload.Status.PENDING
    assert upload.error == "OSError: temporary I/O error"
    retry = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert DBTaskResult.objects.count() == before + 1
    assert retry is not None
    assert retry.run_after is not None
    assert retry.run_after - timezone.now() > timedelta(seconds=lifecycle.RETRY_BASE_DELAY - 2)


def test_retries_stop_after_the_last_attempt(user: User, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def storage_hiccup(file: object, budget: float, read_errors: object) -> None:
        raise OSError("still broken")

    monkeypatch.setattr(lifecycle, "inspect_file", storage_hiccup)
    settings.UPLOAD_MAX_ATTEMPTS = 2
    upload = stored(user, CSV)
    tasks.process_upload.call(str(upload.pk))
    tasks.process_upload.call(str(upload.pk))
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert upload.error == "gave up after 2 attempts: OSError: still broken"


def test_recovery_requeues_stalled_uploads_only(user: User, settings: Settings) -> None:
    settings.UPLOAD_PROCESSING_TIMEOUT = 60
    long_ago = timezone.now() - timedelta(seconds=120)
    stuck = stored(user, CSV, status=Upload.Status.PROCESSING, started_at=long_ago, queued_at=long_ago)
    lost = stored(user, CSV, queued_at=long_ago)
    stored(user, CSV)  # pending, queued just now
    stored(user, CSV, status=Upload.Status.PROCESSING, started_at=timezone.now())
    stored(user, HTML_AS_PNG, status=Upload.Status.DONE)
    before = DBTaskResult.objects.count()
    assert tasks.requeue_stale() == 2
    queued = DBTaskResult.objects.order_by("-enqueued_at")[:2]
    assert {task.args_kwargs["args"][0] for task in queued} == {str(stuck.pk), str(lost.pk)}
    assert DBTaskResult.objects.count() == before + 2
    assert tasks.requeue_stale() == 0  # queued_at was touched: not queued twice
