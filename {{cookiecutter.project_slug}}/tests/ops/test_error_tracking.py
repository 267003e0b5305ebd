"""Error reports to Sentry, over real HTTP: the served site and its worker report to a local ingest endpoint."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from {{ cookiecutter.project_slug }}.ops import error_tracking
from {{ cookiecutter.project_slug }}.ops.request_id import request_id

from tests.support.error_tracking import LOCAL_SECRET, IngestServer
from tests.support.processes import LiveServer, Worker, project_env, run_manage

VIEW_REQUEST_ID = "a" * 32
TASK_REQUEST_ID = "b" * 32
SECRETS = ("hunter2-password", "cookie-session-secret", "cookie-csrf-secret", LOCAL_SECRET)


@pytest.mark.django_db(transaction=True)
def test_errors_in_a_view_and_a_task_arrive_with_the_request_id_and_no_secrets(
    live_server_factory: Callable[..., LiveServer], worker_factory: Callable[..., Worker]
) -> None:
    with IngestServer() as ingest:
        env = {"SENTRY_DSN": ingest.dsn, "DJANGO_SETTINGS_MODULE": "tests.support.error_tracking_settings"}
        server = live_server_factory(**env)
        worker_factory(verbosity=1, **env)  # production's: the failure is also logged, and reported once
        cookies = {"sessionid": SECRETS[1], "csrftoken": SECRETS[2]}
        with httpx.Client(base_url=server.url, cookies=cookies) as client:
            failed = client.post("/boom/", data={"password": SECRETS[0]}, headers={"X-Request-ID": VIEW_REQUEST_ID})
            queued = client.post("/boom-task/", headers={"X-Request-ID": TASK_REQUEST_ID})
        assert failed.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
        assert queued.status_code == HTTPStatus.ACCEPTED

        in_view = ingest.event_with_message("boom in a view")
        in_task = ingest.event_with_message("boom in a task")
    assert in_view["tags"]["request_id"] == VIEW_REQUEST_ID
    assert in_view["request"]["url"].endswith("/boom/")
    # In the worker, the id of the request that queued the job.
    assert in_task["tags"]["request_id"] == TASK_REQUEST_ID
    assert in_task["tags"]["task"] == "tests.support.error_tracking.fail"
    assert "task_id" in in_task["tags"]
    # Logged by django.tasks and captured by the worker's receiver: one event, the SDK's dedupe drops the other.
    exceptions = [value for event in ingest.events for value in event.get("exception", {}).get("values", [])]
    assert sum("boom in a task" in value.get("value", "") for value in exceptions) == 1
    for sent in ingest.raw:
        for secret in SECRETS:
            assert secret.encode() not in sent


def test_without_a_dsn_nothing_of_sentry_is_loaded() -> None:
    script = "import sys; print('sentry_sdk' in sys.modules)"
    result = run_manage("shell", "--no-imports", "-c", script, env=project_env(SENTRY_DSN=""))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_wrong_dsn_or_sample_rate_stops_the_start_with_a_sentence() -> None:
    result = run_manage("check", env=project_env(SENTRY_DSN="https://sentry.example.com/not-a-dsn"))
    assert result.returncode != 0
    assert "ImproperlyConfigured: SENTRY_DSN is not a Sentry DSN" in result.stderr
    with pytest.raises(ImproperlyConfigured, match=r"SENTRY_TRACES_SAMPLE_RATE=2\.0 is not a share between 0 and 1"):
        error_tracking.start("http://key@127.0.0.1:9/1", environment="test", release="", traces_sample_rate=2.0)


def test_events_are_tagged_with_the_current_request_id(no_request_id: None) -> None:
    assert error_tracking.tag_request_id({"message": "outside a request"}, {}) == {"message": "outside a request"}
    token = request_id.set("c" * 32)
    try:
        event = error_tracking.tag_request_id({"tags": {"kept": "yes"}}, {})
    finally:
        request_id.reset(token)
    assert event["tags"] == {"kept": "yes", "request_id": "c" * 32}
