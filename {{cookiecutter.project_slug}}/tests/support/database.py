"""What the database connections of the whole process are doing."""

from __future__ import annotations

import gc

from django.db.backends.base.base import BaseDatabaseWrapper


def open_database_connections() -> int:
    """Connections open in this process, in any thread.

    type() rather than isinstance(): isinstance() on a lazy object (request.user) would
    evaluate it, and query the database.
    """
    wrappers = [obj for obj in gc.get_objects() if issubclass(type(obj), BaseDatabaseWrapper)]
    return sum(1 for wrapper in wrappers if wrapper.connection is not None)
