"""config/env.py: typed environment variables, DATABASE_URL, and the .env file."""

import os
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import Env, database_from_url, load_dotenv, read_dotenv

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
