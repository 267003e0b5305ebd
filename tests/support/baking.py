"""Bake projects from this template and run their tools, for real."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[2]
CHOICES: dict[str, list[str]] = {
    name: value
    for name, value in json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text()).items()
    if isinstance(value, list) and not name.startswith("_")
}
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")
# The generated suite's one PostgreSQL-only test (connection pool statistics) skips on
# the embedded default, naming the reason; nothing else may skip.
POSTGRES_ONLY_SKIP = "needs PostgreSQL"


def pairwise(choices: dict[str, list[str]]) -> list[dict[str, str]]:
    """Combinations of the choice prompts in which every pair of answers to two prompts occurs.

    The defaults first. As few as the search in ``covering()`` finds: from the lower bound
    (the two largest prompts' answers multiplied) up to two more; otherwise greedily,
    whichever combination covers most pairs not yet seen. The full product grows with
    every option; this grows with the two largest.
    """
    for extra in range(3):
        found = covering(choices, extra)
        if found is not None:
            return found
    names = list(choices)
    product = [dict(zip(names, values, strict=True)) for values in itertools.product(*choices.values())]

    def pairs(combination: dict[str, str]) -> set[tuple[tuple[str, str], tuple[str, str]]]:
        return set(itertools.combinations(combination.items(), 2))

    chosen = [product[0]]
    uncovered = set().union(*map(pairs, product)) - pairs(product[0])
    while uncovered:
        best = max(product, key=lambda combination: len(pairs(combination) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


def covering(choices: dict[str, list[str]], extra: int) -> list[dict[str, str]] | None:
    """Every pair covered in (the two largest prompts' answers multiplied) + ``extra`` combinations, or None.

    The two largest prompts' answers, all combined (the defaults first), fix the first
    rows; the extra rows take every possible pair of their answers in turn. Each other
    prompt is then given a column of answers, its default in the first row, that meets
    every earlier column in all its pairs: a depth-first search over the columns.
    """
    names = sorted(choices, key=lambda name: len(choices[name]), reverse=True)
    if len(names) < 2:
        return None
    first, second, *rest = names
    base = list(itertools.product(choices[first], choices[second]))
    for extra_rows in itertools.combinations_with_replacement(base, extra):
        rows = base + list(extra_rows)
        columns: dict[str, tuple[str, ...]] = {first: tuple(r[0] for r in rows), second: tuple(r[1] for r in rows)}
        if search(choices, rest, columns, len(rows)):
            return [{name: columns[name][row] for name in choices} for row in range(len(rows))]
    return None


def search(choices: dict[str, list[str]], rest: list[str], columns: dict[str, tuple[str, ...]], size: int) -> bool:
    """Fill ``columns`` for the prompts in ``rest``, each meeting every earlier column in all its pairs."""
    if not rest:
        return True
    name, answers = rest[0], choices[rest[0]]
    for tail in itertools.product(answers, repeat=size - 1):
        column = (answers[0], *tail)
        if all(
            len(set(zip(earlier, column, strict=True))) == len(choices[other]) * len(answers)
            for other, earlier in columns.items()
        ):
            columns[name] = column
            if search(choices, rest[1:], columns, size):
                return True
            del columns[name]
    return False


# Answers that change a few lines of settings and docs, not what the code does: each is
# baked once, given round-robin to the pairwise combinations, instead of being paired
# with every answer of every other prompt (which would triple the combinations).
ROUND_ROBIN = ("mail_service",)


def with_round_robin(combinations: list[dict[str, str]], choices: dict[str, list[str]]) -> list[dict[str, str]]:
    """Give each combination one answer of each ROUND_ROBIN prompt, in turn, so that every answer is baked."""
    for name in ROUND_ROBIN:
        answers = choices[name]
        if len(combinations) < len(answers):
            raise ValueError(f"{len(answers)} answers to {name} but only {len(combinations)} combinations")
        combinations = [{**combination, name: answers[n % len(answers)]} for n, combination in enumerate(combinations)]
    return combinations


COMBINATIONS = with_round_robin(
    pairwise({name: answers for name, answers in CHOICES.items() if name not in ROUND_ROBIN}), CHOICES
)


def combination_id(combination: dict[str, str]) -> str:
    return "-".join(f"{name.split('_')[0]}{value}" for name, value in combination.items())


def bake(output_dir: Path, **context: str) -> Path:
    """Bake the template without prompts; return the project directory."""
    return Path(cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=context, output_dir=str(output_dir)))


def project_env(**overrides: str) -> dict[str, str]:
    """The environment for commands in a baked project.

    Service URLs are never inherited: a run uses PostgreSQL and Redis only when the
    test passes them explicitly. Virtualenv variables are dropped so `uv run` uses the
    project's own .venv.
    """
    drop = {*SERVICE_VARIABLES, "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "DJANGO_SETTINGS_MODULE"}
    # An outer `make` (the template's) must not leak its flags into the project's.
    drop |= {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update(overrides)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command; fail the test with its output if it fails."""
    result = subprocess.run(
        cmd, cwd=cwd, env=env or project_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode} in {cwd}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def installed_project(output_dir: Path, **context: str) -> Path:
    project = bake(output_dir, **context)
    run(["uv", "sync", "--locked", "--quiet"], cwd=project)
    return project


def service_urls() -> dict[str, str]:
    """DATABASE_URL (with a database name of its own) and REDIS_URL for a run against real services.

    Outside CI, a machine without them skips the test and says why; in CI they are required.
    """
    missing = [name for name in SERVICE_VARIABLES if not os.environ.get(name)]
    if missing:
        message = f"{' and '.join(missing)} not set: start PostgreSQL and Redis and export them (see README)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run every test: {message}")
        pytest.skip(message)
    # A database name per run, so runs in parallel never share a test database.
    base, _, _ = os.environ["DATABASE_URL"].rpartition("/")
    return {"DATABASE_URL": f"{base}/t{uuid.uuid4().hex[:12]}", "REDIS_URL": os.environ["REDIS_URL"]}


@contextmanager
def own_database(project: Path, database_url: str) -> Iterator[None]:
    """Create the database DATABASE_URL names, with the baked project's own psycopg; drop it afterwards."""
    base, _, name = database_url.rpartition("/")
    script = "import sys, psycopg; psycopg.connect(sys.argv[1], autocommit=True).execute(sys.argv[2])"
    python = ["uv", "run", "--locked", "python", "-c", script, f"{base}/postgres"]
    run([*python, f'CREATE DATABASE "{name}"'], cwd=project)
    try:
        yield
    finally:
        run([*python, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], cwd=project)


def assert_suite_passed(output: str, *, allowed_skip: str | None = None) -> None:
    """pytest's summary says tests passed and none failed; none skipped, unless for ``allowed_skip``."""
    summaries = re.findall(r"^=+ (.+ in [\d.]+s.*) =+$", output, flags=re.MULTILINE)
    assert summaries, output
    summary = summaries[-1]
    assert re.search(r"\d+ passed", summary), output
    assert "failed" not in summary, output
    skips = re.findall(r"^SKIPPED \[\d+\] (.+)$", output, flags=re.MULTILINE)
    assert all(allowed_skip and allowed_skip in reason for reason in skips), output
    if allowed_skip is None:
        assert "skipped" not in summary, output
