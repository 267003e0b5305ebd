"""Bad answers are refused with a one-line message naming the field, and nothing is written."""

from __future__ import annotations

import ast
import html
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException

from .support.baking import TEMPLATE_DIR, bake, project_env

REFUSED = [
    ({"project_slug": "my-project"}, "project_slug 'my-project' must be a lowercase Python identifier"),
    ({"project_slug": "My_Project"}, "project_slug 'My_Project' must be a lowercase Python identifier"),
    ({"project_slug": "1project"}, "project_slug '1project' must be a lowercase Python identifier"),
    ({"project_slug": "my__project"}, "project_slug 'my__project' must be a lowercase Python identifier"),
    ({"project_slug": "class"}, "project_slug 'class' is a Python keyword"),
    ({"project_slug": "match"}, "project_slug 'match' is a Python keyword"),
    ({"project_slug": "email"}, "project_slug 'email' would shadow the module of the same name"),
    ({"project_slug": "test"}, "project_slug 'test' would shadow the module of the same name"),
    ({"project_slug": "django"}, "project_slug 'django' would shadow the module of the same name"),
    ({"project_slug": "site"}, "project_slug 'site' would shadow the module of the same name"),
    ({"project_slug": "config"}, "project_slug 'config' would shadow the module of the same name"),
    ({"project_name": "   ", "project_slug": "ok"}, "project_name must not be empty"),
    ({"description": "line\nbreak"}, "description must not contain control characters"),
    ({"project_name": "tab\there", "project_slug": "ok"}, "project_name must not contain control characters"),
    ({"author_name": "bell\a"}, "author_name must not contain control characters"),
    ({"author_email": "nobody"}, "author_email 'nobody' must look like name@example.com"),
    ({"author_email": "a b@example.com"}, "author_email 'a b@example.com' must look like name@example.com"),
    ({"domain_name": "https://example.com"}, "domain_name 'https://example.com' must be a bare host name"),
    ({"domain_name": "example.com/app"}, "domain_name 'example.com/app' must be a bare host name"),
    ({"domain_name": "example.com:8000"}, "domain_name 'example.com:8000' must be a bare host name"),
    ({"domain_name": "localhost"}, "domain_name 'localhost' must be a lowercase host name"),
    ({"domain_name": "Example.com"}, "domain_name 'Example.com' must be a lowercase host name"),
    ({"timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not an IANA time zone name"),
]


@pytest.mark.parametrize(("answers", "message"), REFUSED, ids=[repr(a) for a, _ in REFUSED])
def test_bad_answer_is_refused(
    answers: dict[str, str], message: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, **answers)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"ERROR: {message}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("field", "value"), [("python_version", "3.11"), ("postgresql_version", "14")])
def test_unsupported_choice_is_refused(field: str, value: str, tmp_path: Path) -> None:
    """Cookiecutter itself refuses a value outside a choice list, before any hook runs."""
    with pytest.raises(ValueError, match=f"{value} provided for choice variable {field}, but the choices are"):
        bake(tmp_path, **{field: value})
    assert list(tmp_path.iterdir()) == []


def test_a_refusal_keeps_the_answers_for_the_next_attempt(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The message names a config file whose defaults are the answers just given (nothing else is written)."""
    with pytest.raises(FailedHookException):
        bake(tmp_path, project_name="Bob's Blog", project_slug="class", timezone="Europe/Paris")
    err = capfd.readouterr().err
    command = re.search(r"^  cookiecutter --config-file (\S+) (\S+)$", err, flags=re.MULTILINE)
    assert command, err
    answers = yaml.safe_load(Path(command[1]).read_text())["default_context"]
    assert (answers["project_name"], answers["project_slug"], answers["timezone"]) == (
        "Bob's Blog",
        "class",
        "Europe/Paris",
    )
    assert not any(name.startswith("_") for name in answers)
    assert list(tmp_path.iterdir()) == []


def test_every_problem_is_reported_at_once(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, project_slug="class", domain_name="http://x", author_email="x")
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert [error.split()[1] for error in errors] == ["project_slug", "domain_name", "author_email"]


def test_refusal_survives_python_optimisation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The hooks use no assert, so `python -O` cannot strip a check."""
    monkeypatch.setenv("PYTHONOPTIMIZE", "2")
    with pytest.raises(FailedHookException):
        bake(tmp_path, project_slug="my-project")
    assert "ERROR: project_slug" in capfd.readouterr().err


@pytest.mark.parametrize(
    "answers",
    [
        {"project_name": "Café Dashboard", "project_slug": "cafe_dashboard"},
        {"description": "Uploads, tasks & reports: 100% async (really)."},
        {"description": "The \"best\" \\ uploads, `really`: $0 & 'free'"},
        {"author_name": "Zoë Ørsted-Łukasz"},
        {"author_name": "Miles O'Brien"},
        {"timezone": "America/Argentina/Buenos_Aires", "domain_name": "app.example.co.uk"},
    ],
)
def test_unusual_but_valid_answers_are_accepted(answers: dict[str, str], tmp_path: Path) -> None:
    project = bake(tmp_path, **answers)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    for name in ("description", "author_name"):
        if name in answers:
            field = pyproject["project"]["authors"][0]["name"] if name == "author_name" else pyproject["project"][name]
            assert field == answers[name]


# Typed at the prompt: cookiecutter takes braces literally there (given with --no-input, it
# would render them as Jinja).
# The prompts cookiecutter asks, in order (private "_" variables are not asked).
PROMPTS = [name for name in json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text()) if not name.startswith("_")]
HOSTILE_NAMES = ["Bob's Blog", 'O"Brien & Sons', "Café & Crème", "Zoë <b>{{ x }}</b> {% y %} 100% $HOME `id` \\ ;"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_any_printable_name_bakes_escaped_for_each_file_kind(name: str, tmp_path: Path) -> None:
    """The name comes out as itself in Python, TOML, HTML (Django templates), Markdown and a systemd unit."""
    answers = f"{name}\n" + "\n" * (len(PROMPTS) - 1)  # the name, then every other default
    result = subprocess.run(
        ["cookiecutter", "--output-dir", str(tmp_path), str(TEMPLATE_DIR)],
        input=answers,
        capture_output=True,
        text=True,
        check=False,
        env=project_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [project] = tmp_path.iterdir()
    assert re.fullmatch(r"[a-z][a-z0-9_]*", project.name)
    settings = ast.parse((project / "config" / "settings.py").read_text())
    [site_name] = [
        node.value.value
        for node in settings.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "SITE_NAME"
        and isinstance(node.value, ast.Constant)
    ]  # fmt: skip
    assert site_name == name
    home = (project / project.name / "pages" / "templates" / "pages" / "home.html").read_text()
    heading = re.search(r"<h1>(.*)</h1>", home)
    assert heading
    assert html.unescape(heading[1]) == name
    assert not re.search(r"\{\{|\{%", heading[1])  # nothing for Django's template engine
    assert (project / "README.md").read_text().startswith(f"# {name}\n")
    unit = re.search(r"^Description=(.*)$", (project / "docs" / "deployment.md").read_text(), flags=re.MULTILINE)
    assert unit
    assert unit[1].replace("%%", "%") == name
