"""Accounts over real HTTP: the served project, its task worker, and a real SMTP server (aiosmtpd).

Sign-up and password reset as a person does them (the form, the mail, its link), the
login limit counted exactly across two gunicorn workers, and mail that waits for a dead
mail server instead of slowing the page.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import global_settings
from django.db import connection
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.http import log_in, post_form
from tests.support.mail import MailServer, link_in
from tests.support.processes import LiveServer, Worker, free_port

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-pass-phrase-1"


@pytest.fixture(autouse=True)
def _real_hashers_and_an_empty_shared_cache(settings: Settings, database_cache: None) -> None:
    """Passwords hashed as the server checks them (not the suite's MD5), and no rate-limit counters left.

    The servers' cache is the database table without a key prefix; flushing the database
    between tests leaves it alone (it is no model's table).
    """
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_cache")


def mail_env(delivery: dict[str, str], **extra: str) -> dict[str, str]:
    """Production's mail rules (mandatory verification) on the embedded default's shared cache."""
    return {**delivery, "ACCOUNT_EMAIL_VERIFICATION": "mandatory", "REDIS_URL": "", **extra}


def sign_up(client: httpx.Client, email: str) -> httpx.Response:
    form = {"email": email, "password1": PASSWORD, "password2": PASSWORD}
{%- if cookiecutter.username_type == "username" %}
    form["username"] = email.partition("@")[0]
{%- endif %}
    return post_form(client, "/accounts/signup/", form)


def signed_in(client: httpx.Client) -> bool:
    return client.get("/uploads/").status_code == HTTPStatus.OK


def test_sign_up_confirm_and_reset_the_password_through_real_mail(
    live_server_factory: Callable[..., LiveServer],
    worker_factory: Callable[..., Worker],
    mail_server: MailServer,
) -> None:
    env = mail_env(mail_server.env)
    server = live_server_factory(**env)
    worker_factory(**env)
    with httpx.Client(base_url=server.url) as client:
        response = sign_up(client, "ada@example.com")
        assert (response.status_code, response.headers["location"]) == (HTTPStatus.FOUND, "/accounts/confirm-email/")
        assert not signed_in(client)

        message = mail_server.wait_for_text("ada@example.com", "Confirm")
        confirm = urlsplit(link_in(message, "/accounts/confirm-email/"))
        assert f"{confirm.scheme}://{confirm.netloc}" == server.url  # the link leads back to this site
        assert post_form(client, confirm.path, {}).status_code == HTTPStatus.FOUND
        assert signed_in(client)

    with httpx.Client(base_url=server.url) as client:
        response = post_form(client, "/accounts/password/reset/", {"email": "ada@example.com"})
        assert response.headers["location"] == "/accounts/password/reset/done/"
        message = mail_server.wait_for_text("ada@example.com", "Password Reset")
        key_path = urlsplit(link_in(message, "/accounts/password/reset/key/")).path
        form_path = client.get(key_path).headers["location"]
        new_password = "a-new-pass-phrase-2"
        response = post_form(client, form_path, {"password1": new_password, "password2": new_password})
        assert response.status_code == HTTPStatus.FOUND
    with httpx.Client(base_url=server.url) as client:
        log_in(client, "ada@example.com", new_password)
        assert signed_in(client)


@pytest.fixture
def silent_mail_port() -> Iterator[socket.socket]:
    """A port that accepts TCP connections and never says a word: a hung mail server."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    yield listener
    listener.close()


def test_a_hung_mail_server_slows_no_page_and_its_mail_goes_out_when_it_is_back(
    live_server_factory: Callable[..., LiveServer],
    worker_factory: Callable[..., Worker],
    silent_mail_port: socket.socket,
) -> None:
    port = silent_mail_port.getsockname()[1]
    delivery = MailServer(port)  # not started yet: bound only when the silent port is closed
    # Were the page to talk to the mail server itself, it would wait MAIL_TIMEOUT (60 s).
    server = live_server_factory(**mail_env(delivery.env, MAIL_TIMEOUT="60"))
    worker_factory(**mail_env(delivery.env, MAIL_TIMEOUT="1", MAIL_RETRY_DELAY="0.5"))
    with httpx.Client(base_url=server.url, timeout=90) as client:
        started = time.monotonic()
        response = sign_up(client, "ada@example.com")
        answered_in = time.monotonic() - started
    assert response.headers["location"] == "/accounts/confirm-email/"
    assert answered_in < 30, answered_in

    time.sleep(2)  # the worker's first attempts time out
    silent_mail_port.close()
    delivery.start()
    try:
        delivery.wait_for_text("ada@example.com", "Confirm", timeout=60)
    finally:
        delivery.stop()


def test_failed_logins_are_limited_exactly_across_two_workers(
    live_server_factory: Callable[..., LiveServer], mail_server: MailServer
) -> None:
    """5 failures per account within the window: the 6th attempt is refused, whichever worker counts it."""
    for name in ("ada", "grace", "linus"):
        User.objects.create_user(name, f"{name}@example.com", PASSWORD)
    server = live_server_factory(workers=2, **mail_env(mail_server.env, LOGIN_FAILED_RATE_LIMIT="100/m/ip,5/8s/key"))

    def attempt(email: str, password: str = "wrong") -> int:
        with httpx.Client(base_url=server.url) as client:
            return post_form(client, "/accounts/login/", {"login": email, "password": password}).status_code

    # Six at once, on six connections spread over both workers: exactly one is refused.
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(attempt, ["ada@example.com"] * 6))
    assert statuses == [HTTPStatus.OK] * 5 + [HTTPStatus.TOO_MANY_REQUESTS]

    # One after another: the sixth is the first refused, the right password included.
    assert [attempt("grace@example.com") for _ in range(5)] == [HTTPStatus.OK] * 5
    assert attempt("grace@example.com", PASSWORD) == HTTPStatus.TOO_MANY_REQUESTS
    # Meanwhile another account signs in from the same address.
    assert attempt("linus@example.com", PASSWORD) == HTTPStatus.FOUND
    # The window ends: the right password works again.
    time.sleep(8.5)
    assert attempt("grace@example.com", PASSWORD) == HTTPStatus.FOUND
