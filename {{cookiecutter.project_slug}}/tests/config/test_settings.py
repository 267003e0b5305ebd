"""config/settings.py: what each environment gets, and what production refuses."""

from http import HTTPStatus

import pytest
from django.test import AsyncClient

from tests.support.environments import MAIL_VARIABLES, PRODUCTION_ENV, STORAGE_VARIABLES, settings_under
from tests.support.processes import project_env, run_manage

SERVICES = ["DATABASES", "CACHES"]


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", *STORAGE_VARIABLES, *MAIL_VARIABLES]
)
def test_production_refuses_to_start_without(missing: str) -> None:
    result = run_manage("check", env=project_env(**{**PRODUCTION_ENV, missing: ""}))
    assert result.returncode != 0
    assert f"Missing required environment variable(s) for DJANGO_ENV=production: {missing}." in result.stderr


def test_production_names_every_missing_variable() -> None:
    required = ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", *STORAGE_VARIABLES, *MAIL_VARIABLES]
    result = run_manage("check", env=project_env(DJANGO_ENV="production", **dict.fromkeys(required, "")))
    assert ", ".join(required) in result.stderr


def test_embedded_default_is_sqlite_with_a_cache_every_process_shares() -> None:
    loaded = settings_under(SERVICES, DATABASE_URL="", REDIS_URL="")
    assert loaded["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
    }


def test_database_url_gives_a_pooled_postgres_connection() -> None:
    loaded = settings_under(
        SERVICES,
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
    loaded = settings_under(SERVICES, REDIS_URL="redis://cache.internal:6379/2")
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


def test_deploy_check_is_clean_in_production() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=project_env(**PRODUCTION_ENV))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


async def test_pages_carry_a_content_security_policy(async_client: AsyncClient) -> None:
    response = await async_client.get("/")
    assert response.status_code == HTTPStatus.OK
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy


def test_only_production_trusts_the_proxy_scheme_header() -> None:
    """nginx overwrites X-Forwarded-Proto in production; without it a client could claim HTTPS."""
    names = ["SECURE_PROXY_SSL_HEADER"]
    assert settings_under(names, **PRODUCTION_ENV)["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert settings_under(names, DJANGO_ENV="development")["SECURE_PROXY_SSL_HEADER"] is None


def test_templates_are_cached_in_production_and_read_fresh_in_development() -> None:
    cached = "django.template.loaders.cached.Loader"
    production = settings_under(["TEMPLATES"], **PRODUCTION_ENV)["TEMPLATES"][0]["OPTIONS"]["loaders"]
    development = settings_under(["TEMPLATES"], DJANGO_ENV="development")["TEMPLATES"][0]["OPTIONS"]["loaders"]
    assert production[0][0] == cached
    assert cached not in str(development)
