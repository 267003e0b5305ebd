"""Accounts (django-allauth, set up in settings and users/): sign-up, verification, reset, limits, two-factor.

In this process, with Django's test client; mail goes to Django's test outbox (the
test environment replaces every mailer). tests/users/test_served_accounts.py does the
same over real HTTP, with the task worker and a real SMTP server.
"""

from __future__ import annotations

import re
import statistics
import time
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.conf import global_settings
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.environments import PRODUCTION_ENV, settings_under
from tests.support.mail import link_in, totp_code
from tests.support.servers import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-pass-phrase-1"
WRONG_CREDENTIALS = "you specified are not correct"


@pytest.fixture(autouse=True)
def _shared_cache(request: pytest.FixtureRequest) -> None:
    """Rate limits count in the embedded default's cache (a table every process shares), empty for each test.

    (Or in a private Redis, for the tests that ask for one.)
    """
    if "redis_server" not in request.fixturenames:
        request.getfixturevalue("database_cache")


@pytest.fixture
def account(settings: Settings) -> User:
    """A verified account, as sign-up and confirmation leave it."""
    user = User.objects.create_user("grace", "grace@example.com", PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def sign_up_form(email: str, password: str = PASSWORD) -> dict[str, str]:
    form = {"email": email, "password1": password, "password2": password}
{%- if cookiecutter.username_type == "username" %}
    form["username"] = email.partition("@")[0]
{%- endif %}
    return form


def log_in(client: Client, email: str, password: str = PASSWORD) -> int:
    return client.post("/accounts/login/", {"login": email, "password": password}).status_code


def signed_in(client: Client) -> bool:
    return client.get("/uploads/").status_code == HTTPStatus.OK


def only_mail() -> EmailMessage:
    [message] = mail.outbox
    return message


def test_verification_is_mandatory_in_production_only() -> None:
    assert settings_under(["ACCOUNT_EMAIL_VERIFICATION"])["ACCOUNT_EMAIL_VERIFICATION"] == "optional"
    production = settings_under(["ACCOUNT_EMAIL_VERIFICATION"], **PRODUCTION_ENV)
    assert production["ACCOUNT_EMAIL_VERIFICATION"] == "mandatory"


def test_sign_up_then_confirm_the_address_from_the_mail(client: Client, settings: Settings) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = client.post("/accounts/signup/", sign_up_form("ada@example.com"))
    assert (response.status_code, response["Location"]) == (HTTPStatus.FOUND, "/accounts/confirm-email/")
    assert not signed_in(client)

    message = only_mail()
    assert message.to == ["ada@example.com"]
    confirm = urlsplit(link_in(message.body, "/accounts/confirm-email/")).path
    assert "Confirm" in client.get(confirm).text  # a GET only asks: a mail scanner following links confirms nothing
    assert not EmailAddress.objects.get(email="ada@example.com").verified
    assert client.post(confirm).status_code == HTTPStatus.FOUND
    assert EmailAddress.objects.get(email="ada@example.com").verified
    assert signed_in(client)


def test_unconfirmed_accounts_cannot_sign_in_where_verification_is_mandatory(
    client: Client, settings: Settings
) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client.post("/accounts/signup/", sign_up_form("ada@example.com"))
    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", {"login": "ada@example.com", "password": PASSWORD})
    assert response["Location"] == "/accounts/confirm-email/"
    assert not signed_in(client)


def test_sign_up_with_a_taken_address_looks_like_any_other(client: Client, settings: Settings, account: User) -> None:
    """No enumeration: the same answer; the address's owner is told by mail instead.

    Only where verification is mandatory (production): where a new account is signed in
    at once, a taken address cannot get the same answer.
    """
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    fresh = client.post("/accounts/signup/", sign_up_form("new@example.com"))
    client.post("/accounts/logout/")
    mail.outbox.clear()
    form = sign_up_form("grace@example.com", "another-pass-phrase-2")
{%- if cookiecutter.username_type == "username" %}
    form["username"] = "not-grace"  # usernames are public: a taken one is refused openly
{%- endif %}
    taken = Client().post("/accounts/signup/", form)
    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
    warning = only_mail()
    assert warning.to == ["grace@example.com"]
    assert "already" in warning.body
    assert User.objects.filter(email__iexact="grace@example.com").count() == 1


def test_password_reset_through_the_mailed_link(client: Client, account: User) -> None:
    response = client.post("/accounts/password/reset/", {"email": "grace@example.com"})
    assert response["Location"] == "/accounts/password/reset/done/"
    key_url = urlsplit(link_in(only_mail().body, "/accounts/password/reset/key/")).path
    # allauth moves the key into the session and the address bar drops it.
    form_url = client.get(key_url)["Location"]
    new_password = "a-new-pass-phrase-2"
    response = client.post(form_url, {"password1": new_password, "password2": new_password})
    assert response.status_code == HTTPStatus.FOUND
    assert log_in(Client(), "grace@example.com", PASSWORD) == HTTPStatus.OK  # the old one is refused
    assert log_in(client, "grace@example.com", new_password) == HTTPStatus.FOUND


def test_password_reset_for_an_unknown_address_looks_like_any_other(client: Client, account: User) -> None:
    known = client.post("/accounts/password/reset/", {"email": "grace@example.com"})
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])


def test_failed_logins_past_the_limit_get_429_per_account(client: Client, settings: Settings, account: User) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip,3/m/key"}
    for _ in range(3):
        response = client.post("/accounts/login/", {"login": "grace@example.com", "password": "wrong"})
        assert response.status_code == HTTPStatus.OK
        assert WRONG_CREDENTIALS in response.text
    refused = client.post("/accounts/login/", {"login": "grace@example.com", "password": PASSWORD})
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS  # even the right password, until the window ends
    assert "Too many attempts" in refused.text
    # Another account, from the same address, is not locked out.
    User.objects.create_user("ada", "ada@example.com", PASSWORD)
    assert log_in(client, "ada@example.com") == HTTPStatus.FOUND


def test_the_account_limit_holds_whatever_the_host_header(client: Client, settings: Settings, account: User) -> None:
    """allauth keys its count by host and login; each Host that ALLOWED_HOSTS accepts must not start a new one."""
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip,3/m/key"}
    hosts = ["localhost", "localhost:8000", "LOCALHOST", "127.0.0.1"]
    statuses = [
        client.post("/accounts/login/", {"login": "grace@example.com", "password": "wrong"}, HTTP_HOST=host).status_code
        for host in hosts
    ]
    assert statuses == [HTTPStatus.OK] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]


def test_failed_logins_past_the_limit_get_429_per_client_address(client: Client, settings: Settings) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip,100/m/key"}
    statuses = [log_in(client, f"guess{n}@example.com", "wrong") for n in range(4)]
    assert statuses == [HTTPStatus.OK] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]


def test_the_login_limit_ends_with_its_window(client: Client, settings: Settings, account: User) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip,2/2s/key"}
    statuses = [log_in(client, "grace@example.com", "wrong") for _ in range(3)]
    assert statuses == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
    time.sleep(2.2)
    assert log_in(client, "grace@example.com") == HTTPStatus.FOUND


def test_with_redis_down_logins_are_refused_not_failed(
    client: Client, redis_server: RedisServer, account: User
) -> None:
    """allauth counts under a lock in the cache; with Redis away it cannot take the lock and
    refuses, after a second's wait, with the same 429 page: never an error page, never a hang.
    (A known limit of allauth's counters, documented: logins fail closed while Redis is down.)
    """
    assert log_in(client, "grace@example.com") == HTTPStatus.FOUND
    client.post("/accounts/logout/")
    with redis_server.down_with_data_kept():
        started = time.monotonic()
        refused = client.post("/accounts/login/", {"login": "grace@example.com", "password": PASSWORD})
        assert time.monotonic() - started < 10
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Too many attempts" in refused.text
    assert log_in(client, "grace@example.com") == HTTPStatus.FOUND  # Redis is back


def test_sign_ups_past_the_limit_get_429(client: Client, settings: Settings) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/m/ip"}
    statuses = [Client().post("/accounts/signup/", sign_up_form(f"new{n}@example.com")).status_code for n in range(3)]
    assert statuses == [HTTPStatus.FOUND, HTTPStatus.FOUND, HTTPStatus.TOO_MANY_REQUESTS]


def test_unknown_and_known_accounts_fail_alike(client: Client, settings: Settings, account: User) -> None:
    """Same status, same message, and the same time: the password is hashed for an unknown account too."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the real cost, as in production
    account.set_password(PASSWORD)
    account.save()
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": ""}
    answers: dict[str, list[tuple[int, str]]] = {"known": [], "unknown": []}
    seconds: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(3):
        for kind, email in (("known", "grace@example.com"), ("unknown", "nobody@example.com")):
            started = time.perf_counter()
            response = client.post("/accounts/login/", {"login": email, "password": "wrong"})
            seconds[kind].append(time.perf_counter() - started)
            errors = re.findall(r'<div class="alert alert-error" role="alert">(.*?)</div>', response.text)
            answers[kind].append((response.status_code, errors[0] if errors else ""))
    assert set(answers["known"]) == set(answers["unknown"]) == {(HTTPStatus.OK, answers["known"][0][1])}
    assert WRONG_CREDENTIALS in answers["known"][0][1]
    ratio = statistics.median(seconds["unknown"]) / statistics.median(seconds["known"])
    assert 0.5 < ratio < 2, seconds  # a skipped hash would make the unknown account ~100 times faster


{% if cookiecutter.username_type == "username" -%}
def test_usernames_cannot_look_like_addresses(client: Client) -> None:
    """An "@" would make a username read as an address at login (users/adapters.py)."""
    form = sign_up_form("ada@example.com")
    form["username"] = "ada@home"
    response = client.post("/accounts/signup/", form)
    assert response.status_code == HTTPStatus.OK
    assert "cannot contain" in response.text
    assert not User.objects.filter(email="ada@example.com").exists()


{% endif -%}
def test_logging_out_takes_a_post(client: Client, account: User) -> None:
    assert log_in(client, "grace@example.com") == HTTPStatus.FOUND
    assert client.get("/accounts/logout/").status_code == HTTPStatus.OK  # a confirmation page
    assert signed_in(client)
    assert client.post("/accounts/logout/")["Location"] == "/"
    assert not signed_in(client)


def test_the_admin_signs_in_through_the_sites_login(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert (response.status_code, response["Location"]) == (HTTPStatus.FOUND, "/accounts/login/?next=%2Fadmin%2F")


def test_createsuperuser_gives_a_confirmed_address(client: Client, settings: Settings) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    User.objects.create_superuser("root", "Root@Example.COM", PASSWORD)  # as typed at the prompt
    assert EmailAddress.objects.get(email="root@example.com").verified
    response = client.post("/accounts/login/", {"login": "ROOT@example.com", "password": PASSWORD, "next": "/admin/"})
    assert response["Location"] == "/admin/"


def test_staff_add_accounts_with_their_address(admin_client: Client) -> None:
    """An invite-only site: the admin's form asks for the address people will sign in with."""
    form = {"username": "newcomer", "email": "Newcomer@Example.com", "usable_password": "false"}
    response = admin_client.post("/admin/users/user/add/", form)
    assert response.status_code == HTTPStatus.FOUND, response.text
    assert User.objects.get(username="newcomer").email == "newcomer@example.com"


def test_sign_up_can_be_closed(client: Client, settings: Settings) -> None:
    settings.SIGNUP_OPEN = False
    assert "Sign Up Closed" in client.get("/accounts/signup/").text
    client.post("/accounts/signup/", sign_up_form("ada@example.com"))
    assert not User.objects.filter(email="ada@example.com").exists()
    home = client.get("/").text
    assert "/accounts/signup/" not in home
    settings.SIGNUP_OPEN = True
    assert "/accounts/signup/" in client.get("/").text


def test_two_factor_with_an_authenticator_app_and_a_recovery_code(
    client: Client, settings: Settings, account: User
) -> None:
    # The code of the next 30-second step is accepted too, so the test need not wait for one.
    settings.MFA_TOTP_TOLERANCE = 1
    assert log_in(client, "grace@example.com") == HTTPStatus.FOUND
    activate_url = "/accounts/2fa/totp/activate/"
    # Changing how one signs in asks for the password again first.
    assert client.get(activate_url)["Location"].startswith("/accounts/reauthenticate/")
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == HTTPStatus.FOUND
    activate = client.get(activate_url).text
    found = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', activate)
    assert found, activate
    secret = found[1]
    assert client.post(activate_url, {"code": totp_code(secret)}).status_code == HTTPStatus.FOUND
    codes_page = client.get("/accounts/2fa/recovery-codes/").text
    recovery_codes = re.findall(r"\b\d{8}\b", codes_page.partition("<textarea")[2].partition("</textarea>")[0])
    assert len(recovery_codes) == 10, codes_page
    client.post("/accounts/logout/")

    # The password alone no longer signs in: the code is asked next.
    response = client.post("/accounts/login/", {"login": "grace@example.com", "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert not signed_in(client)
    assert client.post("/accounts/2fa/authenticate/", {"code": "000000"}).status_code == HTTPStatus.OK
    assert not signed_in(client)
    next_step = totp_code(secret, at=time.time() + 30)
    assert client.post("/accounts/2fa/authenticate/", {"code": next_step}).status_code == HTTPStatus.FOUND
    assert signed_in(client)

    # A recovery code works once.
    for expected in (True, False):
        client.post("/accounts/logout/")
        client.post("/accounts/login/", {"login": "grace@example.com", "password": PASSWORD})
        client.post("/accounts/2fa/authenticate/", {"code": recovery_codes[0]})
        assert signed_in(client) is expected
