"""ASGI entry point, the only one: gunicorn (uvicorn workers) and uvicorn serve ``application``.

ASGI_FAST_PATH (on by default) serves requests through config/fast_path/; off, this is
Django's stock ``get_asgi_application()``. In development (DJANGO_ENV), static files are
served too, as runserver would; also with DEBUG off, to see the site as production shows
it (error pages included) under `make run`.
https://docs.djangoproject.com/en/6.1/howto/deployment/asgi/
"""

import os
{%- if cookiecutter.sentry == "yes" %}
from typing import Any
{%- endif %}

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

from config.env import load_dotenv
from config.fast_path.handler import PooledExecutorASGIHandler

load_dotenv()  # the project's .env; variables already set win
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# What django.core.asgi.get_asgi_application() does, with the handler chosen by settings.
django.setup(set_prefix=False)

application{% if cookiecutter.sentry == "yes" %}: Any{% endif %} = PooledExecutorASGIHandler() if settings.ASGI_FAST_PATH else ASGIHandler()
{%- if cookiecutter.sentry == "yes" %}
if settings.SENTRY_DSN:
    # Sentry's Django integration wraps ASGIHandler.__call__, which the fast path's own
    # __call__ replaces: wrapped here instead, each request gets a Sentry scope of its own.
    from {{ cookiecutter.project_slug }}.ops.error_tracking import isolated

    application = isolated(application, traced=settings.SENTRY_TRACES_SAMPLE_RATE > 0)
{%- endif %}
if not settings.PRODUCTION:
    # In production nginx serves /static/; uvicorn under `make run` needs Django to.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
