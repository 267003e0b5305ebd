"""The metrics files every process writes (prometheus-client multiprocess mode): folding a dead worker's, reading them.

gunicorn replaces its workers (``max_requests``, a crash); without ``retire_process()``
the directory would gain three files per replacement and every scrape would read them
all, slower for as long as the container runs. In gunicorn's master (its child_exit
hook) a dead worker's counters and histograms are added to one ``*_retired.db`` file, so
totals never go down, and its files are removed; its live gauges stop counting.

Folding and reading take a lock on the directory (``locked()``): a scrape never sees a
file vanish under it, nor a dead worker's counts twice. Django is not loaded in
gunicorn's master: this module imports only prometheus-client and the standard library.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

# The kinds whose values are sums over processes, and so can be added up.
SUMMED = ("counter", "histogram")
LOCK_FILE = "folding.lock"  # not *.db: the collector reads only those


@contextmanager
def locked(directory: str, *, exclusive: bool) -> Iterator[None]:
    """Hold the directory's lock: exclusive to fold files, shared to read them."""
    with open(Path(directory, LOCK_FILE), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield  # closing the file releases the lock


def retire_process(pid: int, directory: str) -> None:
    with locked(directory, exclusive=True):
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]  # untyped in prometheus-client
        for kind in SUMMED:
            dead = Path(directory, f"{kind}_{pid}.db")
            if not dead.exists():
                continue
            retired = MmapedDict(str(Path(directory, f"{kind}_retired.db")))  # type: ignore[no-untyped-call]
            try:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(dead)):  # type: ignore[no-untyped-call]
                    total, _ = retired.read_value(key)  # type: ignore[no-untyped-call]
                    retired.write_value(key, total + value, timestamp)  # type: ignore[no-untyped-call]
            finally:
                retired.close()  # type: ignore[no-untyped-call]
            dead.unlink()
        # Its other gauges (the heartbeat's "max", 0 in a web worker) end with it.
        for left in Path(directory).glob(f"gauge_*_{pid}.db"):
            left.unlink()
