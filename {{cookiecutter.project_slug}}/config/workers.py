"""The gunicorn worker class: uvicorn (uvloop + httptools) running Django's ASGI app.

``deploy/gunicorn.conf.py`` names it: ``worker_class = "config.workers.UvicornWorker"``.
https://docs.djangoproject.com/en/6.1/howto/deployment/asgi/uvicorn/
"""

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker as BaseUvicornWorker


class UvicornWorker(BaseUvicornWorker):  # type: ignore[misc]  # uvicorn-worker ships no type hints
    """uvicorn-worker's worker, with the protocol choices made explicit and lifespan off."""

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
