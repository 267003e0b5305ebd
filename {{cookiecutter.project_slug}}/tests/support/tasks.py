"""Tasks for the tests, run by the real django-tasks-db worker."""

from __future__ import annotations

from django.tasks import task

from {{ cookiecutter.project_slug }}.ops.request_id import request_id


@task()
def current_request_id() -> str | None:
    """The request id the worker set for this job: its return value is stored with the result."""
    return request_id.get()


@task()
def fail() -> None:
    """A job that fails, as a bug in a task would make it."""
    raise RuntimeError("a task that fails")
