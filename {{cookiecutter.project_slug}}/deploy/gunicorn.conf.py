"""Gunicorn settings for production: gunicorn --config deploy/gunicorn.conf.py

Gunicorn manages the processes; each worker runs Django's ASGI application on uvicorn
(config/workers.py). Every value below can be overridden by the environment variable
it reads, listed in .env.example. Setting names and defaults:
https://gunicorn.org/reference/settings/
"""

import os
{%- if cookiecutter.metrics == "yes" %}
from typing import Any
{%- endif %}

from config.env import load_dotenv
from config.logs import logging_config

load_dotenv()  # the project's .env, if any; variables already set win


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value else default


# The application; gunicorn calls the setting wsgi_app whatever the protocol.
wsgi_app = "config.asgi:application"

# Where nginx reaches us. Loopback by default; in a container, 0.0.0.0:8000. On a VM a
# unix socket works too ("unix:/run/app/gunicorn.sock"; nginx: NGINX_UPSTREAM=unix:...).
bind = [os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000"]

# uvicorn workers: uvloop + httptools, lifespan off. GUNICORN_WORKER_CLASS=asgi switches
# to gunicorn's own ASGI worker (stable since gunicorn 25.1).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or "config.workers.UvicornWorker"
# Django has no lifespan support; only the native asgi worker reads this.
asgi_lifespan = "off"

# Each async worker serves many requests at once on its event loop: one per CPU core
# is enough (Python 3.13+ counts only the cores this process may use). Each holds its own database pool, so
# workers * DATABASE_POOL_MAX_SIZE must stay below PostgreSQL's max_connections.
workers = _int("GUNICORN_WORKERS", getattr(os, "process_cpu_count", os.cpu_count)() or 1)

# A worker whose heartbeat stops for this long is killed and replaced. For async
# workers this is not a request time limit: nginx's proxy_read_timeout is.
timeout = _int("GUNICORN_TIMEOUT", 30)  # seconds
# After TERM, in-flight requests get this long to finish. Keep supervisord's
# stopwaitsecs above it: deploy/entrypoint.sh derives it from this variable.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)  # seconds
# Idle keep-alive connections from nginx stay open this long (default 2 s). Above
# nginx's upstream keepalive_timeout (60 s), so nginx closes idle connections first
# and never sends a request on one gunicorn has just closed.
keepalive = _int("GUNICORN_KEEPALIVE", 75)  # seconds

# Replace each worker after about this many requests, so a slow leak cannot grow
# forever; the jitter keeps workers from restarting at the same moment. 0 turns it off.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# Only nginx may set X-Forwarded-For/-Proto: the addresses it connects from. In compose
# that is the container network (e.g. 172.16.0.0/12), or "*" when nothing else can
# reach gunicorn's port.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"

# The worker heartbeat file lives on tmpfs: on a disk-backed /tmp, the timestamp update
# gunicorn makes on it for each heartbeat can block a worker.
SHARED_MEMORY = "/dev/shm"  # noqa: S108 - a tmpfs is the point; gunicorn makes a private file there
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None)

# Gunicorn 25.1+ opens a control socket by default, at a per-user path where two
# instances collide. Off, unless GUNICORN_CONTROL_SOCKET names a path for gunicornc.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# Logs: one line per request (uvicorn's access log) and gunicorn's own messages, all to
# stdout in the project's format: JSON lines with the request id unless LOG_FORMAT says
# plain (gunicorn is the production server; settings default to plain in development).
accesslog = "-"
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
_handler = {"handlers": ["stdout"], "propagate": False}
logconfig_dict = logging_config(
    os.environ.get("LOG_FORMAT") or "json",
    loglevel,
    loggers={"gunicorn.error": {**_handler, "level": loglevel.upper()}, "gunicorn.access": _handler},
)
{%- if cookiecutter.metrics == "yes" %}


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its counts are kept in one file, its own files go (ops/metrics_files.py)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from {{ cookiecutter.project_slug }}.ops.metrics_files import retire_process

        try:
            retire_process(worker.pid, os.environ["PROMETHEUS_MULTIPROC_DIR"])
        except Exception:  # gunicorn calls this hook unguarded: an error would stop the master
            server.log.exception("could not fold the metrics files of worker %s", worker.pid)
{%- endif %}
