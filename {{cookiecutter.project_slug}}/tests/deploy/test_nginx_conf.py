"""deploy/nginx: the locations the application relies on."""

import re

from tests.support.environments import PRODUCTION_ENV, settings_under
from tests.support.processes import PROJECT_DIR

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
