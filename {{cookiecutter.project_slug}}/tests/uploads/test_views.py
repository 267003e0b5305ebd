"""The upload pages and downloads, as a logged-in user sees them."""

from __future__ import annotations

import stat
from http import HTTPStatus
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.uploads import lifecycle
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.clients import logged_in
from tests.support.files import CSV, TEXT, png_bytes, png_without_pixels, stored, upload

pytestmark = pytest.mark.django_db(transaction=True)


async def body(response: object) -> bytes:
    """The whole body of a response, streaming or not."""
    if getattr(response, "streaming", False):
        return b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
    return bytes(response.content)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/uploads/", "/uploads/new/", "/api/uploads/"])
async def test_pages_require_login(path: str, async_client: AsyncClient) -> None:
    response = await async_client.get(path)
    if path.startswith("/api/"):
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert "log in" in response.json()["error"]
    else:
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"] == f"/accounts/login/?next={path}"


async def test_form_upload_of_one_file_redirects_to_it(logged_in_client: AsyncClient, user: User) -> None:
    response = await logged_in_client.post("/uploads/new/", {"file": upload("notes.txt", TEXT, "text/plain")})
    assert response.status_code == HTTPStatus.SEE_OTHER
    created = await Upload.objects.aget(owner=user)
    assert response["Location"] == f"/uploads/{created.pk}/"
    assert (created.original_name, created.size, created.content_type) == ("notes.txt", len(TEXT), "text/plain")
    assert created.status == Upload.Status.PENDING
    assert await sync_to_async(Path(created.file.path).read_bytes)() == TEXT


async def test_form_upload_of_several_files_redirects_to_the_list(logged_in_client: AsyncClient, user: User) -> None:
    files = [upload("a.csv", CSV), upload("b.png", png_bytes()), upload("c.txt", TEXT)]
    response = await logged_in_client.post("/uploads/new/", {"file": files})
    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == "/uploads/"
    assert await Upload.objects.filter(owner=user).acount() == 3


async def test_rejected_form_upload_shows_the_reason(logged_in_client: AsyncClient) -> None:
    response = await logged_in_client.post("/uploads/new/", {"file": upload("empty.txt", b"")})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "&#x27;empty.txt&#x27; is empty." in response.content.decode()


async def test_list_shows_own_uploads_newest_first_paginated(
    logged_in_client: AsyncClient, user: User, other_user: User
) -> None:
    for number in range(25):
        await Upload.objects.acreate(
            owner=user, original_name=f"file-{number:02}.txt", size=1, content_type="text/plain", file="x"
        )
    await Upload.objects.acreate(owner=other_user, original_name="secret.txt", size=1, content_type="text/plain")
    first = (await logged_in_client.get("/uploads/")).content.decode()
    second = (await logged_in_client.get("/uploads/?page=2")).content.decode()
    assert "file-24.txt" in first
    assert "file-05.txt" in first
    assert "file-04.txt" not in first
    assert "file-04.txt" in second
    assert "file-00.txt" in second
    assert "Page 2 of 2 (25 uploads)" in second
    assert "secret.txt" not in first + second


async def test_detail_escapes_the_file_name(logged_in_client: AsyncClient, user: User) -> None:
    created = await Upload.objects.acreate(
        owner=user, original_name="<script>alert(1)</script>.txt", size=1, content_type="text/plain"
    )
    page = (await logged_in_client.get(f"/uploads/{created.pk}/")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in page


async def test_an_unfinished_uploads_page_follows_its_live_status(logged_in_client: AsyncClient, user: User) -> None:
    created = await sync_to_async(stored)(user, CSV, name="a.csv")
    page = (await logged_in_client.get(f"/uploads/{created.pk}/")).content.decode()
    assert "uploads/live.js" in page
    assert f'data-events-url="/uploads/{created.pk}/events/"' in page
    assert "Waiting for the worker." in page
    await sync_to_async(lifecycle.process)(created.pk)
    page = (await logged_in_client.get(f"/uploads/{created.pk}/")).content.decode()
    assert "uploads/live.js" not in page
    assert "data-events-url" not in page


async def processed(client: AsyncClient, user: User, content: bytes, name: str) -> str:
    """The page of an upload of ``content``, once the worker has processed it."""
    created = await sync_to_async(stored)(user, content, name=name)
    await sync_to_async(lifecycle.process)(created.pk)
    response = await client.get(f"/uploads/{created.pk}/")
    assert response.status_code == HTTPStatus.OK
    return response.content.decode()


async def test_an_image_is_shown_with_its_dimensions(logged_in_client: AsyncClient, user: User) -> None:
    page = await processed(logged_in_client, user, png_bytes(30, 20), "photo.png")
    created = await Upload.objects.aget(owner=user)
    assert f'<img src="/uploads/{created.pk}/preview/" width="30" height="20" alt="Preview of photo.png">' in page
    assert "30 \N{MULTIPLICATION SIGN} 20 pixels · PNG · colour mode RGB" in page
    assert "<dd>PNG image</dd>" in page


async def test_text_and_tables_show_their_figures(logged_in_client: AsyncClient, user: User) -> None:
    text = await processed(logged_in_client, user, TEXT, "fox.txt")
    assert '<tr><th scope="row">Lines</th><td>2</td></tr>' in text
    assert '<tr><th scope="row">Words</th><td>9</td></tr>' in text
    assert "<dd>Plain text</dd>" in text
    table = await processed(logged_in_client, user, CSV, "people.csv")
    assert '<tr><th scope="row">Rows</th><td>3</td></tr>' in table
    assert '<tr><th scope="row">Columns</th><td>3</td></tr>' in table
    assert '<tr><th scope="row">Separator</th><td>comma</td></tr>' in table


async def test_json_says_whether_it_is_valid_and_where_it_breaks(logged_in_client: AsyncClient, user: User) -> None:
    valid = await processed(logged_in_client, user, b'{"a": [1, 2]}', "ok.json")
    assert "Valid JSON; the top level is an object." in valid
    broken = await processed(logged_in_client, user, b'{"a": [1, 2\n 3]}', "broken.json")
    assert "Not valid JSON: line 2, column 2: Expecting &#x27;,&#x27; delimiter." in broken


async def test_a_file_without_details_says_so(logged_in_client: AsyncClient, user: User) -> None:
    page = await processed(logged_in_client, user, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "report.pdf")
    assert "Stored as it is: the worker reads no further details from a PDF document." in page


async def test_a_failure_is_explained_in_a_sentence(logged_in_client: AsyncClient, user: User) -> None:
    page = await processed(logged_in_client, user, png_without_pixels(), "broken.png")
    assert "This file could not be processed:</strong> Not a readable image: its data is incomplete or damaged." in page


async def test_a_processed_image_is_previewed_inline_and_safely(logged_in_client: AsyncClient, user: User) -> None:
    await processed(logged_in_client, user, png_bytes(), "photo.png")
    created = await Upload.objects.aget(owner=user)
    response = await logged_in_client.get(f"/uploads/{created.pk}/preview/")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="photo.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert await body(response) == png_bytes()


@pytest.mark.parametrize(
    ("content", "processed_first"),
    [
        (png_bytes(), False),  # not inspected yet: its type is only what the upload claimed
        (CSV, True),  # not an image
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', True),  # scripts run in SVG
    ],
)
async def test_nothing_else_is_previewed(
    logged_in_client: AsyncClient, user: User, content: bytes, processed_first: bool
) -> None:
    created = await sync_to_async(stored)(user, content)
    if processed_first:
        await sync_to_async(lifecycle.process)(created.pk)
    assert (await logged_in_client.get(f"/uploads/{created.pk}/preview/")).status_code == HTTPStatus.NOT_FOUND


async def test_the_list_names_types_and_sizes_as_people_read_them(logged_in_client: AsyncClient, user: User) -> None:
    await sync_to_async(stored)(user, b"x" * 150_000, name="big.txt")
    page = (await logged_in_client.get("/uploads/")).content.decode()
    assert '<td data-label="Type">Plain text</td>' in page
    assert '<td data-label="Size">146 KiB</td>' in page


async def test_an_empty_list_says_what_to_do(logged_in_client: AsyncClient) -> None:
    page = (await logged_in_client.get("/uploads/")).content.decode()
    assert "No uploads yet" in page
    assert "Upload your first files" in page


async def test_the_upload_form_states_the_limits_before_anyone_tries(
    logged_in_client: AsyncClient, settings: Settings
) -> None:
    settings.UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    settings.UPLOAD_ALLOWED_TYPES = ["image/png", "text/csv"]
    page = (await logged_in_client.get("/uploads/new/")).content.decode()
    assert "<strong>5 MiB</strong> each" in page
    assert "Accepted: PNG image, CSV table" in page
    assert 'accept="image/png,.png,text/csv,.csv"' in page
    assert 'data-max-bytes="5242880"' in page


@pytest.mark.parametrize("suffix", ["", "download/"])
async def test_other_users_upload_is_404(suffix: str, other_user: User, user: User) -> None:
    theirs = await Upload.objects.acreate(owner=other_user, original_name="a.txt", size=1, content_type="text/plain")
    client = await logged_in(user)
    assert (await client.get(f"/uploads/{theirs.pk}/{suffix}")).status_code == HTTPStatus.NOT_FOUND
    api = await client.get(f"/api/uploads/{theirs.pk}/")
    assert api.status_code == HTTPStatus.NOT_FOUND
    assert api.json() == {"error": "No such upload."}


async def test_download_is_an_attachment_that_is_never_sniffed(logged_in_client: AsyncClient, user: User) -> None:
    await logged_in_client.post("/uploads/new/", {"file": upload("Résumé 2026.txt", TEXT)})
    created = await Upload.objects.aget(owner=user)
    response = await logged_in_client.get(f"/uploads/{created.pk}/download/")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''R%C3%A9sum%C3%A9%202026.txt"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "text/plain"
    assert response["Cache-Control"] == "private, no-store"  # no shared cache keeps a user's file
    assert await body(response) == TEXT


async def test_production_downloads_are_handed_to_nginx(
    logged_in_client: AsyncClient, user: User, settings: Settings
) -> None:
    settings.DOWNLOAD_X_ACCEL_PREFIX = "/_protected/"
    await logged_in_client.post("/uploads/new/", {"file": upload("data.csv", CSV)})
    created = await Upload.objects.aget(owner=user)
    response = await logged_in_client.get(f"/uploads/{created.pk}/download/")
    assert response["X-Accel-Redirect"] == f"/_protected/{created.file.name}"
    assert response["Content-Disposition"] == 'attachment; filename="data.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert await body(response) == b""


async def test_list_counts_uploads_by_status_and_follows_processing(logged_in_client: AsyncClient, user: User) -> None:
    await logged_in_client.post("/uploads/new/", {"file": [upload("a.csv", CSV), upload("b.txt", TEXT)]})
    page = (await logged_in_client.get("/uploads/")).content.decode()
    assert "0 done · 0 processing · 2 waiting · 0 failed" in page
    first = await Upload.objects.filter(owner=user).afirst()
    assert first is not None
    await sync_to_async(lifecycle.process)(first.pk)
    page = (await logged_in_client.get("/uploads/")).content.decode()
    assert "1 done · 0 processing · 1 waiting · 0 failed" in page


@pytest.mark.parametrize("path", ["/uploads/", "/uploads/new/", "/api/uploads/"])
async def test_signed_in_pages_are_never_kept_by_a_shared_cache(logged_in_client: AsyncClient, path: str) -> None:
    response = await logged_in_client.get(path)
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "private, no-store"


async def test_stored_files_are_readable_by_owner_and_group_only(
    logged_in_client: AsyncClient, user: User, settings: Settings
) -> None:
    await logged_in_client.post("/uploads/new/", {"file": upload("data.csv", CSV)})
    created = await Upload.objects.aget(owner=user)
    path = Path(settings.MEDIA_ROOT) / str(created.file.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
