"""The metrics files of a gunicorn worker that exited, folded into one (gunicorn's child_exit hook).

In prometheus-client's multiprocess mode each process writes its own files, and every
scrape reads them all. gunicorn replaces its workers (``max_requests``, a crash), so
without this the directory would gain three files per replacement and scrapes would
slow down for as long as the container runs. Here, in gunicorn's master, a dead worker's
counters and histograms are added to one ``*_retired.db`` file, so totals never go
down, and its files are removed; its live gauges stop counting (``mark_process_dead``).
Django is not loaded in the master: this imports prometheus-client only.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

# The kinds whose values are sums over processes, and so can be added up.
SUMMED = ("counter", "histogram")


def retire_process(pid: int, directory: str) -> None:
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
