"""deploy/nginx: the locations the application relies on."""

import json
import re
import subprocess

from {{ cookiecutter.project_slug }}.uploads.receive import MULTIPART_OVERHEAD

from tests.support.environments import PRODUCTION_ENV, settings_under
from tests.support.processes import PROJECT_DIR, project_env

NGINX_TEMPLATE = PROJECT_DIR / "deploy" / "nginx" / "templates" / "default.conf.template"


def test_nginx_protects_the_download_prefix() -> None:
    """Downloads go to X-Accel-Redirect: <prefix>; nginx must serve that prefix, internally only."""
    prefix = settings_under(["DOWNLOAD_X_ACCEL_PREFIX"], **PRODUCTION_ENV)["DOWNLOAD_X_ACCEL_PREFIX"]
    assert isinstance(prefix, str)
    block = "location " + re.escape(prefix) + r" \{(.*?)^\s*\}$"  # up to the line that closes it
    location = re.search(block, NGINX_TEMPLATE.read_text(), flags=re.DOTALL | re.MULTILINE)
    assert location, f"no nginx location for {prefix}"
    assert re.search(r"^\s*internal;$", location[1], flags=re.MULTILINE)
    assert re.search(r"^\s*alias \$\{MEDIA_ROOT\}/;$", location[1], flags=re.MULTILINE)


def request_limit(**env: str) -> int:
    """UPLOAD_MAX_REQUEST_BYTES as deploy/nginx/upload-limits.envsh derives it for nginx."""
    script = '. deploy/nginx/upload-limits.envsh && echo "$UPLOAD_MAX_REQUEST_BYTES"'
    result = subprocess.run(
        ["sh", "-c", script], cwd=PROJECT_DIR, env=project_env(**env), capture_output=True, text=True, check=True
    )
    return int(result.stdout)


def test_nginx_accepts_exactly_the_largest_request_django_accepts() -> None:
    """UPLOAD_MAX_FILES files of UPLOAD_MAX_BYTES each plus the multipart overhead, from the same variables."""
    assert request_limit(UPLOAD_MAX_FILES="3", UPLOAD_MAX_BYTES="1000") == 3 * 1000 + MULTIPART_OVERHEAD
    defaults = settings_under(["UPLOAD_MAX_FILES", "UPLOAD_MAX_BYTES"], UPLOAD_MAX_FILES="", UPLOAD_MAX_BYTES="")
    expected = defaults["UPLOAD_MAX_FILES"] * defaults["UPLOAD_MAX_BYTES"] + MULTIPART_OVERHEAD
    assert request_limit(UPLOAD_MAX_FILES="", UPLOAD_MAX_BYTES="") == expected
    assert re.search(r"^\s*client_max_body_size \$\{UPLOAD_MAX_REQUEST_BYTES\};$", NGINX_TEMPLATE.read_text(), re.M)


def test_nginx_refuses_oversized_api_requests_in_json() -> None:
    template = NGINX_TEMPLATE.read_text()
    api = re.search(r"location /api/ \{(.*?)^\s*\}$", template, flags=re.DOTALL | re.MULTILINE)
    assert api
    assert re.search(r"^\s*error_page 413 @api_request_too_large;$", api[1], flags=re.MULTILINE)
    handler = re.search(r"location @api_request_too_large \{(.*?)^\s*\}$", template, flags=re.DOTALL | re.MULTILINE)
    assert handler
    assert "default_type application/json;" in handler[1]
    body = re.search(r"return 413 '(.*)\\n';", handler[1])
    assert body
    assert json.loads(body[1]) == {"error": "The request is larger than the upload limits allow."}
