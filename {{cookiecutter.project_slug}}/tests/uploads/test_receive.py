"""Limits and hostile input, each sent as a real request: a clear 4xx, and nothing written."""

from __future__ import annotations

import os
from http import HTTPStatus
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.uploads.receive import clean_filename
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.clients import logged_in
from tests.support.files import CSV, HTML_AS_PNG, TEXT, upload

pytestmark = pytest.mark.django_db(transaction=True)


async def nothing_written(settings: Settings) -> bool:
    """No upload row and no file in MEDIA_ROOT."""
    files = await sync_to_async(lambda: [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()])()
    return files == [] and not await Upload.objects.aexists()


async def test_file_over_the_limit_is_413(logged_in_client: AsyncClient, settings: Settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    response = await logged_in_client.post("/api/uploads/", {"file": upload("big.txt", b"x" * 1001)})
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == {"error": "'big.txt' is larger than the limit of 1,000 bytes per file."}
    assert await nothing_written(settings)


async def test_a_database_failure_mid_upload_is_a_503_and_keeps_nothing(
    logged_in_client: AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second file's row cannot be written (the database went away): the first file's goes too."""
    saved = Upload.save

    def save_then_fail(self: Upload, *args: object, **kwargs: object) -> None:
        if Upload.objects.exists():  # inside the transaction: the first row is written
            raise OperationalError("server closed the connection unexpectedly")
        saved(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Upload, "save", save_then_fail)
    response = await logged_in_client.post("/api/uploads/", {"file": [upload("a.csv", CSV), upload("b.txt", TEXT)]})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {
        "error": "The files could not be stored just now, and none was kept: try again in a minute."
    }
    monkeypatch.undo()
    assert await nothing_written(settings)


async def test_file_at_the_limit_is_accepted(logged_in_client: AsyncClient, settings: Settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    response = await logged_in_client.post("/api/uploads/", {"file": upload("ok.txt", b"x" * 1000)})
    assert response.status_code == HTTPStatus.CREATED


async def test_request_larger_than_all_limits_is_refused_before_parsing(
    logged_in_client: AsyncClient, settings: Settings
) -> None:
    settings.UPLOAD_MAX_BYTES = 100
    settings.UPLOAD_MAX_FILES = 1
    response = await logged_in_client.post("/api/uploads/", {"file": upload("big.txt", b"x" * 200_000)})
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == {"error": "The request is larger than the upload limits allow."}
    assert await nothing_written(settings)


async def test_empty_file_is_refused(logged_in_client: AsyncClient, settings: Settings) -> None:
    response = await logged_in_client.post("/api/uploads/", {"file": upload("empty.txt", b"")})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": "'empty.txt' is empty."}
    assert await nothing_written(settings)


async def test_too_many_files_are_refused(logged_in_client: AsyncClient, settings: Settings) -> None:
    settings.UPLOAD_MAX_FILES = 2
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = [upload(f"{n}.txt", TEXT) for n in range(3)]
    response = await logged_in_client.post("/api/uploads/", {"file": files})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": "Too many files: send at most 2 at once."}
    assert await nothing_written(settings)


async def test_html_disguised_as_png_is_refused(logged_in_client: AsyncClient, settings: Settings) -> None:
    response = await logged_in_client.post("/api/uploads/", {"file": upload("cat.png", HTML_AS_PNG, "image/png")})
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert response.json()["error"].startswith(
        "'cat.png' is not an accepted type: its contents are text/html (HTML page)."
    )
    assert await nothing_written(settings)


async def test_one_bad_file_refuses_the_whole_request(logged_in_client: AsyncClient, settings: Settings) -> None:
    files = [upload("good.csv", CSV), upload("bad.png", HTML_AS_PNG)]
    response = await logged_in_client.post("/api/uploads/", {"file": files})
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert await nothing_written(settings)


async def test_missing_file_field_is_refused(logged_in_client: AsyncClient, settings: Settings) -> None:
    response = await logged_in_client.post("/api/uploads/", {"document": upload("a.txt", TEXT)})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": "No file received: send one or more files in the 'file' field."}
    assert await nothing_written(settings)


async def test_malformed_multipart_is_refused(logged_in_client: AsyncClient, settings: Settings) -> None:
    response = await logged_in_client.post(
        "/api/uploads/", data=b"--not-the-boundary\r\ngarbage", content_type="multipart/form-data; boundary="
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"].startswith("The upload could not be read:")
    assert await nothing_written(settings)


async def test_upload_without_csrf_token_is_refused(user: User, settings: Settings) -> None:
    client = await logged_in(user, enforce_csrf_checks=True)
    response = await client.post("/api/uploads/", {"file": upload("a.txt", TEXT)})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "X-CSRFToken" in response.json()["error"]
    assert await nothing_written(settings)


async def test_upload_with_csrf_token_in_header_is_accepted(user: User) -> None:
    client = await logged_in(user, enforce_csrf_checks=True)
    await client.get("/uploads/new/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = await client.post("/api/uploads/", {"file": upload("a.txt", TEXT)}, headers={"X-CSRFToken": token})
    assert response.status_code == HTTPStatus.CREATED


async def test_form_with_csrf_token_field_is_accepted(user: User) -> None:
    client = await logged_in(user, enforce_csrf_checks=True)
    await client.get("/uploads/new/")
    token = client.cookies["csrftoken"].value
    response = await client.post("/uploads/new/", {"file": upload("a.txt", TEXT), "csrfmiddlewaretoken": token})
    assert response.status_code == HTTPStatus.SEE_OTHER


async def test_unauthenticated_upload_is_refused(async_client: AsyncClient, settings: Settings) -> None:
    response = await async_client.post("/api/uploads/", {"file": upload("a.txt", TEXT)})
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert await nothing_written(settings)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Windows\\system32\\evil.txt", "evil.txt"),
        ("report\x00.txt", "report.txt"),
        ("line\nbreak\r.txt", "linebreak.txt"),
        ("invoice\u202etxt.exe", "invoicetxt.exe"),
        ("cafe\u0301.txt", "caf\u00e9.txt"),
        ("..", "upload"),
        ("   ", "upload"),
        ("a" * 300 + ".txt", "a" * 196 + ".txt"),
    ],
)
def test_hostile_file_names_are_cleaned(sent: str, kept: str) -> None:
    assert clean_filename(sent) == kept


@pytest.mark.parametrize("name", ["../../etc/passwd.txt", "/var/evil.txt", "a\u202egnp.txt", "x" * 300 + ".txt"])
async def test_stored_file_name_never_comes_from_the_client(
    name: str, logged_in_client: AsyncClient, user: User
) -> None:
    response = await logged_in_client.post("/api/uploads/", {"file": upload(name, TEXT)})
    assert response.status_code == HTTPStatus.CREATED
    created = await Upload.objects.aget(owner=user)
    assert created.file.name == f"uploads/{created.pk.hex[:2]}/{created.pk.hex}"
    assert os.sep + "etc" not in created.file.path
    assert created.original_name == clean_filename(name)
    assert response.json()["results"][0]["original_name"] == created.original_name


async def test_uploads_are_rate_limited_per_user(logged_in_client: AsyncClient, settings: Settings) -> None:
    settings.UPLOAD_RATE_LIMIT = 2
    for _ in range(2):
        assert (
            await logged_in_client.post("/api/uploads/", {"file": upload("a.txt", TEXT)})
        ).status_code == HTTPStatus.CREATED
    refused = await logged_in_client.post("/api/uploads/", {"file": upload("a.txt", TEXT)})
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"].startswith("Too many requests; try again in")
    form = await logged_in_client.post("/uploads/new/", {"file": upload("a.txt", TEXT)})
    assert form.status_code == HTTPStatus.TOO_MANY_REQUESTS  # the form and the API share the limit
    assert (await logged_in_client.get("/api/uploads/")).status_code == HTTPStatus.OK  # reading is not limited


async def test_too_many_form_fields_get_a_json_400(logged_in_client: AsyncClient, settings: Settings) -> None:
    """Django's own answer to more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields is an HTML page; the API's is JSON."""
    fields = {f"field{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = await logged_in_client.post("/api/uploads/", {**fields, "file": upload("a.txt", TEXT)})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": "Too many form fields: send the files and the CSRF token only."}
    assert await nothing_written(settings)
