"""Compare gunicorn's worker classes on the baked project: uvicorn-worker against gunicorn's native asgi.

Bakes the default project, then for each worker class starts gunicorn with the
project's deploy/gunicorn.conf.py (one worker, so the load generator has the other
core) and runs wrk against two pages: /healthz (no I/O, middleware only) and / (a
template render). Rounds alternate between the classes to spread out the noise of a
shared machine; the table shows the median requests per second and wrk's p99 latency.
Needs wrk. Run: `make bench-workers`.
"""

from __future__ import annotations

import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER_CLASSES = {"uvicorn-worker": "config.workers.UvicornWorker", "gunicorn asgi": "asgi"}
PATHS = ("/healthz", "/")
ROUNDS = 3
DURATION = "8s"
CONNECTIONS = 32


def wrk(url: str, duration: str = DURATION) -> tuple[float, float]:
    """Requests per second and p99 latency in milliseconds."""
    output = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def serve(project: Path, worker_class: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV"}},
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_WORKER_CLASS": worker_class,
        "GUNICORN_MAX_REQUESTS": "0",
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = [str(project / ".venv/bin/gunicorn"), "--config", "deploy/gunicorn.conf.py"]
    server = subprocess.Popen(gunicorn, cwd=project, env=env, stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"gunicorn ({worker_class}) did not start")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["cookiecutter", "--no-input", "--output-dir", tmp, str(ROOT)], check=True, capture_output=True)
        project = Path(tmp) / "my_async_project"
        subprocess.run(["uv", "sync", "--locked", "-q"], cwd=project, check=True)
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_number in range(ROUNDS):
            for number, (name, worker_class) in enumerate(WORKER_CLASSES.items()):
                port = 18_000 + 10 * round_number + number
                server = serve(project, worker_class, port)
                try:
                    for path in PATHS:
                        wrk(f"http://127.0.0.1:{port}{path}", duration="2s")  # warm-up, discarded
                        results.setdefault((name, path), []).append(wrk(f"http://127.0.0.1:{port}{path}"))
                finally:
                    server.terminate()
                    server.wait()
    print(f"| worker class | path | requests/s (median of {ROUNDS}) | p99 latency |")
    print("| --- | --- | --- | --- |")
    for (name, path), runs in results.items():
        rps = statistics.median(run[0] for run in runs)
        p99 = statistics.median(run[1] for run in runs)
        print(f"| {name} | `{path}` | {rps:,.0f} | {p99:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
