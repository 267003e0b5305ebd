"""Bad answers are refused with a one-line message naming the field, and nothing is written."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from .support.baking import bake

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
    ({"project_name": 'Say "hi"'}, "project_name must not contain quotes"),
    ({"project_name": "Bob's app", "project_slug": "bobs_app"}, "project_name must not contain quotes"),
    ({"description": "a\\x41b"}, "description must not contain quotes, backslashes"),
    ({"author_name": "a\\b"}, "author_name must not contain quotes, backslashes"),
    ({"description": "line\nbreak"}, "description must not contain control characters"),
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
        {"author_name": "Zoë Ørsted-Łukasz"},
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
