"""``migrate`` and ``createcachetable``, one process at a time: several containers may start together.

On PostgreSQL the first process takes an advisory lock and migrates; the others wait
for the lock, then find nothing left to do. Elsewhere (SQLite) there is no lock.
"""

import time
import zlib
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper

# Advisory lock keys are per database: a constant nothing else in the project uses.
LOCK_KEY = zlib.crc32(b"{{ cookiecutter.project_slug }}:migrate")
POLL_INTERVAL = 0.5  # seconds between attempts to take the lock


def try_lock(cursor: CursorWrapper) -> bool:
    cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
    row = cursor.fetchone()
    return bool(row and row[0])


class Command(BaseCommand):
    help = "Apply migrations while holding a PostgreSQL advisory lock (plain migrate on other databases)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias (default: %(default)s).")
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=600.0,
            help="Seconds to wait for another process's migrations (default: %(default)s).",
        )

    def handle(self, *args: Any, database: str, lock_timeout: float, verbosity: int, **options: Any) -> None:
        connection = connections[database]
        # migrate writes where this command was told to write (call_command(..., stdout=...)).
        migrate = {"database": database, "interactive": False, "verbosity": verbosity, "stdout": options.get("stdout")}
        if connection.vendor != "postgresql":
            self.migrate(migrate)
            return
        # A session-level lock, taken on the connection migrate uses: polled rather than
        # waited for, so the statement timeout never cuts the wait short. If this process
        # dies, PostgreSQL releases the lock with the session.
        with connection.cursor() as cursor:
            deadline = time.monotonic() + lock_timeout
            if not try_lock(cursor):
                self.stdout.write("Another process is applying migrations; waiting for it to finish.")
                while not try_lock(cursor):
                    if time.monotonic() > deadline:
                        raise CommandError(f"The migration lock was still held after {lock_timeout:g} s.")
                    time.sleep(POLL_INTERVAL)
        try:
            self.migrate(migrate)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])

    def migrate(self, options: dict[str, Any]) -> None:
        call_command("migrate", **options)
        # The database cache's table (no Redis), which migrations do not create.
        call_command("createcachetable", database=options["database"], verbosity=options["verbosity"])
