"""Without Redis, every process of the machine shares one cache, a table of the database.

Sessions, cached counts and rate limits must agree between gunicorn workers and the task
worker; the local-memory cache gave each process its own (a logout that only one worker
saw, counts minutes behind, a limit counted per process).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import httpx
import pytest
from django.conf import global_settings
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.http import log_in, same_session
from tests.support.processes import LiveServer, Worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# The embedded default's cache (REDIS_URL unset), on the test database, whatever the suite runs on.
EMBEDDED = {"REDIS_URL": ""}
COUNTS = re.compile(r"(\d+) done · (\d+) processing · (\d+) waiting · (\d+) failed")


@pytest.fixture
def two_workers(live_server_factory: Callable[..., LiveServer], database_cache: None) -> LiveServer:
    """gunicorn with two uvicorn workers, on the embedded default's cache."""
    return live_server_factory(workers=2, UPLOAD_RATE_LIMIT="30", **EMBEDDED)


@pytest.fixture
def alice(two_workers: LiveServer, settings: Settings, transactional_db: None) -> Iterator[httpx.Client]:
    """A client logged in through the form; the password hashed as the server checks it (not with MD5)."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    User.objects.create_user("alice", "alice@example.com", "alice-secret-1")
    with httpx.Client(base_url=two_workers.url) as client:
        log_in(client, "alice@example.com", "alice-secret-1")
        yield client


def counts_on_a_new_connection(client: httpx.Client) -> tuple[str, ...]:
    """done, processing, waiting, failed, as the list page shows them."""
    with same_session(client) as fresh:
        found = COUNTS.search(fresh.get("/uploads/").text)
    assert found is not None
    return found.groups()


def test_a_rate_limit_of_30_holds_across_two_gunicorn_workers(alice: httpx.Client) -> None:
    """50 upload requests at once, each on its own connection: exactly 30 are let through."""

    def post(_: int) -> int:
        with same_session(alice) as client:
            headers = {"X-CSRFToken": alice.cookies["csrftoken"]}
            return client.post("/api/uploads/", files={"file": ("a.txt", b"hello")}, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(post, range(50)))
    assert statuses.count(HTTPStatus.TOO_MANY_REQUESTS) == 20, statuses
    assert statuses.count(HTTPStatus.CREATED) == 30, statuses


def test_a_logout_is_seen_by_every_worker(alice: httpx.Client) -> None:
    """After a logout, the old session cookie (another tab, a copied cookie) is anonymous in every worker."""
    session_cookies = httpx.Cookies(alice.cookies)

    def signed_in(_: int) -> bool:
        with httpx.Client(base_url=alice.base_url, cookies=session_cookies) as client:
            return client.get("/uploads/").status_code == HTTPStatus.OK

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert all(pool.map(signed_in, range(20)))  # each worker has read (and cached) the session
        logout = alice.post("/accounts/logout/", data={"csrfmiddlewaretoken": alice.cookies["csrftoken"]})
        assert logout.status_code == HTTPStatus.FOUND
        assert not any(pool.map(signed_in, range(20)))


def test_counts_follow_the_task_worker_within_a_second(
    alice: httpx.Client, worker_factory: Callable[..., Worker]
) -> None:
    response = alice.post(
        "/api/uploads/", files={"file": ("a.csv", b"a,b\n1,2\n")}, headers={"X-CSRFToken": alice.cookies["csrftoken"]}
    )
    assert response.status_code == HTTPStatus.CREATED
    pk = response.json()["results"][0]["id"]
    assert counts_on_a_new_connection(alice) == ("0", "0", "1", "0")  # now cached
    worker_factory(**EMBEDDED)
    wait_for(lambda: Upload.objects.get(pk=pk).status == Upload.Status.DONE, interval=0.01)
    # The worker forgot the counts when it finished: the next page, from either web worker, has them right.
    assert [counts_on_a_new_connection(alice) for _ in range(4)] == [("1", "0", "0", "0")] * 4
