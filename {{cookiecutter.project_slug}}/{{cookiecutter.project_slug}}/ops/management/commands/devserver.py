"""Development: prepare the database, then run the web server and the task worker together.

``make run`` runs this. Both processes reload when Python files change; their output is
prefixed with their name; Ctrl-C (or TERM) stops both, with their own children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
{%- if cookiecutter.metrics == "yes" %}
import tempfile
{%- endif %}
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

STARTUP_TIMEOUT = 60.0  # seconds for the web server to answer its first request
STOP_TIMEOUT = 10.0  # seconds a process gets to stop before it is killed


class Process:
    """A child process in a process group of its own, its output copied line by line with a prefix."""

    def __init__(self, name: str, command: list[str], out: OutputWrapper) -> None:
        self.name = name
        self.popen = subprocess.Popen(  # noqa: S603 - this interpreter, with arguments of our own
            command,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its reloader's children are signalled with it
        )
        self.copier = threading.Thread(target=self._copy, args=(out,), daemon=True)
        self.copier.start()

    def _copy(self, out: OutputWrapper) -> None:
        for line in self.popen.stdout or ():
            out.write(f"{self.name:<6} | {line}")
            out.flush()

    def stop(self) -> None:
        """TERM to the process group (both servers stop gracefully on it); SIGKILL if it lingers."""
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break  # the whole group is gone
            try:
                self.popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # The reloader has exited; make sure none of its children outlives it.
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break
        self.copier.join(timeout=1)


class Command(BaseCommand):
    help = "Development: migrate, then run the web server (uvicorn) and the task worker, both reloading on changes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to serve on (default: %(default)s).")
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT") or 8000), help="Port (default: $PORT or 8000)."
        )
        parser.add_argument("--no-worker", action="store_true", help="Run the web server only.")

    def handle(self, *args: Any, host: str, port: int, no_worker: bool, **options: Any) -> None:
        self.prepare_database()
{%- if cookiecutter.metrics == "yes" %}
        # /metrics adds up the web server's and the worker's files, as in production.
        metrics_dir = tempfile.TemporaryDirectory(prefix="metrics-")
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir.name)
{%- endif %}
        url = f"http://{host}:{port}"
        processes = [
            Process(
                "web",
                [
                    # uvicorn, with open event streams ended on each reload (config/workers.py).
                    *(sys.executable, "-m", "config.workers", "--reload", "--host", host, "--port", str(port)),
                ],
                self.stdout,
            )
        ]
        if not no_worker:
            processes.append(Process("worker", [sys.executable, "manage.py", "run_worker", "--reload"], self.stdout))
        # Ctrl-C raises KeyboardInterrupt; TERM (from a supervisor, `kill`) does the same.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            self.wait_until_serving(url, processes[0])
            self.stdout.write(self.banner(url, worker=not no_worker))
            while True:
                for process in processes:
                    if (status := process.popen.poll()) is not None:
                        raise CommandError(f"{process.name} exited with status {status}; stopping everything.")
                time.sleep(0.2)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            # A second Ctrl-C must not cut the clean-up short: every process group is stopped.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for process in processes:
                process.stop()

    def prepare_database(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        where = f"{connection.vendor} database {connection.settings_dict['NAME']}"
        try:
            executor = MigrationExecutor(connection)
            pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
            call_command("migrate_with_lock", verbosity=0)
        except DatabaseError as error:
            hint = " Unset DATABASE_URL to use SQLite." if connection.vendor != "sqlite" else ""
            raise CommandError(f"Cannot prepare the {where}: {error}.{hint}") from None
        self.stdout.write(f"The {where}: {f'applied {pending} migrations' if pending else 'up to date'}.")

    def wait_until_serving(self, url: str, web: Process) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if web.popen.poll() is not None:
                raise CommandError(f"The web server exited with status {web.popen.returncode}.")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 - our own server
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise CommandError(f"The web server did not answer on {url} within {STARTUP_TIMEOUT:g} s.")

    def banner(self, url: str, *, worker: bool) -> str:
        has_account = get_user_model()._default_manager.exists()
        first_step = (
            f"Sign in at {url}/accounts/login/ or sign up at {url}/accounts/signup/"
            if has_account
            else f"No account yet: sign up at {url}/accounts/signup/ (its mail is printed here),"
            " or run `make superuser` in another terminal for an admin"
        )
        running = "The web server and the task worker run here" if worker else "The web server runs here"
        lines = [
            f"{settings.SITE_NAME} is running at {url}/",
            f"Admin: {url}/admin/   Uploads: {url}/uploads/",
            first_step,
            f"{running}. Python edits reload; templates, CSS and JS are read at every request.",
            f"Ctrl-C stops {'both' if worker else 'it'}.",
        ]
        width = max(map(len, lines)) + 4
        rule = "─" * width
        return "\n".join(["", rule, *(f"  {line}" for line in lines), rule, ""])
