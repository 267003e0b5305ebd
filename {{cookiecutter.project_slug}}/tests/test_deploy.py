import io

import pytest
from django.core.management import call_command

from .conftest import project_env, run_manage
from .test_settings import PRODUCTION_ENV


def test_deploy_check_is_clean_in_production() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=project_env(**PRODUCTION_ENV))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_migrate_with_lock_migrates() -> None:
    """The entrypoint's migration step: under an advisory lock on PostgreSQL, plain migrate elsewhere."""
    output = io.StringIO()
    call_command("migrate_with_lock", stdout=output)
    assert "No migrations to apply." in output.getvalue()


def test_models_and_migrations_agree() -> None:
    # Migrations do not depend on the database; SQLite avoids waiting on an unreachable one.
    result = run_manage("makemigrations", "--check", "--dry-run", env=project_env(DATABASE_URL=""))
    assert result.returncode == 0, result.stdout + result.stderr
