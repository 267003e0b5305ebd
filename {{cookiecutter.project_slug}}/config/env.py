"""Read settings from the environment: typed, with defaults, and strict in production.

Settings call ``env.string("NAME", default=...)`` and friends. A variable read with
``required=True`` and not set is collected, and ``env.raise_if_missing()`` at the end
of settings stops start-up with one message naming every missing variable.

``load_dotenv()`` adds the project's ``.env`` to the environment first; the entry points
(manage.py, config/asgi.py, deploy/gunicorn.conf.py) call it. A variable that is already
set wins over the file.
"""

from __future__ import annotations

import os
{%- if cookiecutter.object_storage == "s3" %}
import re
{%- endif %}
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

PROJECT_DIR = Path(__file__).resolve().parent.parent
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off"})


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.missing: list[str] = []

    def _raw(self, name: str, required: bool) -> str | None:
        value = self.environ.get(name)
        if value is None or value == "":
            if required:
                self.missing.append(name)
            return None
        return value

    def string(self, name: str, default: str = "", *, required: bool = False) -> str:
        value = self._raw(name, required)
        return default if value is None else value

    def boolean(self, name: str, default: bool, *, required: bool = False) -> bool:
        value = self._raw(name, required)
        if value is None:
            return default
        if value.lower() in TRUE_VALUES:
            return True
        if value.lower() in FALSE_VALUES:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use 1/0, true/false, yes/no or on/off")

    def integer(self, name: str, default: int, *, required: bool = False) -> int:
        value = self._raw(name, required)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None

    def number(self, name: str, default: float, *, required: bool = False) -> float:
        value = self._raw(name, required)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None

    def string_list(self, name: str, default: list[str] | None = None, *, required: bool = False) -> list[str]:
        """A comma-separated list; blanks around items are ignored."""
        value = self._raw(name, required)
        if value is None:
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(name, default)
        if value not in choices:
            raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}")
        return value

    def raise_if_missing(self, context: str) -> None:
        if self.missing:
            names = ", ".join(dict.fromkeys(self.missing))
            raise ImproperlyConfigured(
                f"Missing required environment variable(s) {context}: {names}. See .env.example."
            )


def read_dotenv(path: Path) -> dict[str, str]:
    """The ``NAME=value`` lines of an env file, as docker compose reads them.

    Blank lines and lines starting with ``#`` are skipped, an ``export`` before the name is
    allowed, and one pair of matching quotes around a value is removed. A missing file
    reads as empty.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier():
            raise ImproperlyConfigured(f"{path}, line {number}: expected NAME=value, got {line!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def load_dotenv(environ: MutableMapping[str, str] = os.environ) -> None:
    """Add the variables of DOTENV_FILE (default: the project's .env) that are not set already."""
    path = Path(environ.get("DOTENV_FILE") or PROJECT_DIR / ".env")
    for name, value in read_dotenv(path).items():
        environ.setdefault(name, value)


def database_from_url(url: str) -> dict[str, Any]:
    """Turn DATABASE_URL into DATABASES keys.

    ``postgres://user:password@host:port/name?option=value``: query parameters become
    libpq connection options (``sslmode``, ``connect_timeout``…).
    ``sqlite:////absolute/path.sqlite3``: a SQLite file.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)[1:]  # sqlite:///relative, sqlite:////absolute
        if not path.startswith("/") or path == "/":
            raise ImproperlyConfigured("A SQLite DATABASE_URL needs an absolute path: sqlite:////path/to/db.sqlite3")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": {}}
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got {parts.scheme or 'no'} scheme)"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL must name a database: postgres://user:password@host:5432/name")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
    }
{%- if cookiecutter.mail_service == "smtp" %}


# EMAIL_URL schemes: (TLS mode, default port). STARTTLS upgrades a plain connection
# (port 587); implicit TLS speaks TLS from the first byte (port 465).
EMAIL_SCHEMES = {"smtp": ("none", 25), "smtp+tls": ("starttls", 587), "smtps": ("tls", 465)}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def email_from_url(url: str, *, production: bool, timeout: float) -> dict[str, Any]:
    """Turn EMAIL_URL into a MAILERS entry.

    ``smtp+tls://user:password@host:587`` (STARTTLS), ``smtps://user:password@host:465``
    (TLS from the start), ``smtp://host:25`` (no TLS: in production only to a relay on
    this machine), ``console://`` (print each message to the log instead of sending it).
    """
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"BACKEND": "{{ cookiecutter.project_slug }}.ops.mail.ConsoleBackend"}
    if parts.scheme not in EMAIL_SCHEMES:
        raise ImproperlyConfigured(
            "EMAIL_URL must start with smtp+tls://, smtps://, smtp:// or console://"
            f" (got {parts.scheme or 'no'} scheme)"
        )
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL must name a server: smtp+tls://user:password@smtp.example.com:587")
    tls, default_port = EMAIL_SCHEMES[parts.scheme]
    if production and tls == "none" and parts.hostname not in LOOPBACK_HOSTS:
        raise ImproperlyConfigured(
            f"EMAIL_URL sends mail to {parts.hostname} without TLS: use smtp+tls:// (STARTTLS) or smtps://"
        )
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname,
            "port": parts.port or default_port,
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": tls == "starttls",
            "use_ssl": tls == "tls",
            "timeout": timeout,
        },
    }
{%- endif %}
{%- if cookiecutter.object_storage == "s3" %}


def object_storage(bucket: str, endpoint_url: str, region: str) -> dict[str, Any]:
    """STORAGES["default"] for an S3-compatible bucket (django-storages), private and streamed.

    ``endpoint_url`` is the bucket's API, scheme and host only: buckets are addressed by
    path (<endpoint>/<bucket>/<key>), so nginx fetches downloads from this one origin.
    """
    if not re.fullmatch(r"https?://[^/?#\s]+/?", endpoint_url):
        raise ImproperlyConfigured(
            f"AWS_S3_ENDPOINT_URL must be a scheme and a host (and port), nothing else: got {endpoint_url!r}."
        )
    from boto3.s3.transfer import TransferConfig  # only where a bucket is used

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url.rstrip("/"),
            "region_name": region,
            "addressing_style": "path",
            "signature_version": "s3v4",
            # Keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or boto3's other
            # sources (an instance role, a Kubernetes service account's web identity).
            # No ACL on objects: the bucket's policy decides, and nothing is public-read.
            "default_acl": None,
            # Names are the upload's id (uploads/models.py): never taken, so no HEAD first.
            "file_overwrite": True,
            # Presigned URLs are used at once, by nginx.
            "querystring_expire": 60,
            # The worker reads a file through a temporary file on disk once it passes this
            # size: a 100 MiB upload does not take 100 MiB of memory (0, the default, would
            # keep it all in memory).
            "max_memory_size": 1024 * 1024,
            # One part at a time: boto3's threads would hold up to 10 parts of 8 MiB per
            # upload, and queue 25 MiB per download, in each process.
            "transfer_config": TransferConfig(use_threads=False),
        },
    }
{%- endif %}
