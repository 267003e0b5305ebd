"""A user's side of real HTTP: log in through the form, send a form's CSRF token."""

from __future__ import annotations

from http import HTTPStatus

import httpx


def log_in(client: httpx.Client, email: str, password: str) -> None:
    """Log in through the login form, as a browser would (with the email address: every project accepts it)."""
    client.get("/accounts/login/").raise_for_status()
    response = client.post(
        "/accounts/login/",
        data={"login": email, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
    )
    assert response.status_code == HTTPStatus.FOUND, response.text


def same_session(client: httpx.Client) -> httpx.Client:
    """A new client, on a new connection, carrying ``client``'s cookies."""
    return httpx.Client(base_url=client.base_url, cookies=client.cookies)
