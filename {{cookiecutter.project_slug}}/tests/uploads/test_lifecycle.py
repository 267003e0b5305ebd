"""An upload's processing states against the real database: claims, results, takeovers."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.uploads import lifecycle
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.files import CSV, png_bytes, png_without_pixels, stored

pytestmark = pytest.mark.django_db(transaction=True)


def test_processing_records_the_facts(user: User) -> None:
    upload = stored(user, CSV)
    lifecycle.process(upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.DONE
    assert upload.sha256 == hashlib.sha256(CSV).hexdigest()
    assert upload.content_type == "text/csv"
    assert upload.result["rows"] == 3
    assert upload.attempts == 1
    assert upload.processed_at is not None


def test_processing_twice_changes_nothing(user: User) -> None:
    upload = stored(user, png_bytes())
    lifecycle.process(upload.pk)
    first = Upload.objects.get(pk=upload.pk)
    lifecycle.process(upload.pk)
    second = Upload.objects.get(pk=upload.pk)
    assert (second.status, second.attempts, second.processed_at) == (first.status, 1, first.processed_at)


def test_a_claimed_upload_cannot_be_claimed_again(user: User) -> None:
    upload = stored(user, CSV)
    assert lifecycle.claim(upload.pk) is not None
    assert lifecycle.claim(upload.pk) is None


def test_an_abandoned_claim_can_be_taken_over_and_the_old_worker_cannot_finish(user: User, settings: Settings) -> None:
    settings.UPLOAD_PROCESSING_TIMEOUT = 60
    upload = stored(user, CSV)
    old = lifecycle.claim(upload.pk)
    assert old is not None
    Upload.objects.filter(pk=upload.pk).update(started_at=timezone.now() - timedelta(seconds=61))
    old.refresh_from_db()
    new = lifecycle.claim(upload.pk)
    assert new is not None
    lifecycle.fail(old, "late result from a worker presumed dead")
    assert Upload.objects.get(pk=upload.pk).status == Upload.Status.PROCESSING


def test_file_that_is_not_what_it_claims_fails_with_a_message(user: User) -> None:
    upload = stored(user, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    lifecycle.process(upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert upload.error.startswith("not a readable image")


def test_missing_file_fails(user: User) -> None:
    upload = stored(user, CSV)
    upload.file.storage.delete(str(upload.file.name))
    lifecycle.process(upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.error) == (Upload.Status.FAILED, "the stored file is missing")


@pytest.mark.parametrize(("attempts", "delay"), [(1, 5.0), (2, 10.0), (3, 20.0), (20, 600.0)])
def test_retry_delay_doubles_up_to_a_cap(attempts: int, delay: float) -> None:
    assert lifecycle.retry_delay(attempts) == delay


def test_a_file_that_breaks_its_inspector_fails_on_the_first_attempt(
    user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Failed at once, with the reason, one log line and no traceback: not retried until it gives up."""
    upload = stored(user, png_without_pixels())
    with caplog.at_level(logging.WARNING):
        assert lifecycle.process(upload.pk) is None  # no retry
    upload.refresh_from_db()
    assert (upload.status, upload.attempts) == (Upload.Status.FAILED, 1)
    assert upload.error == "not a readable image: its data is incomplete or damaged"
    [record] = [r for r in caplog.records if r.name.endswith("uploads.lifecycle")]
    assert record.exc_info is None
    assert upload.error in record.getMessage()


def test_a_file_whose_inspection_runs_out_of_time_fails_within_the_budget(user: User, settings: Settings) -> None:
    settings.UPLOAD_INSPECTION_TIMEOUT = 0.0  # already out of time at the first chunk
    upload = stored(user, CSV)
    lifecycle.process(upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.attempts) == (Upload.Status.FAILED, 1)
    assert upload.error == "it took longer than 0 seconds to inspect"
