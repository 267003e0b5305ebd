"""`.env.example` lists exactly the variables that settings read."""

import ast
from pathlib import Path

from .conftest import PROJECT_DIR

ENV_METHODS = {"str", "bool", "int", "float", "list", "choice"}
# Read by compose.yaml, not by settings.
NOT_READ_BY_SETTINGS = {"POSTGRES_PASSWORD"}


def variables_read_by(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.func.attr in ENV_METHODS
        ):
            first = node.args[0]
            assert isinstance(first, ast.Constant), f"line {node.lineno}: name env variables literally"
            assert isinstance(first.value, str)
            names.add(first.value)
    return names


def variables_listed_in(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        name, sep, _ = line.partition("=")
        if sep and not line.startswith("#"):
            names.add(name.strip())
    return names


def test_env_example_lists_exactly_what_settings_read() -> None:
    read = variables_read_by(PROJECT_DIR / "config" / "settings.py")
    listed = variables_listed_in(PROJECT_DIR / ".env.example")
    assert listed - NOT_READ_BY_SETTINGS == read
