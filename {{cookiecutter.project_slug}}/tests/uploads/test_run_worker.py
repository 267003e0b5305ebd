"""Uploads processed by the real task worker process, including one killed mid-job."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import partial
from http import HTTPStatus

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, close_old_connections
from django.test import AsyncClient
from django_tasks_db.management.commands import db_worker

from {{ cookiecutter.project_slug }}.uploads import tasks
from {{ cookiecutter.project_slug }}.uploads.management.commands import run_worker
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.files import CSV, png_bytes, stored, upload
from tests.support.processes import Worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(pk: str) -> str:
    return str(Upload.objects.values_list("status", flat=True).get(pk=pk))


def is_done(pk: str) -> bool:
    return status_of(pk) == Upload.Status.DONE


async def test_worker_processes_api_uploads(
    logged_in_client: AsyncClient, worker_factory: Callable[..., Worker]
) -> None:
    image = png_bytes(width=12, height=8)
    response = await logged_in_client.post(
        "/api/uploads/", {"file": [upload("data.csv", CSV), upload("pic.png", image)]}
    )
    assert response.status_code == HTTPStatus.CREATED
    created = response.json()["results"]
    assert [item["status"] for item in created] == ["pending", "pending"]
    worker_factory()
    for item in created:
        await sync_to_async(wait_for)(partial(is_done, item["id"]))
    results = {
        item["original_name"]: (await logged_in_client.get(f"/api/uploads/{item['id']}/")).json() for item in created
    }
    assert results["data.csv"]["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert results["data.csv"]["result"]["rows"] == 3
    assert results["pic.png"]["sha256"] == hashlib.sha256(image).hexdigest()
    assert results["pic.png"]["result"] == {"kind": "image", "format": "PNG", "width": 12, "height": 8, "mode": "RGB"}
    assert results["pic.png"]["processed_at"] is not None


async def test_job_of_a_killed_worker_is_picked_up_again(
    logged_in_client: AsyncClient, worker_factory: Callable[..., Worker]
) -> None:
    # Large enough that counting its rows takes the worker a few seconds.
    big_csv = b"id,name,score\n" + b"".join(b"%d,name-%d,%d\n" % (n, n, n % 97) for n in range(1_500_000))
    response = await logged_in_client.post("/api/uploads/", {"file": upload("big.csv", big_csv)})
    pk = response.json()["results"][0]["id"]
    first = worker_factory(UPLOAD_PROCESSING_TIMEOUT="2")
    await sync_to_async(wait_for)(lambda: status_of(pk) == "processing")
    first.kill()
    assert await sync_to_async(status_of)(pk) == "processing"
    worker_factory(sweep_interval=0.5, UPLOAD_PROCESSING_TIMEOUT="2")
    await sync_to_async(wait_for)(partial(is_done, pk), 60)
    done = await Upload.objects.aget(pk=pk)
    assert done.attempts == 2
    assert done.result["rows"] == 1_500_001
    assert done.sha256 == hashlib.sha256(big_csv).hexdigest()


def test_the_worker_waits_out_a_database_outage(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Its loop cannot reach the database twice (as when PostgreSQL restarts); it waits, then runs the job."""
    created = stored(user, CSV)
    tasks.enqueue(created.pk)
    outage = [OperationalError("connection refused"), OperationalError("connection refused")]

    def database_back_after_two_tries() -> None:
        if outage:
            raise outage.pop()
        close_old_connections()

    monkeypatch.setattr(db_worker, "close_old_connections", database_back_after_two_tries)
    monkeypatch.setattr(run_worker, "RECONNECT_DELAYS", (0.01, 0.02))
    worker = run_worker.ResilientWorker(
        queue_names=["default"],
        interval=0.1,
        batch=True,  # exits once the queue is empty
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="outage-test",
        excluded_queue_names=[],
    )
    with caplog.at_level(logging.WARNING):
        worker.run()
    assert is_done(str(created.pk))
    waits = [record for record in caplog.records if "the database is unreachable" in record.getMessage()]
    assert len(waits) == 2
