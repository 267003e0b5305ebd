"""How uvicorn runs the app: in gunicorn's workers (production), or alone (``make run``).

``deploy/gunicorn.conf.py`` names the worker: ``worker_class = "config.workers.UvicornWorker"``.
``python -m config.workers --reload`` is the development server ``manage.py devserver`` runs.
Both use ``DrainingServer``: on a reload or stop, open event streams end first, so the
server does not wait for them until it is killed.
https://docs.djangoproject.com/en/6.1/howto/deployment/asgi/uvicorn/
"""

from __future__ import annotations

import argparse
{%- if cookiecutter.metrics == "yes" %}
import asyncio
{%- endif %}
import socket
import sys
from typing import Any, ClassVar

import uvicorn
from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]
from uvicorn.supervisors import ChangeReload
from uvicorn_worker import UvicornWorker as BaseUvicornWorker

APPLICATION = "config.asgi:application"


class DrainingServer(uvicorn.Server):
{%- if cookiecutter.sentry == "yes" or cookiecutter.metrics == "yes" %}
    """uvicorn's server, which tells the app's open event streams to end before it waits for connections to close.

    Once the loop runs, it also:
{%- if cookiecutter.sentry == "yes" %}
    - starts Sentry's asyncio integration (when Sentry is on);
{%- endif %}
{%- if cookiecutter.metrics == "yes" %}
    - samples the database pool for the metrics.
{%- endif %}
    """
{%- else %}
    """uvicorn's server, which tells the app's open event streams to end before it waits for connections to close."""
{%- endif %}
{%- if cookiecutter.metrics == "yes" %}

    pool_sampler: asyncio.Task[None] | None = None
{%- endif %}

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Imported here: the toolkit needs Django's app registry, ready by now.
        from {{ cookiecutter.project_slug }}.toolkit.event_stream import drain

        drain()
{%- if cookiecutter.metrics == "yes" %}
        if self.pool_sampler is not None:
            self.pool_sampler.cancel()
{%- endif %}
        await super().shutdown(sockets)
{%- if cookiecutter.sentry == "yes" or cookiecutter.metrics == "yes" %}

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # Here, not at import: these need the event loop, which runs now.
{%- if cookiecutter.sentry == "yes" %}
        from {{ cookiecutter.project_slug }}.ops.error_tracking import watch_event_loop

        # Sentry's asyncio integration patches the running loop.
        watch_event_loop()
{%- endif %}
{%- if cookiecutter.metrics == "yes" %}
        from django.conf import settings

        if settings.METRICS_ENABLED:
            from {{ cookiecutter.project_slug }}.ops.metrics import sample_database_pool

            self.pool_sampler = asyncio.get_running_loop().create_task(sample_database_pool())
{%- endif %}
        await super().startup(sockets)
{%- endif %}


class UvicornWorker(BaseUvicornWorker):  # type: ignore[misc]  # uvicorn-worker ships no type hints
    """uvicorn-worker's worker, with the protocol choices made explicit, lifespan off, and the draining server."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        # The fast implementations, required rather than "auto", so a missing
        # dependency fails at start instead of silently falling back.
        "loop": "uvloop",
        "http": "httptools",
        # Django has no lifespan support: "auto" would try it on every worker start
        # and log that it is unsupported.
        "lifespan": "off",
        # Django serves HTTP only; a WebSocket upgrade is answered as plain HTTP.
        "ws": "none",
    }

    async def _serve(self) -> None:
        # uvicorn-worker 0.4.0's _serve(), with DrainingServer for its Server.
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


def main(argv: list[str] | None = None) -> None:
    """The development server: uvicorn with the draining server, reloading on changes with --reload."""
    parser = argparse.ArgumentParser(prog="python -m config.workers", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--reload", action="store_true", help="Restart when a Python file changes.")
    parser.add_argument("--log-level", default="info")
    options = parser.parse_args(argv)
    config = uvicorn.Config(
        APPLICATION,
        host=options.host,
        port=options.port,
        reload=options.reload,
        lifespan="off",
        log_level=options.log_level,
    )
    server = DrainingServer(config)
    # What uvicorn.run() does, with this server.
    if config.should_reload:
        ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()
    else:
        server.run()
        if not server.started:
            sys.exit(3)  # uvicorn's STARTUP_FAILURE


if __name__ == "__main__":
    main()
