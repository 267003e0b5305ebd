"""Security settings that depend on the production stack: CSP, the proxy's scheme header, protected files."""

import json
import re
from http import HTTPStatus

from django.test import AsyncClient

from .conftest import PROJECT_DIR, project_env, run_manage
from .test_settings import PRODUCTION_ENV

NGINX_TEMPLATE = PROJECT_DIR / "deploy" / "nginx" / "templates" / "default.conf.template"
PRINT_STACK_SETTINGS = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({'proxy': s.SECURE_PROXY_SSL_HEADER, 'x_accel': s.DOWNLOAD_X_ACCEL_PREFIX}))"
)


def stack_settings(**env: str) -> dict[str, object]:
    result = run_manage("shell", "--no-imports", "-c", PRINT_STACK_SETTINGS, env=project_env(**env))
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


async def test_pages_carry_a_content_security_policy(async_client: AsyncClient) -> None:
    response = await async_client.get("/")
    assert response.status_code == HTTPStatus.OK
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy


def test_only_production_trusts_the_proxy_scheme_header() -> None:
    """nginx overwrites X-Forwarded-Proto in production; without it a client could claim HTTPS."""
    assert stack_settings(**PRODUCTION_ENV)["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert stack_settings(DJANGO_ENV="development")["proxy"] is None


def test_nginx_protects_the_download_prefix() -> None:
    """Downloads go to X-Accel-Redirect: <prefix>; nginx must serve that prefix, internally only."""
    prefix = stack_settings(**PRODUCTION_ENV)["x_accel"]
    assert isinstance(prefix, str)
    block = "location " + re.escape(prefix) + r" \{(.*?)^\s*\}$"  # up to the line that closes it
    location = re.search(block, NGINX_TEMPLATE.read_text(), flags=re.DOTALL | re.MULTILINE)
    assert location, f"no nginx location for {prefix}"
    assert re.search(r"^\s*internal;$", location[1], flags=re.MULTILINE)
    assert re.search(r"^\s*alias \$\{MEDIA_ROOT\}/;$", location[1], flags=re.MULTILINE)
