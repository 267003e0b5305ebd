"""A gunicorn worker's metrics files, folded into one when it exits (ops/metrics_files.py, gunicorn's child_exit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.project_slug }}.ops.metrics_files import LOCK_FILE, retire_process

# What a worker process leaves behind: a counter, a histogram, a live gauge and a "max" gauge.
WORKER = """
import os
from prometheus_client import Counter, Gauge, Histogram
Counter("jobs", "Jobs.", ["outcome"]).labels("ok").inc({jobs})
Histogram("latency_seconds", "Latency.").observe(0.25)
Gauge("in_progress", "In progress.", multiprocess_mode="livesum").set(1)
Gauge("heartbeat", "Heartbeat.", multiprocess_mode="max").set(5)
print(os.getpid())
"""


def scrape(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_retired_workers_counts_stay_and_its_files_go(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker(jobs: int) -> int:
        """A process that counts, then exits; its pid."""
        run = subprocess.run([sys.executable, "-c", WORKER.format(jobs=jobs)], env=env, capture_output=True, check=True)
        return int(run.stdout)

    pids = [worker(2), worker(3)]
    before = scrape(tmp_path)
    assert before[("jobs_total", (("outcome", "ok"),))] == 5

    for pid in pids:
        retire_process(pid, str(tmp_path))

    after = scrape(tmp_path)
    assert after[("jobs_total", (("outcome", "ok"),))] == 5
    assert after[("latency_seconds_count", ())] == 2
    assert after[("latency_seconds_sum", ())] == 0.5
    assert after[("latency_seconds_bucket", (("le", "0.25"),))] == 2
    assert ("in_progress", ()) not in after  # live gauges end with their process
    assert not any(name == "heartbeat" for name, _ in after)
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == sorted(["counter_retired.db", "histogram_retired.db", LOCK_FILE])

    # A third worker retires later: added to the same files.
    retire_process(worker(4), str(tmp_path))
    assert scrape(tmp_path)[("jobs_total", (("outcome", "ok"),))] == 9
