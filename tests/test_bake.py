"""Bake every supported combination; each must be clean, typed and pass its own suite."""

from __future__ import annotations

import itertools
import re
import stat
import subprocess
from pathlib import Path

import pytest

from .support.baking import (
    CHOICES,
    COMBINATIONS,
    ROUND_ROBIN,
    TEMPLATE_DIR,
    assert_suite_passed,
    bake,
    combination_id,
    installed_project,
    project_env,
    run,
    service_urls,
)

# Unrendered Jinja. Django templates (*.html) use the same delimiters by design, so
# only a mention of the cookiecutter context counts there.
JINJA_LEFTOVER = re.compile(r"\{\{|\{%|\{#|cookiecutter\.")
DJANGO_TEMPLATE_LEFTOVER = re.compile(r"cookiecutter\.")
# GitHub Actions expressions are ${{ ... }} by design.
ALLOWED_LEFTOVER = re.compile(r"\$\{\{.*?\}\}")


def text_files(project: Path) -> list[Path]:
    skip = {".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    return [path for path in project.rglob("*") if path.is_file() and not skip.intersection(path.parts)]


def test_bake_defaults_without_input(tmp_path: Path) -> None:
    result = subprocess.run(
        ["cookiecutter", "--no-input", "--output-dir", str(tmp_path), str(TEMPLATE_DIR)],
        capture_output=True,
        text=True,
        check=False,
        env=project_env(),
    )
    assert result.returncode == 0, result.stderr
    project = tmp_path / "my_async_project"
    assert (project / "manage.py").is_file()
    assert (project / "my_async_project" / "ops" / "health.py").is_file()
    assert "Next steps:" in result.stdout


@pytest.mark.parametrize("combination", COMBINATIONS, ids=combination_id)
def test_bake_leaves_no_template_syntax(combination: dict[str, str], tmp_path: Path) -> None:
    project = bake(tmp_path, **combination)
    leftovers = []
    for path in text_files(project):
        pattern = DJANGO_TEMPLATE_LEFTOVER if path.suffix == ".html" else JINJA_LEFTOVER
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(ALLOWED_LEFTOVER.sub("", line)):
                leftovers.append(f"{path.relative_to(project)}:{number}: {line.strip()}")
    assert leftovers == []
    assert (project / ".python-version").read_text().strip() == combination["python_version"]
    assert f"image: postgres:{combination['postgresql_version']}" in (project / ".github/workflows/ci.yml").read_text()


@pytest.mark.parametrize("combination", COMBINATIONS, ids=combination_id)
def test_generated_workflow_is_a_valid_github_workflow(combination: dict[str, str], tmp_path: Path) -> None:
    """GitHub Actions cannot run here: the baked workflow is checked against GitHub's workflow schema instead."""
    workflow = bake(tmp_path, **combination) / ".github/workflows/ci.yml"
    result = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# What only the example features (include_examples=yes) use: their package, routes, settings and templates.
# ("preview" alone is not one: the uploads app previews images.)
EXAMPLE_TRACES = re.compile(r"examples|link[ _-]?previews?|PreviewError|dashboard", re.IGNORECASE)
# Files and phrases that say "example" in the ordinary sense.
ORDINARY_EXAMPLES = re.compile(
    r"\.env\.example|env_example|example\.com|for example|a\.example|b\.example|max_examples"
)


def test_without_examples_no_trace_of_them_is_left(tmp_path: Path) -> None:
    """include_examples=no: no package, route, setting, template, test or doc of the examples."""
    project = bake(tmp_path, include_examples="no")
    traces = [
        f"{path.relative_to(project)}:{number}: {line.strip()}"
        for path in text_files(project)
        if path.name != "uv.lock"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if EXAMPLE_TRACES.search(ORDINARY_EXAMPLES.sub("", line))
    ]
    assert traces == []
    assert [path for path in project.rglob("*") if EXAMPLE_TRACES.search(path.name)] == []


def test_without_sentry_and_metrics_no_trace_of_them_is_left(tmp_path: Path) -> None:
    """sentry=no, metrics=no: no dependency (uv.lock included), module, setting, test or doc mentions them."""
    project = bake(tmp_path, sentry="no", metrics="no")
    words = re.compile(r"sentry|prometheus|/metrics|METRICS_", re.IGNORECASE)
    traces = [
        f"{path.relative_to(project)}:{number}: {line.strip()}"
        for path in text_files(project)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if words.search(line)
    ]
    assert traces == []
    assert [path for path in project.rglob("*") if words.search(path.name) or "error_tracking" in path.name] == []


def test_with_sentry_and_metrics_they_are_wired_in(tmp_path: Path) -> None:
    project = bake(tmp_path, sentry="yes", metrics="yes")
    slug = project.name
    assert (project / slug / "ops" / "error_tracking.py").is_file()
    assert (project / slug / "ops" / "metrics.py").is_file()
    settings = (project / "config" / "settings.py").read_text()
    assert f'"{slug}.ops.metrics.MetricsMiddleware"' in settings
    assert "error_tracking.start(" in settings
    lock = (project / "uv.lock").read_text()
    assert 'name = "sentry-sdk"' in lock
    assert 'name = "prometheus-client"' in lock


def test_with_examples_they_are_wired_in(tmp_path: Path) -> None:
    project = bake(tmp_path, include_examples="yes")
    slug = project.name
    assert (project / slug / "examples" / "views.py").is_file()
    assert f'"{slug}.examples"' in (project / "config" / "settings.py").read_text()
    assert f'include("{slug}.examples.urls")' in (project / "config" / "urls.py").read_text()
    assert "LINK_PREVIEW_ALLOWED_HOSTS=" in (project / ".env.example").read_text()


def test_the_baked_combinations_cover_every_pair_of_answers_near_the_lower_bound() -> None:
    paired = {name: answers for name, answers in CHOICES.items() if name not in ROUND_ROBIN}
    every_pair = {
        ((first, a), (second, b))
        for first, second in itertools.combinations(paired, 2)
        for a in paired[first]
        for b in paired[second]
    }
    covered = {
        pair
        for combination in COMBINATIONS
        for pair in itertools.combinations([(name, combination[name]) for name in paired], 2)
    }
    assert covered == every_pair
    assert COMBINATIONS[0] == {name: answers[0] for name, answers in CHOICES.items()}
    sizes = sorted(map(len, paired.values()), reverse=True)
    assert len(COMBINATIONS) <= sizes[0] * sizes[1] + 2
    for name in ROUND_ROBIN:
        assert {combination[name] for combination in COMBINATIONS} == set(CHOICES[name])


def test_testing_docs_list_the_combinations_that_are_baked() -> None:
    """docs/testing.md's table of baked combinations is COMBINATIONS, row for row."""
    text = (TEMPLATE_DIR / "docs" / "testing.md").read_text()
    section = text.split("## Which combinations are baked", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("| ").split(" | ") for line in section.splitlines() if line.startswith("| ")]
    header, table = rows[0], rows[2:]
    assert header == list(CHOICES)
    assert [dict(zip(header, row, strict=True)) for row in table] == COMBINATIONS


def test_dotenv_has_fresh_secrets_and_is_private(tmp_path: Path) -> None:
    first = bake(tmp_path / "a")
    second = bake(tmp_path / "b")
    values = [
        dict(line.split("=", 1) for line in (p / ".env").read_text().splitlines() if line and line[0] != "#")
        for p in (first, second)
    ]
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        assert len(values[0][name]) >= 32
        assert values[0][name] != values[1][name]
    # Compose serves HTTPS from the first start: production's redirect and Secure cookies stay on.
    assert "SECURE_SSL_REDIRECT" not in values[0]
    # Only set values: an empty one would override a default the container image sets.
    assert all(value for value in values[0].values())
    assert "# SUPERVISOR_RUN_DIR=" in (first / ".env").read_text()
    assert stat.S_IMODE((first / ".env").stat().st_mode) == 0o600
    assert ".env" in (first / ".gitignore").read_text().splitlines()


@pytest.mark.slow
def test_generated_suite_passes_on_postgres_and_redis(tmp_path: Path) -> None:
    services = service_urls()
    project = installed_project(tmp_path)
    output = run(["make", "test"], cwd=project, env=project_env(**services))
    assert_suite_passed(output)


def test_pre_commit_checks_a_fresh_bake_offline_and_catches_a_lint_error(tmp_path: Path) -> None:
    """The hooks are make lint's tools from the locked .venv: nothing to download, and they agree with CI."""
    project = installed_project(tmp_path / "bake")
    # Offline: uv may not reach an index, and pre-commit starts from an empty cache.
    env = project_env(UV_OFFLINE="1", PRE_COMMIT_HOME=str(tmp_path / "pre-commit-cache"))
    git = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]
    run([*git, "init", "--quiet"], cwd=project, env=env)
    run([*git, "add", "--all"], cwd=project, env=env)
    run(["uv", "run", "--locked", "pre-commit", "run", "--all-files"], cwd=project, env=env)

    planted = project / "config" / "planted.py"
    planted.write_text("VALUE = undefined_name\n")  # nothing ruff can fix by itself
    run([*git, "add", "--all"], cwd=project, env=env)
    result = subprocess.run(
        ["uv", "run", "--locked", "pre-commit", "run", "--all-files"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "F821 Undefined name `undefined_name`" in result.stdout, result.stdout
