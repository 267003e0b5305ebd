"""Settings: one module for every environment.

Every value that differs between environments comes from ``env`` below and is listed
in ``.env.example`` (a test keeps the two in sync). With no ``DATABASE_URL`` and no
``REDIS_URL``, development runs on SQLite with its cache in a database table; production
(``DJANGO_ENV=production``) refuses to start without them.
https://docs.djangoproject.com/en/6.1/ref/settings/
"""

{% if cookiecutter.username_type == "email" -%}
from operator import attrgetter
{% endif -%}
from pathlib import Path

from django.utils.csp import CSP

from config.env import Env, database_from_url{% if cookiecutter.mail_service == "smtp" %}, email_from_url{% endif %}{% if cookiecutter.object_storage == "s3" %}, object_storage{% endif %}
from config.logs import LOG_FORMATS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = BASE_DIR / "{{ cookiecutter.project_slug }}"

env = Env()

# The site's name, for page titles, mail and the development server's banner.
SITE_NAME = {{ cookiecutter.project_name | py_string }}

# Environment
DJANGO_ENV = env.choice("DJANGO_ENV", "development", ("development", "production"))
PRODUCTION = DJANGO_ENV == "production"

# Core
# https://docs.djangoproject.com/en/6.1/ref/settings/#core-settings
SECRET_KEY = env.string("SECRET_KEY", "django-insecure-development-only-key", required=PRODUCTION)
DEBUG = env.boolean("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.string_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"], required=PRODUCTION)
CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS")

ROOT_URLCONF = "config.urls"
# ASGI only: config/asgi.py is the entry point; runserver still works for development.
WSGI_APPLICATION = None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "{{ cookiecutter.project_slug }}.ops",
    "{{ cookiecutter.project_slug }}.pages",
    "{{ cookiecutter.project_slug }}.users",
    "{{ cookiecutter.project_slug }}.uploads",
{%- if cookiecutter.include_examples == "yes" %}
    "{{ cookiecutter.project_slug }}.examples",
{%- endif %}
]

# The request id comes first, so everything logged during a request carries it.
# Health checks come next: they answer before host validation and the HTTPS redirect,
# so load balancers and container probes can reach them by IP over plain HTTP.
MIDDLEWARE = [
{%- if cookiecutter.metrics == "yes" %}
    # Prometheus metrics ({{ cookiecutter.project_slug }}/ops/metrics.py): times every request, answers /metrics.
    "{{ cookiecutter.project_slug }}.ops.metrics.MetricsMiddleware",
{%- endif %}
    "{{ cookiecutter.project_slug }}.ops.request_id.RequestIdMiddleware",
    "{{ cookiecutter.project_slug }}.ops.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # allauth's request context; async-capable, so it adds no thread hop.
    "allauth.account.middleware.AccountMiddleware",
]
{%- if cookiecutter.metrics == "yes" %}
# Off: no metrics middleware, so requests are not timed and /metrics is not answered.
METRICS_ENABLED = env.boolean("METRICS_ENABLED", default=True)
if not METRICS_ENABLED:
    MIDDLEWARE.remove("{{ cookiecutter.project_slug }}.ops.metrics.MetricsMiddleware")
# A task worker running on its own (compose's worker service, Kubernetes) serves its
# metrics on this port; 0: not at all (under supervisord, gunicorn's /metrics has them).
WORKER_METRICS_PORT = env.integer("WORKER_METRICS_PORT", 0)
{%- endif %}
# The lean request path (config/fast_path/): requests reuse their threads, and each of
# Django's middleware above runs as its audited Inline* subclass, on the event loop
# unless a hook does I/O. 0 restores stock Django, to compare or debug.
ASGI_FAST_PATH = env.boolean("ASGI_FAST_PATH", default=True)

# Templates are cached in production; in development they are read again at every
# render, so an edited template shows on the next request without a restart.
_TEMPLATE_LOADERS = ["django.template.loaders.filesystem.Loader", "django.template.loaders.app_directories.Loader"]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "OPTIONS": {
            "loaders": _TEMPLATE_LOADERS if DEBUG else [("django.template.loaders.cached.Loader", _TEMPLATE_LOADERS)],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "{{ cookiecutter.project_slug }}.users.context_processors.accounts",
                # csp_nonce in every template context: inline <script nonce=...> under SECURE_CSP.
                "django.template.context_processors.csp",
            ],
        },
    },
]

# Database
# https://docs.djangoproject.com/en/6.1/ref/databases/#postgresql-notes
DATABASE_URL = env.string("DATABASE_URL", required=PRODUCTION)
_database = database_from_url(DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
if _database["ENGINE"] == "django.db.backends.postgresql":
    _database["OPTIONS"].setdefault("connect_timeout", env.integer("DATABASE_CONNECT_TIMEOUT", 5))
    # Every statement is bounded so one slow query cannot hold a pooled connection forever.
    statement_timeout = env.integer("DATABASE_STATEMENT_TIMEOUT_MS", 30_000)  # milliseconds
    _database["OPTIONS"].setdefault("options", f"-c statement_timeout={statement_timeout}")
    # Django's psycopg 3 pool, one per process: workers * max_size must stay below
    # PostgreSQL's max_connections.
    _database["OPTIONS"]["pool"] = {
        "min_size": env.integer("DATABASE_POOL_MIN_SIZE", 2),
        "max_size": env.integer("DATABASE_POOL_MAX_SIZE", 10),
        "timeout": env.number("DATABASE_POOL_TIMEOUT", 10.0),  # seconds to wait for a free connection
    }
    # CONN_MAX_AGE must be 0 when the pool is on; Django refuses otherwise.
    _database["CONN_MAX_AGE"] = 0
    # The pool checks a connection before lending it, so a database restart costs no
    # failed requests.
    _database["CONN_HEALTH_CHECKS"] = True
else:
    # WAL and IMMEDIATE transactions let the web process and the task worker write at
    # the same time without "database is locked".
    _database["OPTIONS"].update(
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        transaction_mode="IMMEDIATE",
        timeout=20,  # seconds to wait for a lock
    )
# ATOMIC_REQUESTS would wrap async views in a transaction they cannot use.
_database["ATOMIC_REQUESTS"] = False
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Caching
# https://docs.djangoproject.com/en/6.1/topics/cache/
REDIS_URL = env.string("REDIS_URL", required=PRODUCTION)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                # Fail soft: a Redis outage turns cache reads into misses, never into errors.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": env.number("REDIS_CONNECT_TIMEOUT", 0.5),  # seconds
                "SOCKET_TIMEOUT": env.number("REDIS_TIMEOUT", 0.5),  # seconds
                # Each request's blocking cache calls run in a thread of its own. With more
                # threads than connections, redis-py's default pool fails at once ("Too many
                # connections"): this one makes a thread wait for a free connection instead.
                "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": env.integer("REDIS_MAX_CONNECTIONS", 100),  # per worker process
                    "timeout": env.number("REDIS_TIMEOUT", 0.5),  # seconds to wait for one
                },
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    # Without Redis, a cache that every process of this machine shares: a table in the
    # database (`manage.py createcachetable`; `make run` and migrate_with_lock create it).
    # A local-memory cache would give each process its own sessions, counts and limits.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "django_cache"}}

# Sessions
# https://docs.djangoproject.com/en/6.1/topics/http/sessions/
# Django's cached_db (a Redis outage logs nobody out), with cached copies that expire
# within minutes, so a logout Redis missed does not leave a session usable for weeks.
SESSION_ENGINE = "{{ cookiecutter.project_slug }}.ops.sessions"

# Authentication and accounts (django-allauth)
# https://docs.djangoproject.com/en/6.1/topics/auth/
# https://docs.allauth.org/en/latest/account/configuration.html
# A project-owned user model from day one: changing it later is a painful migration.
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "uploads:list"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_ADAPTER = "{{ cookiecutter.project_slug }}.users.adapters.AccountAdapter"
{%- if cookiecutter.username_type == "email" %}
# People sign up and log in with their email address (the username is filled in for them,
# and never shown: messages name the address).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_DISPLAY = attrgetter("email")
{%- else %}
# People choose a username at sign-up and log in with it or with their email address.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
{%- endif %}
ACCOUNT_UNIQUE_EMAIL = True
# "mandatory": no login before the address is confirmed by the link mailed at sign-up.
ACCOUNT_EMAIL_VERIFICATION = env.choice(
    "ACCOUNT_EMAIL_VERIFICATION", "mandatory" if PRODUCTION else "optional", ("mandatory", "optional", "none")
)
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Sessions last SESSION_COOKIE_AGE (two weeks) after every login, as with Django's own
# login: no "Remember me" box.
ACCOUNT_SESSION_REMEMBER = True
# Off for an invite-only site: staff create accounts in the admin; /accounts/signup/ says it is closed.
SIGNUP_OPEN = env.boolean("SIGNUP_OPEN", default=True)
# Logging out takes a POST (the header's button); a GET shows a confirmation page.
ACCOUNT_LOGOUT_ON_GET = False
# Messages and status codes never tell whether an account exists (sign-up and password
# reset answer the same, and mail the address's owner instead).
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# Brute-force limits, counted in the default cache (shared by every process: Redis, or
# the database table without it), per client address and per account. Past a limit the
# answer is 429 (users/adapters.py). Format: "amount/period/per", e.g. "5/5m/key".
ACCOUNT_RATE_LIMITS = {
    # Failed logins: per client address, and per account ("key": the username or address tried).
    "login_failed": env.string("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "signup": env.string("SIGNUP_RATE_LIMIT", "20/m/ip"),
    "reset_password": env.string("PASSWORD_RESET_RATE_LIMIT", "20/m/ip,5/m/key"),
}
# Two-factor authentication: an authenticator app (TOTP) and single-use recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = SITE_NAME

# Internationalisation
# https://docs.djangoproject.com/en/6.1/topics/i18n/
LANGUAGE_CODE = "en-us"
# Django sets the process time zone; logs of gunicorn and the worker follow it.
TIME_ZONE = "{{ cookiecutter.timezone }}"
USE_I18N = True
USE_TZ = True

# Static files
# https://docs.djangoproject.com/en/6.1/howto/static-files/
STATIC_URL = "/static/"
STATIC_ROOT = env.string("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    # Users' files: owner read-write, group read (nginx reads them through the app's
    # group), nobody else.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"file_permissions_mode": 0o640, "directory_permissions_mode": 0o750},
    },
    # Hashed names in production, so the proxy can cache static files for a year.
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Uploaded files
# https://docs.djangoproject.com/en/6.1/topics/files/
{%- if cookiecutter.object_storage == "s3" %}
# In an S3-compatible bucket (django-storages, boto3): AWS S3, MinIO, Cloudflare R2...
# Required in production; in development, without a bucket, files stay in MEDIA_ROOT.
# The bucket is private: objects get no ACL (the bucket's own, private by default), and
# nothing links to them. Downloads go through a view that checks ownership, then hands
# nginx a presigned URL, valid for a minute, with X-Accel-Redirect: nginx fetches the
# object and sends it (the bytes never pass through Python; the browser never sees the
# bucket). docs/object-storage.md
# https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
AWS_STORAGE_BUCKET_NAME = env.string("AWS_STORAGE_BUCKET_NAME", required=PRODUCTION)
# Where the bucket's API is: https://s3.<region>.amazonaws.com, http://minio:9000,
# https://<account>.r2.cloudflarestorage.com. Buckets are addressed by path
# (<endpoint>/<bucket>/<key>), so nginx proxies to this one origin.
AWS_S3_ENDPOINT_URL = env.string("AWS_S3_ENDPOINT_URL", required=bool(AWS_STORAGE_BUCKET_NAME))
if AWS_STORAGE_BUCKET_NAME and AWS_S3_ENDPOINT_URL:
    # Needed by AWS to sign (MinIO and R2 take any); us-east-1 is boto3's own default.
    STORAGES["default"] = object_storage(
        AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, env.string("AWS_S3_REGION_NAME", "us-east-1")
    )
MEDIA_ROOT = env.string("MEDIA_ROOT", str(BASE_DIR / "media"))
# Where nginx fetches objects from (deploy/nginx/templates/); empty: the view streams them.
DOWNLOAD_X_ACCEL_PREFIX = env.string(
    "DOWNLOAD_X_ACCEL_PREFIX", "/_storage/" if PRODUCTION and AWS_STORAGE_BUCKET_NAME else ""
)
{%- else %}
# User files are private: no public URL serves MEDIA_ROOT. Downloads go through a view
# that checks ownership, then (when DOWNLOAD_X_ACCEL_PREFIX is set) hands the file to
# nginx with X-Accel-Redirect to an internal location aliased to MEDIA_ROOT.
MEDIA_ROOT = env.string("MEDIA_ROOT", str(BASE_DIR / "media"))
DOWNLOAD_X_ACCEL_PREFIX = env.string("DOWNLOAD_X_ACCEL_PREFIX", "/_protected/" if PRODUCTION else "")
{%- endif %}

# Uploads app
UPLOAD_MAX_BYTES = env.integer("UPLOAD_MAX_BYTES", 50 * 1024 * 1024)  # bytes, per file; nginx gets the same value
UPLOAD_MAX_FILES = env.integer("UPLOAD_MAX_FILES", 10)  # files per request
# Checked against the type sniffed from the bytes, never the client's claim.
UPLOAD_ALLOWED_TYPES = env.string_list(
    "UPLOAD_ALLOWED_TYPES",
    [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/csv",
        "application/json",
        "application/pdf",
    ],
)
# A job still "processing" after this long is presumed dead (worker killed) and re-queued.
UPLOAD_PROCESSING_TIMEOUT = env.integer("UPLOAD_PROCESSING_TIMEOUT", 300)  # seconds
# A file whose inspection takes longer fails (with that reason) instead of holding the
# worker; keep it below UPLOAD_PROCESSING_TIMEOUT so a live job is never taken over.
UPLOAD_INSPECTION_TIMEOUT = env.number("UPLOAD_INSPECTION_TIMEOUT", 240.0)  # seconds
UPLOAD_MAX_ATTEMPTS = env.integer("UPLOAD_MAX_ATTEMPTS", 5)  # transient failures are retried with backoff
UPLOAD_RATE_LIMIT = env.integer("UPLOAD_RATE_LIMIT", 30)  # upload requests per user and minute
# The task worker touches this file at every sweep (when set): its health check looks at
# the file's age (compose's worker service, Kubernetes' liveness probe).
WORKER_HEARTBEAT_FILE = env.string("WORKER_HEARTBEAT_FILE", "")
# Django refuses more files than this while parsing (TooManyFilesSent).
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES
# Live status: open upload pages get each change as a Server-Sent Event (uploads/live.py).
# A quiet stream sends a keep-alive this often: keep it below nginx's proxy_read_timeout.
LIVE_STATUS_HEARTBEAT = env.number("LIVE_STATUS_HEARTBEAT", 15.0)  # seconds
# A stream then ends and the browser reconnects, resuming after the last event it got.
LIVE_STATUS_MAX_LIFE = env.number("LIVE_STATUS_MAX_LIFE", 3600.0)  # seconds
# A stream that sends no event for this long ends; the page reopens it when needed.
LIVE_STATUS_IDLE_TIMEOUT = env.number("LIVE_STATUS_IDLE_TIMEOUT", 600.0)  # seconds
# Open streams per user in each worker process; more get 429 (and the page polls instead).
LIVE_STATUS_MAX_STREAMS_PER_USER = env.integer("LIVE_STATUS_MAX_STREAMS_PER_USER", 8)

# Background tasks
# https://docs.djangoproject.com/en/6.1/topics/tasks/
# A database queue (django-tasks-db): no extra infrastructure. `manage.py db_worker`
# runs the tasks. Another backend (e.g. django-tasks-rq) is a change here, not in code.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Email
# https://docs.djangoproject.com/en/6.1/topics/email/
# Pages never talk to the mail server: the default mailer puts each message on the task
# queue (ops/mail.py), and the task worker sends it with the "delivery" mailer, retrying
# with backoff, so a slow or dead mail server never slows a page and no message is dropped.
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "webmaster@localhost", required=PRODUCTION)  # users' mail
SERVER_EMAIL = env.string("SERVER_EMAIL", "root@localhost", required=PRODUCTION)  # mail to the site's admins
MAIL_TIMEOUT = env.number("MAIL_TIMEOUT", 10.0)  # seconds, for each connection to the mail server
{%- if cookiecutter.mail_service == "smtp" %}
# smtp+tls://user:password@host:587 (STARTTLS), smtps://user:password@host:465, or
# console:// to print messages in the worker's log (the development default).
_delivery = email_from_url(
    env.string("EMAIL_URL", "console://", required=PRODUCTION), production=PRODUCTION, timeout=MAIL_TIMEOUT
)
{%- else %}
{%- set provider = cookiecutter._mail_providers[cookiecutter.mail_service] %}
# Through {{ provider.name }}'s HTTP API (django-anymail): https://anymail.dev/en/stable/esps/{{ cookiecutter.mail_service }}/
# Without {{ provider.variable }} (development), messages are printed in the worker's log.
{{ provider.variable }} = env.string("{{ provider.variable }}", required=PRODUCTION)
_delivery = (
    {
        "BACKEND": "anymail.backends.{{ cookiecutter.mail_service }}.EmailBackend",
        "OPTIONS": {
            "{{ provider.option }}": {{ provider.variable }},
{%- if cookiecutter.mail_service == "mailgun" %}
            # Mailgun's EU region: https://api.eu.mailgun.net/v3
{%- endif %}
            "api_url": env.string("{{ provider.prefix }}_API_URL", "{{ provider.api_url }}"),
            "requests_timeout": MAIL_TIMEOUT,
        },
    }
    if {{ provider.variable }}
    else {"BACKEND": "{{ cookiecutter.project_slug }}.ops.mail.ConsoleBackend"}
)
{%- endif %}
MAILERS = {
    "default": {"BACKEND": "{{ cookiecutter.project_slug }}.ops.mail.QueuedEmailBackend"},
    "delivery": _delivery,
}
# A message that fails is sent again after MAIL_RETRY_DELAY, then twice as long each time
# (at most an hour apart); after MAIL_MAX_ATTEMPTS it is logged as an error and its task
# stays "failed" in the queue, with the message (admin: Django tasks → DB task results).
MAIL_RETRY_DELAY = env.number("MAIL_RETRY_DELAY", 30.0)  # seconds
MAIL_MAX_ATTEMPTS = env.integer("MAIL_MAX_ATTEMPTS", 10)

# Security
# https://docs.djangoproject.com/en/6.1/ref/middleware/#module-django.middleware.security
# Production defaults pass `manage.py check --deploy --fail-level WARNING`.
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", default=PRODUCTION)
# Links in mail (confirmation, password reset) use the scheme the site is served with.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SECURE_SSL_REDIRECT else "http"
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.boolean("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
X_FRAME_OPTIONS = "DENY"
# request.is_secure() trusts X-Forwarded-Proto. Safe only because nginx overwrites that
# header with the scheme of its own connection (or of a load balancer it is told to
# trust) and gunicorn is reachable only through nginx: a value a client sends never gets
# here. Without such a proxy in front, a client could claim HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None

# Content Security Policy (Django 6's built-in middleware)
# https://docs.djangoproject.com/en/6.1/ref/csp/
# Same-origin resources only; inline scripts and styles need the per-response nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Async view toolkit ({{ cookiecutter.project_slug }}/toolkit/)
# Rate limits count in the default cache: in Redis atomically, across all workers.
# When Redis cannot be reached, requests pass (logged) unless this is off: then they get 503.
RATELIMIT_FAIL_OPEN = env.boolean("RATELIMIT_FAIL_OPEN", default=True)
# One pooled httpx client per worker process: a bound for every outbound call, connect
# included, and for the connections it keeps open.
OUTBOUND_HTTP_TIMEOUT = env.number("OUTBOUND_HTTP_TIMEOUT", 5.0)  # seconds
OUTBOUND_HTTP_MAX_CONNECTIONS = env.integer("OUTBOUND_HTTP_MAX_CONNECTIONS", 20)
# A host that fails this many calls in a row is not called again until the cool-down has
# passed; then one probe call decides whether it is back.
CIRCUIT_BREAKER_FAILURES = env.integer("CIRCUIT_BREAKER_FAILURES", 5)
CIRCUIT_BREAKER_COOLDOWN = env.number("CIRCUIT_BREAKER_COOLDOWN", 30.0)  # seconds
# Change notices (toolkit/broadcast.py): Redis publish/subscribe when REDIS_URL is set.
# Each web process with open streams also checks the database for changes: this often
# without Redis (or while it is unreachable)...
BROADCAST_POLL_INTERVAL = env.number("BROADCAST_POLL_INTERVAL", 0.5)  # seconds
# ...and this often with it, for a notice lost while Redis was away.
BROADCAST_RECHECK_INTERVAL = env.number("BROADCAST_RECHECK_INTERVAL", 30.0)  # seconds
{%- if cookiecutter.include_examples == "yes" %}

# Examples ({{ cookiecutter.project_slug }}/examples/): a link preview and a staff dashboard
# Link previews fetch pages only from these hosts (".example.com" includes subdomains;
# "example.com:8443" a port other than the scheme's), and only from public addresses: a
# server that fetches any URL it is given can be steered at internal services (SSRF).
LINK_PREVIEW_ALLOWED_HOSTS = env.string_list("LINK_PREVIEW_ALLOWED_HOSTS")
# Allow names that resolve to private, loopback or link-local addresses (development).
LINK_PREVIEW_PRIVATE_ADDRESSES = env.boolean("LINK_PREVIEW_PRIVATE_ADDRESSES", default=False)
LINK_PREVIEW_RATE_LIMIT = env.integer("LINK_PREVIEW_RATE_LIMIT", 30)  # requests per minute, per user or IP
# URLs the staff dashboard checks, e.g. the status APIs of the services the site depends on.
DASHBOARD_STATUS_URLS = env.string_list("DASHBOARD_STATUS_URLS")
{%- endif %}

# Logging
# https://docs.djangoproject.com/en/6.1/topics/logging/
# Everything to stdout, each record with the request id nginx assigned (config/logs.py):
# one JSON object per line in production, for log collectors; plain lines in development.
# gunicorn's loggers use the same format.
LOG_LEVEL = env.string("LOG_LEVEL", "INFO")
LOG_FORMAT = env.choice("LOG_FORMAT", "json" if PRODUCTION else "plain", LOG_FORMATS)
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
{%- if cookiecutter.sentry == "yes" %}

# Error reports to Sentry ({{ cookiecutter.project_slug }}/ops/error_tracking.py): off without a DSN.
# Every process that loads the settings reports: web servers, the task worker, commands.
SENTRY_DSN = env.string("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env.string("SENTRY_ENVIRONMENT", DJANGO_ENV)
# The image sets it from its build argument RELEASE; empty: the SDK's own guess, if any.
SENTRY_RELEASE = env.string("SENTRY_RELEASE", "")
# Share of requests traced for performance: 0 (the default) sends errors only.
SENTRY_TRACES_SAMPLE_RATE = env.number("SENTRY_TRACES_SAMPLE_RATE", 0.0)
if SENTRY_DSN:
    from {{ cookiecutter.project_slug }}.ops import error_tracking

    error_tracking.start(
        SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
{%- endif %}

env.raise_if_missing(f"for DJANGO_ENV={DJANGO_ENV}")
