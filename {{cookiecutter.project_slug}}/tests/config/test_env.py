"""config/env.py: typed environment variables, and DATABASE_URL."""

import pytest

from config.env import Env, database_from_url


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
