"""The docs name tests that exist: a row of the security page must point at a real proof."""

from __future__ import annotations

import re

import pytest

from .support.baking import TEMPLATE_DIR

PROJECT_TESTS = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
TEMPLATE_TESTS = {"stack": "tests/test_stack.py", "docker": "tests/test_docker.py", "day one": "tests/test_day_one.py"}
# Stack tests live in two modules: test_stack.py and test_live_stack.py (a stack of its own).
STACK_MODULES = ("tests/test_stack.py", "tests/test_live_stack.py")
SECURITY = (TEMPLATE_DIR / "docs" / "security.md").read_text()
# `tests/<dir>/test_x.py::test_name` and `tests/<dir>/test_x.py` (whole files).
PROJECT_REFERENCES = sorted(
    {
        ref
        for ref in re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", SECURITY)
        if ref[0] not in {*TEMPLATE_TESTS.values(), *STACK_MODULES}
    }
)
# "stack: `test_name`", "docker: `test_name`", and the names that follow them in the same cell.
TEMPLATE_REFERENCES = sorted(
    {
        (kind, name)
        for kind, names in re.findall(r"(stack|docker|day one): ((?:`\w+`(?:, )?)+)", SECURITY)
        for name in re.findall(r"`(\w+)`", names)
    }
)


def defines(path: str, name: str) -> bool:
    return bool(re.search(rf"^(async )?def {name}\(", (TEMPLATE_DIR / path).read_text(), flags=re.MULTILINE))


@pytest.mark.parametrize(("path", "name"), PROJECT_REFERENCES, ids=[f"{p}::{n}" for p, n in PROJECT_REFERENCES])
def test_security_page_names_generated_tests_that_exist(path: str, name: str) -> None:
    file = PROJECT_TESTS / path
    assert file.is_file(), path
    if name:
        assert defines(str(file.relative_to(TEMPLATE_DIR)), name), f"{path} has no {name}"


@pytest.mark.parametrize(("kind", "name"), TEMPLATE_REFERENCES, ids=[f"{k}:{n}" for k, n in TEMPLATE_REFERENCES])
def test_security_page_names_template_tests_that_exist(kind: str, name: str) -> None:
    modules = STACK_MODULES if kind == "stack" else (TEMPLATE_TESTS[kind],)
    assert any(defines(module, name) for module in modules), f"no {name} in {', '.join(modules)}"


def test_the_security_page_points_at_tests() -> None:
    assert len(PROJECT_REFERENCES) > 20
    assert len(TEMPLATE_REFERENCES) >= 4
