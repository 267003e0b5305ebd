"""ASGI entry point, the only one: gunicorn (uvicorn workers) and uvicorn serve ``application``.

ASGI_FAST_PATH (on by default) serves requests through config/fast_path/; off, this is
Django's stock ``get_asgi_application()``.
https://docs.djangoproject.com/en/6.1/howto/deployment/asgi/
"""

import os

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

from config.fast_path.handler import PooledExecutorASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# What django.core.asgi.get_asgi_application() does, with the handler chosen by settings.
django.setup(set_prefix=False)

application = PooledExecutorASGIHandler() if settings.ASGI_FAST_PATH else ASGIHandler()
