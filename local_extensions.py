"""Jinja filters for this template (loaded by cookiecutter from ``_extensions``)."""

import base64
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
