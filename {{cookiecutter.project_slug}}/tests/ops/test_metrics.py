"""Prometheus metrics (ops/metrics.py): each request counted once, every process added up exactly."""

from __future__ import annotations

import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from django.test import AsyncClient
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import LiveServer, Worker, wait_for
from tests.support.tasks import current_request_id, fail


def requests_counted(route: str, status: str, method: str = "GET") -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0.0


def scraped(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a scrape, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return None


@pytest.mark.django_db(transaction=True)
async def test_each_request_is_counted_once_by_route_method_and_status(async_client: AsyncClient) -> None:
    counts = [("accounts/login/", "200"), ("unmatched", "404"), ("/healthz", "200")]
    before = [requests_counted(route, status) for route, status in counts]
    for path in ("/accounts/login/", "/accounts/login/", "/no/such/page/", "/healthz"):
        await async_client.get(path)
    after = [requests_counted(route, status) for route, status in counts]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 1]
    assert REGISTRY.get_sample_value("http_requests_in_progress") == 0


@pytest.mark.django_db(transaction=True)
async def test_metrics_are_answered_before_host_validation_with_the_queue(async_client: AsyncClient) -> None:
    for _ in range(2):
        await current_request_id.aenqueue()
    response = await async_client.get("/metrics", headers={"host": "web:8000"})  # not in ALLOWED_HOSTS
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert scraped(text, "task_queue_ready_jobs", queue="default") == 2
    age = scraped(text, "task_queue_oldest_ready_age_seconds", queue="default")
    assert age is not None
    assert 0 <= age < 60


@pytest.mark.django_db(transaction=True)
def test_one_scrape_adds_up_every_web_worker_and_the_task_worker_exactly(
    live_server_factory: Callable[..., LiveServer], worker_factory: Callable[..., Worker], tmp_path: Path
) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    server = live_server_factory(workers=2, **env)
    for _ in range(3):
        current_request_id.enqueue()
    for _ in range(2):
        fail.enqueue()

    def scrape() -> str:
        response = httpx.get(f"{server.url}/metrics")
        assert response.status_code == HTTPStatus.OK
        return response.text

    assert scraped(scrape(), "task_queue_ready_jobs", queue="default") == 5  # no worker yet
    started = time.time()
    worker_factory(sweep_interval=0.5, **env)
    wait_for(lambda: DBTaskResult.objects.finished().count() == 5, timeout=60)
    for _ in range(7):  # a connection each: gunicorn's two workers share them
        assert httpx.get(f"{server.url}/accounts/login/").status_code == HTTPStatus.OK

    text = scrape()
    login = scraped(text, "http_request_duration_seconds_count", route="accounts/login/", method="GET", status="200")
    assert login == 7
    task = "tests.support.tasks.current_request_id"
    assert scraped(text, "tasks_finished_total", task=task, outcome="succeeded") == 3
    assert scraped(text, "tasks_finished_total", task="tests.support.tasks.fail", outcome="failed") == 2
    assert scraped(text, "task_queue_ready_jobs", queue="default") == 0
    assert (scraped(text, "task_worker_heartbeat_timestamp_seconds") or 0) >= int(started)
    assert scraped(text, "http_requests_in_progress") == 0
