"""Settings as a process started with a given environment sees them."""

from __future__ import annotations

import json
import secrets
from typing import Any

from .processes import DEAD_DATABASE_URL, DEAD_REDIS_URL, project_env, run_manage

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "{{ cookiecutter.domain_name }}",
    "DATABASE_URL": DEAD_DATABASE_URL,
    "REDIS_URL": DEAD_REDIS_URL,
    "DEFAULT_FROM_EMAIL": "noreply@{{ cookiecutter.domain_name }}",
    "SERVER_EMAIL": "server@{{ cookiecutter.domain_name }}",
{%- if cookiecutter.object_storage == "s3" %}
    "AWS_STORAGE_BUCKET_NAME": "uploads",
    "AWS_S3_ENDPOINT_URL": "https://storage.{{ cookiecutter.domain_name }}",
{%- endif %}
{%- if cookiecutter.mail_service == "smtp" %}
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.{{ cookiecutter.domain_name }}:587",
{%- else %}
    "{{ cookiecutter._mail_providers[cookiecutter.mail_service].variable }}": "a-test-key",
{%- endif %}
}
# What production needs for uploaded files (nothing more with files on disk).
STORAGE_VARIABLES: list[str] = [{% if cookiecutter.object_storage == "s3" %}"AWS_STORAGE_BUCKET_NAME"{% endif %}]
# What production needs to send mail, in the order settings read it.
MAIL_VARIABLES = [
    "DEFAULT_FROM_EMAIL",
    "SERVER_EMAIL",
    "{% if cookiecutter.mail_service == "smtp" %}EMAIL_URL{% else %}{{ cookiecutter._mail_providers[cookiecutter.mail_service].variable }}{% endif %}",
]


def settings_under(names: list[str], **env: str) -> dict[str, Any]:
    """The named settings of a fresh process with ``env``, as JSON (non-JSON values as strings)."""
    script = (
        f"import json; from django.conf import settings as s; names = {json.dumps(names)}; "
        "print(json.dumps({name: getattr(s, name) for name in names}, default=str))"
    )
    result = run_manage("shell", "--no-imports", "-c", script, env=project_env(**env))
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded
