"""A user's side of real HTTP: log in through the form, send a form's CSRF token."""

from __future__ import annotations

from http import HTTPStatus

import httpx


def post_form(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    """Open the form at ``path``, then send ``data`` with its CSRF token, as a browser would."""
    client.get(path).raise_for_status()
    return client.post(path, data={**data, "csrfmiddlewaretoken": client.cookies["csrftoken"]})


def log_in(client: httpx.Client, email: str, password: str) -> None:
    """Log in through the login form (with the email address: every project accepts it)."""
    response = post_form(client, "/accounts/login/", {"login": email, "password": password})
    assert response.status_code == HTTPStatus.FOUND, response.text


def same_session(client: httpx.Client) -> httpx.Client:
    """A new client, on a new connection, carrying ``client``'s cookies."""
    return httpx.Client(base_url=client.base_url, cookies=client.cookies)
