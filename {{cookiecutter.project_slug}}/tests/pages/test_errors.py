"""The error pages: in the site's look, and rendered without touching the database."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from asgiref.sync import sync_to_async
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.asgi import Client, build
from tests.support.clients import logged_in
from tests.support.database import open_database_connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def alice(user: User, settings: Settings) -> Client:
    settings.DEBUG = False
    django_client = await logged_in(user)
    return Client(build(fast=True), cookies={name: morsel.value for name, morsel in django_client.cookies.items()})


async def test_a_missing_page_is_a_designed_404_that_leaves_no_connection_open(alice: Client) -> None:
    """Django renders error pages of async views in a shared thread: a query there would keep its connection."""
    baseline = await sync_to_async(open_database_connections, thread_sensitive=False)()
    response = await alice.get("/uploads/00000000-0000-0000-0000-000000000000/")
    assert response.status == HTTPStatus.NOT_FOUND
    assert "<h1>Page not found</h1>" in response.text
    assert 'href="/static/css/site.css"' in response.text
    assert await sync_to_async(open_database_connections, thread_sensitive=False)() <= baseline


async def test_a_form_sent_without_its_token_explains_itself(alice: Client) -> None:
    form = [("content-type", "application/x-www-form-urlencoded")]
    response = await alice.request("POST", "/accounts/logout/", headers=form)
    assert response.status == HTTPStatus.FORBIDDEN
    assert "<h1>The form has expired</h1>" in response.text


async def test_a_bad_request_gets_the_400_page(alice: Client) -> None:
    response = await alice.get("/", host="not-an-allowed-host.example")
    assert response.status == HTTPStatus.BAD_REQUEST
    assert "<h1>This request could not be understood</h1>" in response.text


@pytest.mark.urls("tests.support.asgi_urls")
async def test_a_server_error_gets_the_500_page(alice: Client) -> None:
    response = await alice.get("/t/broken/")  # its view raises RuntimeError
    assert response.status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "<h1>Something went wrong on our side</h1>" in response.text
