"""Jinja filters for this template (loaded by cookiecutter from ``_extensions``).

Free-text answers (a project name like ``Bob's "Café" & Co``) go into files of many
kinds; each kind gets the filter that quotes or escapes for it.
"""

import base64
import html
import json
import re
from typing import Any

from cookiecutter.utils import simple_filter


@simple_filter
def b64json(value: Any) -> str:
    """Encode a value as base64 JSON, so hooks can embed it without quoting issues."""
    return base64.b64encode(json.dumps(value).encode()).decode("ascii")


@simple_filter
def pep503(value: str) -> str:
    """Normalise a distribution name as packaging tools do (PEP 503)."""
    return re.sub(r"[-_.]+", "-", value).lower()


@simple_filter
def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's too)."""
    return json.dumps(value, ensure_ascii=False)


@simple_filter
def py_string(value: str) -> str:
    """A Python string literal, quoted as ``ruff format`` would: double quotes unless single ones escape less."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


@simple_filter
def html_text(value: str) -> str:
    """Text for an HTML page that is also a Django template: entities for markup and for template braces."""
    return html.escape(value).replace("{", "&#123;").replace("}", "&#125;")


@simple_filter
def unit_text(value: str) -> str:
    """Text for a systemd unit's value: ``%`` starts a specifier there, ``%%`` is a percent sign."""
    return value.replace("%", "%%")
