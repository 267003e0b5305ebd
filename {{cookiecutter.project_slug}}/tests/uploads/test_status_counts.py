"""uploads/status_counts.py: cached counts that a write makes stale, even when a reader races it."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from {{ cookiecutter.project_slug }}.uploads import status_counts
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def test_counts_a_reader_stores_after_a_write_are_never_served(user: User, fresh_cache: None) -> None:
    """A reader counts, a write lands and is announced, then the reader stores what it counted."""
    generation = cache.get(status_counts.generation_key(user.pk), "0")
    counted_before_the_write = status_counts.compute(user.pk)
    Upload.objects.create(owner=user, original_name="a.txt", size=1, content_type="text/plain")
    status_counts.forget(user.pk)
    cache.set(status_counts.cache_key(user.pk, generation), counted_before_the_write, status_counts.COUNTS_TIMEOUT)
    assert status_counts.get(user.pk)[Upload.Status.PENDING] == 1


def test_counts_are_cached_until_a_write(user: User, fresh_cache: None) -> None:
    assert status_counts.get(user.pk)[Upload.Status.PENDING] == 0
    Upload.objects.create(owner=user, original_name="a.txt", size=1, content_type="text/plain")
    assert status_counts.get(user.pk)[Upload.Status.PENDING] == 0  # cached: nothing announced the write
    status_counts.forget(user.pk)
    assert status_counts.get(user.pk)[Upload.Status.PENDING] == 1
