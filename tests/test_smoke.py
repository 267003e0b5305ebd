"""The baked project, served by uvicorn on 127.0.0.1 with a real task worker, answers real HTTP."""

from __future__ import annotations

import hashlib
from http import HTTPStatus

import httpx
import pytest

from .support.http import download_as_attachment, upload_and_wait
from .support.serving import Served, logged_in

pytestmark = pytest.mark.slow


def test_healthz_over_http(served: Served) -> None:
    response = httpx.get(served.url + "/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_readyz_over_http_with_real_services(served: Served) -> None:
    response = httpx.get(served.url + "/readyz", timeout=10)
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_home_page_over_http(served: Served) -> None:
    response = httpx.get(served.url + "/")
    assert response.status_code == HTTPStatus.OK
    assert "My Async Project" in response.text


def test_upload_is_processed_by_the_worker_and_downloaded(served: Served) -> None:
    client = logged_in(served)
    content = b"city,population\n" + b"".join(b"city-%d,%d\n" % (n, n * 1000) for n in range(5000))
    upload = upload_and_wait(client, "cities.csv", content)
    assert upload["status"] == "done", upload["error"]
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    assert upload["size"] == len(content)
    assert upload["content_type"] == "text/csv"
    result = upload["result"]
    assert isinstance(result, dict)
    assert (result["rows"], result["columns"]) == (5001, 2)
    download_as_attachment(client, upload, content)
