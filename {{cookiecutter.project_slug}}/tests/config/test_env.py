"""config/env.py: typed environment variables, DATABASE_URL{% if cookiecutter.mail_service == "smtp" %}, EMAIL_URL{% endif %} and the .env file."""

import os
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import Env, database_from_url{% if cookiecutter.mail_service == "smtp" %}, email_from_url{% endif %}, load_dotenv, read_dotenv

from tests.support.environments import settings_under


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "postgres://u:p@h:5432/", "sqlite:///relative.db"])
def test_unusable_database_url_is_refused(url: str) -> None:
    with pytest.raises(Exception, match="DATABASE_URL"):
        database_from_url(url)


def test_sqlite_database_url() -> None:
    assert database_from_url("sqlite:////srv/app/db.sqlite3")["NAME"] == "/srv/app/db.sqlite3"


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("off", False), ("FALSE", False)])
def test_env_bool(raw: str, expected: bool) -> None:
    assert Env({"FLAG": raw}).boolean("FLAG", default=not expected) is expected


def test_env_bool_refuses_nonsense() -> None:
    with pytest.raises(Exception, match="FLAG='maybe' is not a boolean"):
        Env({"FLAG": "maybe"}).boolean("FLAG", default=False)


def test_env_list_ignores_blanks() -> None:
    assert Env({"HOSTS": " a.example , ,b.example "}).string_list("HOSTS") == ["a.example", "b.example"]


def test_dotenv_lines_are_read_as_compose_reads_them(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# a comment\n\nPLAIN=value\nexport EXPORTED=yes\nQUOTED=\"two words\"\nSINGLE='it''s'\n"
        "EMPTY=\nSPACED = around \nURL=postgres://u:p@h:5432/db?sslmode=require#not-a-comment\n"
    )
    assert read_dotenv(dotenv) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "QUOTED": "two words",
        "SINGLE": "it''s",
        "EMPTY": "",
        "SPACED": "around",
        "URL": "postgres://u:p@h:5432/db?sslmode=require#not-a-comment",
    }


def test_a_missing_dotenv_reads_as_empty(tmp_path: Path) -> None:
    assert read_dotenv(tmp_path / "absent") == {}


def test_a_malformed_dotenv_line_is_refused_with_its_number(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("GOOD=1\nthis is not a setting\n")
    with pytest.raises(ImproperlyConfigured, match=r"\.env, line 2: expected NAME=value"):
        read_dotenv(dotenv)


def test_the_real_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("FROM_FILE=file\nBOTH=file\n")
    environ = {"DOTENV_FILE": str(dotenv), "BOTH": "real"}
    load_dotenv(environ)
    assert (environ["FROM_FILE"], environ["BOTH"]) == ("file", "real")


def test_manage_py_reads_dotenv_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("UPLOAD_MAX_FILES=3\nUPLOAD_RATE_LIMIT=7\n")
    names = ["UPLOAD_MAX_FILES", "UPLOAD_RATE_LIMIT"]
    loaded = settings_under(names, DOTENV_FILE=str(dotenv), UPLOAD_RATE_LIMIT="9")
    assert loaded == {"UPLOAD_MAX_FILES": 3, "UPLOAD_RATE_LIMIT": 9}


def test_the_suite_reads_no_dotenv() -> None:
    """A developer's .env never changes a test's outcome: tests/conftest.py points DOTENV_FILE nowhere."""
    assert os.environ["DOTENV_FILE"] == os.devnull
{%- if cookiecutter.mail_service == "smtp" %}


def test_email_url_gives_an_smtp_mailer() -> None:
    mailer = email_from_url("smtp+tls://mailer%40example.com:s%3Acret@smtp.example.com", production=True, timeout=7)
    assert mailer == {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "smtp.example.com",
            "port": 587,
            "username": "mailer@example.com",
            "password": "s:cret",
            "use_tls": True,
            "use_ssl": False,
            "timeout": 7,
        },
    }
    implicit = email_from_url("smtps://u:p@smtp.example.com", production=True, timeout=7)["OPTIONS"]
    assert (implicit["port"], implicit["use_tls"], implicit["use_ssl"]) == (465, False, True)


def test_production_refuses_plain_smtp_to_another_machine() -> None:
    with pytest.raises(ImproperlyConfigured, match="without TLS: use smtp\\+tls://"):
        email_from_url("smtp://smtp.example.com:25", production=True, timeout=7)
    assert email_from_url("smtp://127.0.0.1:25", production=True, timeout=7)["OPTIONS"]["use_tls"] is False
    assert email_from_url("smtp://smtp.example.com:25", production=False, timeout=7)["OPTIONS"]["port"] == 25


@pytest.mark.parametrize("url", ["mailto:a@b.c", "smtp+tls://", "http://smtp.example.com"])
def test_unusable_email_url_is_refused(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL must"):
        email_from_url(url, production=False, timeout=7)


def test_console_email_url_prints_mail() -> None:
    assert email_from_url("console://", production=True, timeout=7) == {
        "BACKEND": "{{ cookiecutter.project_slug }}.ops.mail.ConsoleBackend"
    }
{%- endif %}
