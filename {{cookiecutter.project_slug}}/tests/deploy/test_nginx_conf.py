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
{%- if cookiecutter.object_storage == "s3" %}
    # Fetched from the storage, with none of the client's headers (cookies) and GET only.
    assert re.search(r"^\s*proxy_pass \$storage_origin;$", location[1], flags=re.MULTILINE)
    assert re.search(r"^\s*proxy_pass_request_headers off;$", location[1], flags=re.MULTILINE)
    assert re.search(r"^\s*proxy_method GET;$", location[1], flags=re.MULTILINE)
{%- else %}
    assert re.search(r"^\s*alias \$\{MEDIA_ROOT\}/;$", location[1], flags=re.MULTILINE)
{%- endif %}


def derived(name: str, **env: str) -> str:
    """A value deploy/nginx/derived.envsh derives for nginx's template, from these settings."""
    script = f'. deploy/nginx/derived.envsh && printf %s "${name}"'
{%- if cookiecutter.object_storage == "s3" %}
    env = {"AWS_S3_ENDPOINT_URL": PRODUCTION_ENV["AWS_S3_ENDPOINT_URL"], **env}
{%- endif %}
    result = subprocess.run(
        ["sh", "-c", script], cwd=PROJECT_DIR, env=project_env(**env), capture_output=True, text=True, check=True
    )
    return result.stdout
{%- if cookiecutter.object_storage == "s3" %}


def test_nginx_fetches_downloads_from_the_origin_django_signs_for() -> None:
    assert derived("NGINX_STORAGE_ORIGIN", AWS_S3_ENDPOINT_URL="http://minio:9000/") == "http://minio:9000"
    resolver = derived("NGINX_STORAGE_RESOLVER", NGINX_RESOLVER="10.0.0.10")
    assert resolver == "resolver 10.0.0.10 valid=30s; resolver_timeout 5s;"
    missing = subprocess.run(
        ["sh", "-c", ". deploy/nginx/derived.envsh"],
        cwd=PROJECT_DIR,
        env=project_env(AWS_S3_ENDPOINT_URL=""),
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode != 0
    assert "set AWS_S3_ENDPOINT_URL: nginx fetches downloads from the object storage" in missing.stderr
{%- endif %}


def request_limit(**env: str) -> int:
    return int(derived("UPLOAD_MAX_REQUEST_BYTES", **env))


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


def test_nginx_sends_the_hsts_policy_django_sends() -> None:
    """One policy whichever answers: nginx's HSTS comes from the settings Django reads, with its defaults."""
    names = ["SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"]
    cases = [
        {},
        {"SECURE_HSTS_SECONDS": "600", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "no", "SECURE_HSTS_PRELOAD": "False"},
        {"SECURE_HSTS_SECONDS": "86400", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "ON", "SECURE_HSTS_PRELOAD": "0"},
        {"SECURE_HSTS_SECONDS": "0"},
    ]
    for case in cases:
        env = {name: case.get(name, "") for name in names}
        django = settings_under(names, **PRODUCTION_ENV, **env)
        expected = ""
        if django["SECURE_HSTS_SECONDS"]:
            expected = f"max-age={django['SECURE_HSTS_SECONDS']}"
            expected += "; includeSubDomains" * django["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
            expected += "; preload" * django["SECURE_HSTS_PRELOAD"]
        assert derived("NGINX_HSTS", **env) == expected, case


def test_nginx_redirects_to_the_https_port_browsers_reach() -> None:
    assert derived("NGINX_HTTPS_PORT_SUFFIX", NGINX_HTTPS_PORT="443") == ""
    assert derived("NGINX_HTTPS_PORT_SUFFIX", NGINX_HTTPS_PORT="") == ""
    assert derived("NGINX_HTTPS_PORT_SUFFIX", NGINX_HTTPS_PORT="8443") == ":8443"


def test_nginx_believes_forwarded_headers_from_the_trusted_load_balancer_only() -> None:
    assert derived("NGINX_REAL_IP_FROM", NGINX_TRUSTED_PROXIES="") == ""
    assert derived("NGINX_TRUSTED_PROXY_RANGES", NGINX_TRUSTED_PROXIES="") == ""
    trusted = {"NGINX_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7"}
    assert derived("NGINX_REAL_IP_FROM", **trusted) == "set_real_ip_from 10.0.0.0/8; set_real_ip_from 192.0.2.7; "
    assert derived("NGINX_TRUSTED_PROXY_RANGES", **trusted) == "10.0.0.0/8 1; 192.0.2.7 1; "
    template = NGINX_TEMPLATE.read_text()
    # The scheme sent to Django is the connection's unless a trusted proxy says otherwise.
    assert "proxy_set_header X-Forwarded-Proto $client_scheme;" in template
    assert "proxy_set_header X-Forwarded-Proto $scheme;" not in template


def test_nginx_template_variables_are_all_listed_for_envsubst() -> None:
    """envsubst replaces only the listed names: a name missing from the list would reach nginx as ${NAME}."""
    listed = set(derived("NGINX_TEMPLATE_VARIABLES").split())
    code = "\n".join(line for line in NGINX_TEMPLATE.read_text().splitlines() if not line.lstrip().startswith("#"))
    used = set("${" + name + "}" for name in re.findall(r"\$\{(\w+)\}", code))
    assert used == listed
