"""Uploads kept in an S3-compatible bucket: stored, inspected, downloaded, over real HTTP.

The bucket is served by moto's S3 server in a process of its own (tests/support/object_storage.py).
"""

from __future__ import annotations

import hashlib
import threading
import tracemalloc
from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import parse_qs

import httpx
import pytest
from asgiref.sync import sync_to_async
from botocore.config import Config
from django.db import connections
from django.test import Client
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.uploads import lifecycle
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.clients import logged_in
from tests.support.environments import PRODUCTION_ENV, settings_under
from tests.support.files import CSV, png_bytes, stored, upload
from tests.support.object_storage import ObjectStorage, moto_server, new_bucket
from tests.support.processes import free_port, project_env, run_manage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def storage_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(storage_endpoint: str, settings: Settings) -> ObjectStorage:
    """A fresh bucket, and STORAGES pointing at it."""
    storage = new_bucket(storage_endpoint)
    settings.STORAGES = {**settings.STORAGES, "default": storage.storage_settings()}
    return storage


@pytest.fixture
def client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_upload_is_a_private_object_named_by_its_id_and_inspected_from_the_bucket(
    client: Client, user: User, bucket: ObjectStorage
) -> None:
    response = client.post("/api/uploads/", {"file": upload("../../etc/passwd.csv", CSV)})
    assert response.status_code == HTTPStatus.CREATED, response.content
    created = Upload.objects.get(owner=user)
    assert bucket.keys() == [f"uploads/{created.pk.hex[:2]}/{created.pk.hex}"]
    # No ACL was sent: the object has its owner's grant only, nothing for AllUsers.
    grants = bucket.client().get_object_acl(Bucket=bucket.bucket, Key=created.file.name)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert all("URI" not in grant["Grantee"] for grant in grants)

    lifecycle.process(created.pk)
    created.refresh_from_db()
    assert created.status == Upload.Status.DONE, created.error
    assert created.sha256 == hashlib.sha256(CSV).hexdigest()
    assert created.result["rows"] == 3


def test_production_downloads_are_fetched_by_nginx_with_a_presigned_url(
    client: Client, user: User, bucket: ObjectStorage, settings: Settings
) -> None:
    settings.DOWNLOAD_X_ACCEL_PREFIX = "/_storage/"
    image = png_bytes()
    created = stored(user, image, name="Photo (1).png")
    Upload.objects.filter(pk=created.pk).update(content_type="image/png")  # as sniffed at upload
    response = client.get(f"/uploads/{created.pk}/download/")
    assert response.status_code == HTTPStatus.OK
    assert response.content == b""  # the bytes come from the storage, through nginx
    location = response["X-Accel-Redirect"]
    path, _, query = location.partition("?")
    assert path == f"/_storage/{bucket.bucket}/{created.file.name}"
    signed = parse_qs(query)
    assert signed["X-Amz-Expires"] == ["60"]
    assert signed["response-content-type"] == ["image/png"]
    assert signed["response-content-disposition"] == ['attachment; filename="Photo (1).png"']

    # What nginx's /_storage/ location does: the same path and query, at the storage's origin.
    fetched = httpx.get(bucket.endpoint_url + path.removeprefix("/_storage") + "?" + query)
    assert fetched.status_code == HTTPStatus.OK
    assert fetched.content == image
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["content-disposition"] == 'attachment; filename="Photo (1).png"'


async def test_development_downloads_stream_the_object(user: User, bucket: ObjectStorage) -> None:
    created = await sync_to_async(stored)(user, CSV, name="data.csv")
    client = await logged_in(user)
    response = await client.get(f"/uploads/{created.pk}/download/")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"] == 'attachment; filename="data.csv"'
    assert b"".join([chunk async for chunk in response.streaming_content]) == CSV  # type: ignore[attr-defined]


def test_a_large_object_is_inspected_through_a_temporary_file_not_memory(user: User, bucket: ObjectStorage) -> None:
    size = 24 * 1024 * 1024
    line = b"0123456789," * 9 + b"tail\n"
    content = line * (size // len(line))
    created = stored(user, content, name="big.csv")
    del content
    tracemalloc.start()
    try:
        lifecycle.process(created.pk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    created.refresh_from_db()
    assert created.status == Upload.Status.DONE, created.error
    assert created.result["rows"] == size // len(line)
    # The object is never whole in memory: at most a few transfer and read chunks are.
    assert peak < size / 2, f"{peak / 2**20:.1f} MiB at peak for a {size / 2**20:.0f} MiB object"


def test_an_unreachable_storage_is_retried_later_not_failed(
    user: User, bucket: ObjectStorage, settings: Settings
) -> None:
    created = stored(user, CSV)
    dead = ObjectStorage(f"http://127.0.0.1:{free_port()}", bucket.bucket)
    settings.STORAGES = {**settings.STORAGES, "default": dead.storage_settings(client_config=no_retries())}
    retry_in = lifecycle.process(created.pk)
    created.refresh_from_db()
    assert retry_in is not None
    assert created.status == Upload.Status.PENDING
    assert "Could not connect to the endpoint URL" in created.error


def test_an_object_gone_from_the_bucket_fails_the_upload(user: User, bucket: ObjectStorage) -> None:
    created = stored(user, CSV)
    bucket.client().delete_object(Bucket=bucket.bucket, Key=created.file.name)
    lifecycle.process(created.pk)
    created.refresh_from_db()
    assert created.status == Upload.Status.FAILED
    assert created.error == "the stored file is missing"


def test_uploads_from_several_threads_each_get_their_own_object(user: User, bucket: ObjectStorage) -> None:
    """One storage (and boto3 client) serves the web process's threads: no object is mixed up."""
    contents = [b"n,multiple\n" + b"".join(b"%d,%d\n" % (n, n * k) for n in range(500)) for k in range(8)]
    stored_ids: dict[bytes, str] = {}
    lock = threading.Lock()

    def store(content: bytes) -> None:
        try:
            created = stored(user, content)
        finally:
            connections.close_all()  # this thread's
        with lock:
            stored_ids[content] = str(created.file.name)

    threads = [threading.Thread(target=store, args=(content,)) for content in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    s3 = bucket.client()
    assert len(stored_ids) == len(contents)
    for content, key in stored_ids.items():
        assert s3.get_object(Bucket=bucket.bucket, Key=key)["Body"].read() == content
    assert bucket.keys() == sorted(stored_ids.values())


def no_retries() -> Config:
    return Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2)


def test_production_refuses_an_endpoint_with_a_path() -> None:
    env = {**PRODUCTION_ENV, "AWS_S3_ENDPOINT_URL": "https://s3.example.com/uploads"}
    result = run_manage("check", env=project_env(**env))
    assert result.returncode != 0
    assert "AWS_S3_ENDPOINT_URL must be a scheme and a host (and port), nothing else" in result.stderr


def test_production_keeps_uploads_in_the_bucket_and_hands_downloads_to_nginx() -> None:
    loaded = settings_under(["STORAGES", "DOWNLOAD_X_ACCEL_PREFIX"], **PRODUCTION_ENV)
    options = loaded["STORAGES"]["default"]["OPTIONS"]
    assert loaded["STORAGES"]["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert (options["bucket_name"], options["endpoint_url"]) == (
        PRODUCTION_ENV["AWS_STORAGE_BUCKET_NAME"],
        PRODUCTION_ENV["AWS_S3_ENDPOINT_URL"],
    )
    assert options["default_acl"] is None
    assert loaded["DOWNLOAD_X_ACCEL_PREFIX"] == "/_storage/"


def test_development_without_a_bucket_keeps_uploads_on_disk() -> None:
    loaded = settings_under(["STORAGES"], AWS_STORAGE_BUCKET_NAME="")
    assert loaded["STORAGES"]["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
