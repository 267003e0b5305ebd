"""Measure what open live-status streams cost (numbers printed, nothing asserted).

1,000 Server-Sent Events streams (/uploads/events/) held open through nginx on ONE gunicorn
worker (uvicorn), on PostgreSQL and Redis, as the production stack runs it
(tests/support/stack.py). Printed:

- the worker's memory growth (RSS) once the streams are open and idle. Target: <= 100 MB;
- its threads and its database connections meanwhile;
- its CPU while the streams are idle (keep-alive comments every 15 s);
- /healthz latency through nginx meanwhile (p50, p99). Target: p99 <= 50 ms;
- for comparison, what 1,000 idle Python threads cost, as a server with a thread per
  request (gunicorn's gthread, a WSGI server) would hold one per open stream.

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL) and nginx, as the stack test does.
Run: `make bench-streams`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.processes import child_pids
from tests.support.stack import Stack, running_stack

STREAMS = 1000
USERS = 200  # streams are spread over users, as in real use: 5 each
IDLE_SECONDS = 45  # three keep-alive rounds
PROBES = 1000  # /healthz requests while the streams are open

# Users and sessions made directly in the database: 200 logins through the form would
# spend a minute hashing passwords.
MAKE_SESSIONS = """
import json
from django.contrib.auth import get_user_model, HASH_SESSION_KEY, SESSION_KEY, BACKEND_SESSION_KEY
from django.utils.module_loading import import_string
from django.conf import settings
store = import_string(settings.SESSION_ENGINE + ".SessionStore")
keys = []
for n in range({users}):
    user = get_user_model().objects.create_user(f"bench-{{n}}")
    session = store()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    keys.append(session.session_key)
print(json.dumps(keys))
"""


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {name} for {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_connections(stack: Stack) -> int:
    script = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()')\n"
        "    print(c.fetchone()[0])\n"
    )
    return int(stack.manage("shell", "--no-imports", "-c", script).strip().splitlines()[-1])


async def hold_streams(url: str, sessions: list[str], opened: asyncio.Event, release: asyncio.Event) -> list[int]:
    """Open STREAMS streams, read them until ``release``; return their HTTP statuses."""
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=STREAMS + 10, max_keepalive_connections=0)

    async def one(client: httpx.AsyncClient, session: str) -> None:
        async with client.stream("GET", "/uploads/events/", cookies={"sessionid": session}) as response:
            statuses.append(response.status_code)
            if len(statuses) == STREAMS:
                opened.set()
            async for _ in response.aiter_bytes():
                if release.is_set():
                    return

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(30, read=None)) as client:
        tasks = [asyncio.create_task(one(client, sessions[n % len(sessions)])) for n in range(STREAMS)]
        await release.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return statuses


def probe_health(url: str) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url) as client:
        for _ in range(PROBES):
            start = time.perf_counter()
            client.get("/healthz").raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def idle_threads_cost(count: int) -> float:
    """MiB of RSS that ``count`` threads waiting on an event add to a fresh Python process."""
    script = (
        "import threading, time, sys\n"
        "def rss(): return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])\n"
        "before = rss(); stop = threading.Event()\n"
        f"threads = [threading.Thread(target=stop.wait) for _ in range({count})]\n"
        "[t.start() for t in threads]; time.sleep(1); print((rss() - before) / 1024); stop.set()\n"
    )
    return float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)


def main() -> int:
    env = {
        "GUNICORN_WORKERS": "1",
        "LIVE_STATUS_MAX_STREAMS_PER_USER": "50",
        "LOG_LEVEL": "WARNING",  # no access line per stream
        "GUNICORN_MAX_REQUESTS": "0",  # the same worker process throughout
    }
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), **env) as stack:
        [worker] = child_pids(stack.gunicorn_master())
        sessions = json.loads(
            stack.manage("shell", "--no-imports", "-c", MAKE_SESSIONS.format(users=USERS)).strip().splitlines()[-1]
        )
        probe_health(stack.url)  # warm up
        rss_before = status_field(worker, "VmRSS")
        threads_before = status_field(worker, "Threads")
        connections_before = database_connections(stack)

        loop = asyncio.new_event_loop()
        opened, release = asyncio.Event(), asyncio.Event()
        result: list[list[int]] = []
        client = threading.Thread(
            target=lambda: result.append(loop.run_until_complete(hold_streams(stack.url, sessions, opened, release)))
        )
        started = time.monotonic()
        client.start()
        while not opened.is_set():
            time.sleep(0.1)
        open_seconds = time.monotonic() - started
        time.sleep(5)  # settle
        rss_open = status_field(worker, "VmRSS")
        threads_open = status_field(worker, "Threads")
        connections_open = database_connections(stack)
        cpu_start = cpu_seconds(worker)
        time.sleep(IDLE_SECONDS)
        idle_cpu = (cpu_seconds(worker) - cpu_start) / IDLE_SECONDS * 100
        latencies = probe_health(stack.url)
        rss_after = status_field(worker, "VmRSS")
        loop.call_soon_threadsafe(release.set)
        client.join(timeout=60)

    statuses = result[0] if result else []
    growth = (max(rss_open, rss_after) - rss_before) / 1024
    p99 = statistics.quantiles(latencies, n=100)[98]
    threads = idle_threads_cost(STREAMS)
    print(f"{len(statuses)} streams opened in {open_seconds:.1f} s, statuses {sorted(set(statuses))}")
    print(
        f"worker RSS {rss_before / 1024:.1f} MiB -> {rss_open / 1024:.1f} MiB open, {rss_after / 1024:.1f} MiB "
        f"after {IDLE_SECONDS} s idle: growth {growth:.1f} MiB, {growth * 1024 / STREAMS:.0f} KiB per stream "
        "(target <= 100 MB)"
    )
    print(
        f"worker threads {threads_before} -> {threads_open}; "
        f"database connections {connections_before} -> {connections_open}"
    )
    print(f"worker CPU while {STREAMS} streams idle: {idle_cpu:.1f}% of a core")
    print(
        f"/healthz through nginx meanwhile: {PROBES} requests, p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(latencies):.1f} ms (target p99 <= 50)"
    )
    print(
        f"for comparison, {STREAMS} idle Python threads (one per stream, as a thread-per-request server holds them): "
        f"{threads:.1f} MiB of RSS, and a server configured for {STREAMS} threads"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
