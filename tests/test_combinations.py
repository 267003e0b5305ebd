"""Every supported combination of answers, baked and installed: lint, types and the generated suite.

Each combination also gets a project name of its own, so the suites run with names that
need escaping in every file kind and with slugs that sort before, between and after the
project's other top-level packages (config, tests).

In files of their own: `make test` runs with `--dist loadfile`, so these, the slowest
tests, get a worker per file while the other tests share them.
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
    project_env,
    run,
)

# Project names, and the slugs derived from them: between config and tests, before config
# (two of them), after tests.
# (Braces are tested in test_hooks.py: given without prompts, cookiecutter renders answers as Jinja.)
PROJECT_NAMES = ["My Async Project", "Bob's Blog", 'Café & Crème "Deluxe"', "Zoë's <Shop> 100% $HOME `x` \\"]
NAMED = [(combination, PROJECT_NAMES[n % len(PROJECT_NAMES)]) for n, combination in enumerate(COMBINATIONS)]


IDS = [f"{combination_id(c)}-name{n % 4}" for n, (c, _) in enumerate(NAMED)]
# Two halves in two files (the other: test_combinations_second_half.py), so that `make
# test`'s two workers (--dist loadfile) bake and test them at the same time.
HALF = (len(NAMED) + 1) // 2


def check_combination(combination: dict[str, str], project_name: str, tmp_path: Path) -> None:
    """ruff, mypy, the import contracts and the generated test suite on the embedded default (SQLite)."""
    project = installed_project(tmp_path, **combination, project_name=project_name)
    version = run(["uv", "run", "--locked", "python", "-c", "import sys; print(sys.version)"], cwd=project)
    assert version.startswith(combination["python_version"] + ".")
    run(["make", "lint"], cwd=project)
    # The browser tests drive the same pages in every combination: they run in the first
    # (the defaults) and in the PostgreSQL and Redis run (test_bake.py), not in each.
    browser = {} if combination == COMBINATIONS[0] else {"PYTEST_ADDOPTS": "-m 'not browser'"}
    output = run(["make", "test"], cwd=project, env=project_env(**browser))
    assert_suite_passed(output, allowed_skip=POSTGRES_ONLY_SKIP)


@pytest.mark.slow
@pytest.mark.parametrize(("combination", "project_name"), NAMED[:HALF], ids=IDS[:HALF])
def test_generated_project_is_clean_and_passes_its_suite(
    combination: dict[str, str], project_name: str, tmp_path: Path
) -> None:
    check_combination(combination, project_name, tmp_path)
