"""The processing lifecycle against the real database: claims, results, retries, recovery."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.uploads import jobs
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from .files import CSV, HTML_AS_PNG, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def stored(owner: User, content: bytes, name: str = "file", **fields: object) -> Upload:
    upload = Upload(owner=owner, original_name=name, size=len(content), content_type="text/plain", **fields)
    upload.file.save(upload.id.hex, ContentFile(content), save=False)
    upload.save()
    return upload


def test_processing_records_the_facts(user: User) -> None:
    upload = stored(user, CSV)
    jobs.process(upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.DONE
    assert upload.sha256 == hashlib.sha256(CSV).hexdigest()
    assert upload.content_type == "text/csv"
    assert upload.result["rows"] == 3
    assert upload.attempts == 1
    assert upload.processed_at is not None


def test_processing_twice_changes_nothing(user: User) -> None:
    upload = stored(user, png_bytes())
    jobs.process(upload.pk)
    first = Upload.objects.get(pk=upload.pk)
    jobs.process(upload.pk)
    second = Upload.objects.get(pk=upload.pk)
    assert (second.status, second.attempts, second.processed_at) == (first.status, 1, first.processed_at)


def test_a_claimed_upload_cannot_be_claimed_again(user: User) -> None:
    upload = stored(user, CSV)
    assert jobs.claim(upload.pk) is not None
    assert jobs.claim(upload.pk) is None


def test_an_abandoned_claim_can_be_taken_over_and_the_old_worker_cannot_finish(user: User, settings: Settings) -> None:
    settings.UPLOAD_PROCESSING_TIMEOUT = 60
    upload = stored(user, CSV)
    old = jobs.claim(upload.pk)
    assert old is not None
    Upload.objects.filter(pk=upload.pk).update(started_at=timezone.now() - timedelta(seconds=61))
    old.refresh_from_db()
    new = jobs.claim(upload.pk)
    assert new is not None
    jobs.fail(old, "late result from a worker presumed dead")
    assert Upload.objects.get(pk=upload.pk).status == Upload.Status.PROCESSING


def test_file_that_is_not_what_it_claims_fails_with_a_message(user: User) -> None:
    upload = stored(user, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    jobs.process(upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert upload.error.startswith("not a readable image")


def test_missing_file_fails(user: User) -> None:
    upload = stored(user, CSV)
    upload.file.storage.delete(str(upload.file.name))
    jobs.process(upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.error) == (Upload.Status.FAILED, "the stored file is missing")


def test_transient_failure_is_retried_later_with_backoff(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    def storage_hiccup(file: object) -> None:
        raise OSError("temporary I/O error")

    monkeypatch.setattr(jobs, "inspect", storage_hiccup)
    upload = stored(user, CSV)
    before = DBTaskResult.objects.count()
    jobs.process(upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.PENDING
    assert upload.error == "OSError: temporary I/O error"
    retry = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert DBTaskResult.objects.count() == before + 1
    assert retry is not None
    assert retry.run_after is not None
    assert retry.run_after - timezone.now() > timedelta(seconds=jobs.RETRY_BASE_DELAY - 2)


def test_retries_stop_after_the_last_attempt(user: User, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def storage_hiccup(file: object) -> None:
        raise OSError("still broken")

    monkeypatch.setattr(jobs, "inspect", storage_hiccup)
    settings.UPLOAD_MAX_ATTEMPTS = 2
    upload = stored(user, CSV)
    jobs.process(upload.pk)
    jobs.process(upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert upload.error == "gave up after 2 attempts: OSError: still broken"


@pytest.mark.parametrize(("attempts", "delay"), [(1, 5.0), (2, 10.0), (3, 20.0), (20, 600.0)])
def test_retry_delay_doubles_up_to_a_cap(attempts: int, delay: float) -> None:
    assert jobs.retry_delay(attempts) == delay


def test_recovery_requeues_stalled_uploads_only(user: User, settings: Settings) -> None:
    settings.UPLOAD_PROCESSING_TIMEOUT = 60
    long_ago = timezone.now() - timedelta(seconds=120)
    stuck = stored(user, CSV, status=Upload.Status.PROCESSING, started_at=long_ago, queued_at=long_ago)
    lost = stored(user, CSV, queued_at=long_ago)
    stored(user, CSV)  # pending, queued just now
    stored(user, CSV, status=Upload.Status.PROCESSING, started_at=timezone.now())
    stored(user, HTML_AS_PNG, status=Upload.Status.DONE)
    before = DBTaskResult.objects.count()
    assert jobs.recover_stale() == 2
    queued = DBTaskResult.objects.order_by("-enqueued_at")[:2]
    assert {task.args_kwargs["args"][0] for task in queued} == {str(stuck.pk), str(lost.pk)}
    assert DBTaskResult.objects.count() == before + 2
    assert jobs.recover_stale() == 0  # queued_at was touched: not queued twice
