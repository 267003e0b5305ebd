"""`.env.example` lists exactly the variables that settings and the deploy files read."""

import ast
import re
from pathlib import Path

from tests.support.processes import PROJECT_DIR

ENV_METHODS = {"string", "boolean", "integer", "number", "string_list", "choice"}
# Read by compose.yaml, not by settings.
NOT_READ_BY_SETTINGS = {"POSTGRES_PASSWORD"}
# Read by the production stack in deploy/ (gunicorn, supervisord, nginx, the
# entrypoint), not by settings; test_deploy_files_read_only_listed_variables checks them.
NOT_READ_BY_SETTINGS |= {
    "GUNICORN_BIND",
    "GUNICORN_WORKERS",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MAX_REQUESTS_JITTER",
    "GUNICORN_WORKER_TMP_DIR",
    "GUNICORN_CONTROL_SOCKET",
    "FORWARDED_ALLOW_IPS",
    "APP_DIR",
    "VENV_DIR",
    "SUPERVISOR_RUN_DIR",
{%- if cookiecutter.metrics == "yes" %}
    "PROMETHEUS_MULTIPROC_DIR",
{%- endif %}
    "NGINX_HTTP_LISTEN",
    "NGINX_HTTPS_LISTEN",
    "NGINX_HTTPS_PORT",
    "NGINX_TLS_CERTIFICATE",
    "NGINX_TLS_CERTIFICATE_KEY",
    "NGINX_ACME_ROOT",
    "NGINX_TRUSTED_PROXIES",
    "NGINX_OCSP_STAPLING",
    "NGINX_RESOLVER",
    "NGINX_UPSTREAM",
    "NGINX_UPSTREAM_CHECK_SECONDS",
    "NGINX_ACCESS_LOG",
}
# Read by a library itself, not by settings or deploy/.
READ_BY_LIBRARIES = {% if cookiecutter.object_storage == "s3" %}{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # boto3{% else %}set[str](){% endif %}
NOT_READ_BY_SETTINGS |= READ_BY_LIBRARIES
# Computed from listed variables, never set by hand: by deploy/entrypoint.sh, and by
# deploy/nginx/derived.envsh for nginx's template.
DERIVED = {
    "WEB_STOP_WAIT_SECONDS",
    "UPLOAD_MAX_REQUEST_BYTES",
    "NGINX_HSTS",
    "NGINX_HTTPS_PORT_SUFFIX",
    "NGINX_REAL_IP_FROM",
    "NGINX_TRUSTED_PROXY_RANGES",
    "NGINX_HTTP2_ON",
    "NGINX_LISTEN_HTTP2",
    "NGINX_OCSP_DIRECTIVES",
{%- if cookiecutter.object_storage == "s3" %}
    "NGINX_STORAGE_ORIGIN",
    "NGINX_STORAGE_RESOLVER",
{%- endif %}
}
DEPLOY_DIR = PROJECT_DIR / "deploy"


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


def code_of(path: Path) -> str:
    """The file without its comment lines."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith(("#", ";")))


def variables_read_by_deploy_files() -> set[str]:
    """Environment variables named in deploy/: os.environ in Python, %(ENV_X)s, ${X}."""
    names = set(re.findall(r"%\(ENV_(\w+)\)s", code_of(DEPLOY_DIR / "supervisord.conf")))
    names |= set(re.findall(r"\$\{(\w+)\}", code_of(DEPLOY_DIR / "nginx/templates/default.conf.template")))
    for script in ("entrypoint.sh", "nginx/derived.envsh", "nginx/upstream-replicas.sh"):
        # Upper case: the environment's (the scripts' own variables are lower case).
        names |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)[:}]", code_of(DEPLOY_DIR / script)))
    gunicorn_conf = code_of(DEPLOY_DIR / "gunicorn.conf.py")
    names |= set(re.findall(r'(?:environ\.get\(|environ\[|_int\()"(\w+)"', gunicorn_conf))
    return names


def test_env_example_lists_exactly_what_settings_read() -> None:
    read = variables_read_by(PROJECT_DIR / "config" / "settings.py")
    listed = variables_listed_in(PROJECT_DIR / ".env.example")
    assert listed - NOT_READ_BY_SETTINGS == read


def test_deploy_files_read_only_listed_variables() -> None:
    listed = variables_listed_in(PROJECT_DIR / ".env.example")
    read = variables_read_by_deploy_files()
    assert {"NGINX_HTTPS_LISTEN", "SUPERVISOR_RUN_DIR", "GUNICORN_BIND", "SECURE_HSTS_SECONDS"} <= read
    assert read - DERIVED - listed == set()
    assert NOT_READ_BY_SETTINGS - {"POSTGRES_PASSWORD"} - READ_BY_LIBRARIES <= read
