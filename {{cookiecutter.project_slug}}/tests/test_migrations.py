from tests.support.processes import project_env, run_manage


def test_models_and_migrations_agree() -> None:
    # Migrations do not depend on the database; SQLite avoids waiting on an unreachable one.
    result = run_manage("makemigrations", "--check", "--dry-run", env=project_env(DATABASE_URL=""))
    assert result.returncode == 0, result.stdout + result.stderr
