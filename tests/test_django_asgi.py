"""Django's own ASGI handler tests, run against the generated project's lean handler.

scripts/django_asgi_tests.py bakes the default project, fetches the Django sdist of the
version it pins and runs its tests/asgi and tests/handlers with Django's ASGIHandler
replaced by the project's PooledExecutorASGIHandler.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .support.baking import TEMPLATE_DIR, project_env

pytestmark = pytest.mark.slow


def test_djangos_asgi_tests_pass_against_the_projects_handler() -> None:
    result = subprocess.run(
        [sys.executable, str(TEMPLATE_DIR / "scripts" / "django_asgi_tests.py")],
        capture_output=True,
        text=True,
        check=False,
        env=project_env(),
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"^Ran [1-9]\d* tests", output, flags=re.MULTILINE), output
    assert re.search(r"^OK\b", output, flags=re.MULTILINE), output
    served = re.search(r"requests served by PooledExecutorASGIHandler: (\d+)", output)
    assert served is not None, output
    assert int(served.group(1)) > 0, output
