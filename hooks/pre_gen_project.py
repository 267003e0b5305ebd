"""Refuse bad answers before anything is generated.

Each rule prints one line naming the field and the rule, then exits 1; cookiecutter
then removes the half-made project directory. The answers arrive as base64 JSON so
that no answer is ever pasted into Python source (a quote or backslash in an answer
cannot change what this script does).
"""

from __future__ import annotations

import base64
import json
import keyword
import re
import shlex
import sys
import tempfile
import zoneinfo
from pathlib import Path

CONTEXT: dict[str, object] = json.loads(base64.b64decode("{{ cookiecutter | b64json }}"))

SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Names the generated code imports, or that tools treat specially: a package with
# one of these names would shadow it on sys.path.
RESERVED_SLUGS = frozenset(
    {
        "asgiref",
        "config",
        "conftest",
        "core",
        "django",
        "gunicorn",
        "manage",
        "psycopg",
        "psycopg_pool",
        "pytest",
        "redis",
        "site",
        "static",
        "supervisor",
        "templates",
        "test",
        "tests",
        "uvicorn",
        "uvicorn_worker",
    }
)
HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FREE_TEXT_FIELDS = ("project_name", "description", "author_name", "author_email", "domain_name", "timezone")


def check_free_text(field: str, value: str) -> str | None:
    # Quotes, '&', '$' and the like are fine: each file kind gets them escaped (local_extensions.py).
    if any(not ch.isprintable() for ch in value):
        return f"{field} must not contain control characters or line breaks (got {value!r})"
    return None


def check_slug(slug: str) -> str | None:
    if not SLUG_RE.match(slug):
        return (
            f"project_slug {slug!r} must be a lowercase Python identifier: a letter, then "
            "letters, digits and single underscores (no leading, trailing or double '_')"
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"project_slug {slug!r} is a Python keyword; choose another name"
    if slug in sys.stdlib_module_names or slug in RESERVED_SLUGS:
        return f"project_slug {slug!r} would shadow the module of the same name; choose another name"
    return None


def check_domain(domain: str) -> str | None:
    if "://" in domain or "/" in domain or ":" in domain:
        return f"domain_name {domain!r} must be a bare host name like example.com: no scheme, port or path"
    labels = domain.split(".")
    if domain != domain.lower() or len(labels) < 2 or not all(HOST_LABEL_RE.match(label) for label in labels):
        return f"domain_name {domain!r} must be a lowercase host name like example.com"
    return None


def check_email(email: str) -> str | None:
    if not EMAIL_RE.match(email):
        return f"author_email {email!r} must look like name@example.com"
    return None


def check_timezone(name: str) -> str | None:
    available = zoneinfo.available_timezones()
    if available and name not in available:
        return f"timezone {name!r} is not an IANA time zone name (e.g. UTC, Europe/Paris)"
    return None


def errors(context: dict[str, object]) -> list[str]:
    found: list[str] = []
    for field in FREE_TEXT_FIELDS:
        if error := check_free_text(field, str(context[field])):
            found.append(error)
    if not str(context["project_name"]).strip():
        found.append("project_name must not be empty")
    if found:  # the checks below assume printable text
        return found
    checks = (
        check_slug(str(context["project_slug"])),
        check_domain(str(context["domain_name"])),
        check_email(str(context["author_email"])),
        check_timezone(str(context["timezone"])),
    )
    return found + [error for error in checks if error]


def save_answers(context: dict[str, object]) -> Path:
    """The answers as a cookiecutter config file whose defaults they become, for the next attempt."""
    answers = {name: value for name, value in context.items() if not name.startswith("_")}
    # JSON strings are valid YAML double-quoted scalars: no answer can break the file.
    lines = ["default_context:", *(f"  {name}: {json.dumps(str(value))}" for name, value in answers.items())]
    handle, name = tempfile.mkstemp(prefix="cookiecutter-answers-", suffix=".yaml", text=True)
    with open(handle, "w") as file:
        file.write("\n".join(lines) + "\n")
    return Path(name)


def main() -> int:
    found = errors(CONTEXT)
    for error in found:
        print(f"ERROR: {error}", file=sys.stderr)
    if found:
        template = shlex.quote(str(CONTEXT.get("_template", "<template>")))
        print(
            f"Nothing was generated. To try again with your answers as the defaults:\n"
            f"  cookiecutter --config-file {save_answers(CONTEXT)} {template}",
            file=sys.stderr,
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
