import json
import secrets

import pytest

from config.env import Env, database_from_url

from .conftest import DEAD_DATABASE_URL, DEAD_REDIS_URL, project_env, run_manage

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "{{ cookiecutter.domain_name }}",
    "DATABASE_URL": DEAD_DATABASE_URL,
    "REDIS_URL": DEAD_REDIS_URL,
}
PRINT_SETTINGS = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({'DATABASES': s.DATABASES, 'CACHES': s.CACHES}, default=str))"
)


def load_settings(**env: str) -> dict[str, dict[str, dict[str, object]]]:
    result = run_manage("shell", "--no-imports", "-c", PRINT_SETTINGS, env=project_env(**env))
    assert result.returncode == 0, result.stderr
    loaded: dict[str, dict[str, dict[str, object]]] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without(missing: str) -> None:
    result = run_manage("check", env=project_env(**{**PRODUCTION_ENV, missing: ""}))
    assert result.returncode != 0
    assert f"Missing required environment variable(s) for DJANGO_ENV=production: {missing}." in result.stderr


def test_production_names_every_missing_variable() -> None:
    unset = dict.fromkeys(["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"], "")
    result = run_manage("check", env=project_env(DJANGO_ENV="production", **unset))
    assert "SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL" in result.stderr


def test_embedded_default_is_sqlite_and_local_memory() -> None:
    loaded = load_settings(DATABASE_URL="", REDIS_URL="")
    assert loaded["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_database_url_gives_a_pooled_postgres_connection() -> None:
    loaded = load_settings(
        DATABASE_URL="postgres://app:s%40cret@db.internal:6543/app?sslmode=require",
        DATABASE_POOL_MAX_SIZE="7",
        DATABASE_STATEMENT_TIMEOUT_MS="1500",
    )
    database = loaded["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("app", "app", "s@cret")
    assert (database["HOST"], database["PORT"]) == ("db.internal", "6543")
    assert database["CONN_MAX_AGE"] == 0
    assert database["ATOMIC_REQUESTS"] is False
    assert database["OPTIONS"] == {
        "sslmode": "require",
        "connect_timeout": 5,
        "options": "-c statement_timeout=1500",
        "pool": {"min_size": 2, "max_size": 7, "timeout": 10.0},
    }


def test_redis_url_gives_a_fail_soft_django_redis_cache() -> None:
    loaded = load_settings(REDIS_URL="redis://cache.internal:6379/2")
    cache = loaded["CACHES"]["default"]
    assert cache["BACKEND"] == "django_redis.cache.RedisCache"
    assert cache["LOCATION"] == "redis://cache.internal:6379/2"
    assert cache["OPTIONS"] == {
        "IGNORE_EXCEPTIONS": True,
        "SOCKET_CONNECT_TIMEOUT": 0.5,
        "SOCKET_TIMEOUT": 0.5,
        "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
        "CONNECTION_POOL_KWARGS": {"max_connections": 100, "timeout": 0.5},
    }


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "postgres://u:p@h:5432/", "sqlite:///relative.db"])
def test_unusable_database_url_is_refused(url: str) -> None:
    with pytest.raises(Exception, match="DATABASE_URL"):
        database_from_url(url)


def test_sqlite_database_url() -> None:
    assert database_from_url("sqlite:////srv/app/db.sqlite3")["NAME"] == "/srv/app/db.sqlite3"


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("off", False), ("FALSE", False)])
def test_env_bool(raw: str, expected: bool) -> None:
    assert Env({"FLAG": raw}).bool("FLAG", default=not expected) is expected


def test_env_bool_refuses_nonsense() -> None:
    with pytest.raises(Exception, match="FLAG='maybe' is not a boolean"):
        Env({"FLAG": "maybe"}).bool("FLAG", default=False)


def test_env_list_ignores_blanks() -> None:
    assert Env({"HOSTS": " a.example , ,b.example "}).list("HOSTS") == ["a.example", "b.example"]
