"""Every supported combination of answers, baked and installed: lint, types and the generated suite.

In a file of its own: `make test` runs with `--dist loadfile`, so these, the slowest
tests, get one worker while the other runs the rest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .support.baking import (
    COMBINATIONS,
    POSTGRES_ONLY_SKIP,
    assert_suite_passed,
    combination_id,
    installed_project,
    run,
)


@pytest.mark.slow
@pytest.mark.parametrize("combination", COMBINATIONS, ids=combination_id)
def test_generated_project_is_clean_and_passes_its_suite(combination: dict[str, str], tmp_path: Path) -> None:
    """ruff, mypy and the generated test suite on the embedded default (SQLite, local memory)."""
    project = installed_project(tmp_path, **combination)
    version = run(["uv", "run", "--locked", "python", "-c", "import sys; print(sys.version)"], cwd=project)
    assert version.startswith(combination["python_version"] + ".")
    run(["make", "lint"], cwd=project)
    output = run(["make", "test"], cwd=project)
    assert_suite_passed(output, allowed_skip=POSTGRES_ONLY_SKIP)
