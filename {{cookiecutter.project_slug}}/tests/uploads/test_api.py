"""The JSON API for scripts."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import AsyncClient

from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.files import CSV, TEXT, upload

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = set("id status original_name size content_type sha256 result error created_at processed_at url".split())


async def test_post_creates_records(logged_in_client: AsyncClient) -> None:
    response = await logged_in_client.post("/api/uploads/", {"file": [upload("a.csv", CSV), upload("b.txt", TEXT)]})
    assert response.status_code == HTTPStatus.CREATED
    results = response.json()["results"]
    assert [set(item) for item in results] == [FIELDS, FIELDS]
    assert [(item["original_name"], item["size"], item["content_type"]) for item in results] == [
        ("a.csv", len(CSV), "text/csv"),
        ("b.txt", len(TEXT), "text/plain"),
    ]
    assert results[0]["status"] == "pending"


async def test_list_is_paginated_and_own_only(logged_in_client: AsyncClient, user: User, other_user: User) -> None:
    for number in range(22):
        await Upload.objects.acreate(owner=user, original_name=f"{number}.txt", size=1, content_type="text/plain")
    await Upload.objects.acreate(owner=other_user, original_name="theirs.txt", size=1, content_type="text/plain")
    first = (await logged_in_client.get("/api/uploads/")).json()
    second = (await logged_in_client.get("/api/uploads/?page=2")).json()
    assert (first["count"], first["num_pages"], first["next"], first["previous"]) == (22, 2, 2, None)
    assert [item["original_name"] for item in first["results"]][:2] == ["21.txt", "20.txt"]
    assert [item["original_name"] for item in second["results"]] == ["1.txt", "0.txt"]
    assert second["next"] is None


async def test_detail_has_the_documented_fields(logged_in_client: AsyncClient, user: User) -> None:
    created = await Upload.objects.acreate(owner=user, original_name="a.txt", size=3, content_type="text/plain")
    body = (await logged_in_client.get(f"/api/uploads/{created.pk}/")).json()
    assert set(body) == FIELDS
    assert body["id"] == str(created.pk)
    assert body["sha256"] is None
