"""A job carries the id of the request that queued it into the worker (ops/job_request_ids.py)."""

from __future__ import annotations

import pytest
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from {{ cookiecutter.project_slug }}.ops.request_id import request_id

from tests.support.tasks import current_request_id

pytestmark = pytest.mark.django_db(transaction=True)


def run_queued_jobs() -> None:
    """django-tasks-db's worker, in this process, until the queue is empty."""
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test",
        excluded_queue_names=[],
    )
    worker.run()


def test_the_worker_runs_a_job_with_the_id_of_the_request_that_queued_it(no_request_id: None) -> None:
    token = request_id.set("e" * 32)
    try:
        in_request = current_request_id.enqueue()
    finally:
        request_id.reset(token)
    outside = current_request_id.enqueue()
    assert DBTaskResult.objects.get(pk=in_request.id).args_kwargs == {"args": [], "kwargs": {}, "request_id": "e" * 32}

    run_queued_jobs()

    assert DBTaskResult.objects.get(pk=in_request.id).return_value == "e" * 32
    assert DBTaskResult.objects.get(pk=outside.id).return_value is None
    assert request_id.get() is None  # nothing left behind for what the worker does next


async def test_a_job_queued_from_async_code_carries_the_id_too(no_request_id: None) -> None:
    token = request_id.set("f" * 32)
    try:
        queued = await current_request_id.aenqueue()
    finally:
        request_id.reset(token)
    stored = await DBTaskResult.objects.aget(pk=queued.id)
    assert stored.args_kwargs["request_id"] == "f" * 32
