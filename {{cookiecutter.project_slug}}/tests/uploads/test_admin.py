"""The uploads admin: for looking, not for adding or editing."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.files import CSV, stored

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client_of(user: User) -> Client:
    staff = User.objects.create_superuser("root", password="root-secret-1")
    client = Client()
    client.force_login(staff)
    return client


def test_uploads_cannot_be_added_in_the_admin(admin_client_of: Client) -> None:
    """An empty 'Add upload' form used to end in an IntegrityError (500)."""
    assert admin_client_of.get("/admin/uploads/upload/add/").status_code == HTTPStatus.FORBIDDEN
    assert admin_client_of.post("/admin/uploads/upload/add/", {}).status_code == HTTPStatus.FORBIDDEN


def test_the_admin_names_the_stored_file_without_a_dead_link(admin_client_of: Client, user: User) -> None:
    upload = stored(user, CSV, name="data.csv")
    page = admin_client_of.get(f"/admin/uploads/upload/{upload.pk}/change/")
    assert page.status_code == HTTPStatus.OK
    text = page.content.decode()
    assert str(upload.file.name) in text
    assert f'href="/{upload.file.name}"' not in text  # MEDIA_ROOT has no public URL
    assert f'href="{upload.file.name}"' not in text
