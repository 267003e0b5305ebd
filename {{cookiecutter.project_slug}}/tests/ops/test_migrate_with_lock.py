import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_migrate_with_lock_migrates() -> None:
    """The entrypoint's migration step runs migrate to the end (the lock is proven by the template's stack test)."""
    output = io.StringIO()
    call_command("migrate_with_lock", stdout=output)
    assert "No migrations to apply." in output.getvalue()
