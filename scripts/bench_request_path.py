"""Print server CPU per request and throughput: stock Django's ASGI path against the lean one.

Bakes the default project, serves it twice with gunicorn (2 uvicorn workers each) on
127.0.0.1, once with ASGI_FAST_PATH=0 (stock Django) and once with the default (fast
path), and drives both with wrk, alternating between them, for three pages:

- /healthz: the liveness probe (answered by the project's first middleware);
- /accounts/login/: a template, a CSRF cookie and the whole middleware stack;
- /bench/users/: an async view reading ten users from the database. It is bench-only:
  this script adds it to the baked copy (bench_urls.py), not to the template.

Server CPU is user+system time of the gunicorn master and workers (/proc), divided by
the requests wrk completed. With DATABASE_URL and REDIS_URL set, the project runs in
production mode on PostgreSQL (a fresh database, dropped afterwards) and Redis;
otherwise in development mode with DEBUG off, on SQLite and the local-memory cache.

`--compare sentry` or `--compare metrics` measures the cost of an option instead: the
fast path with the option off (the first variant) against the same with it on, in a
project baked with it. With `sentry`, SENTRY_DSN names a local endpoint that accepts
events (none is sent: the pages do not fail); with `metrics`, every process writes its
metrics in a fresh PROMETHEUS_MULTIPROC_DIR, as in production. The path comparison bakes
without metrics, so that it measures the path alone.

The numbers are noisy on a small shared machine: rounds alternate the variants and the
table reports medians. Run: `make bench-request-path` (ROUNDS=, DURATION=, CONNECTIONS=,
COMPARE=).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.http import free_port

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"healthz": "/healthz", "login": "/accounts/login/", "db read": "/bench/users/"}
# What is compared: variant name -> the environment it adds; and the answers to bake with.
COMPARISONS: dict[str, dict[str, dict[str, str]]] = {
    "path": {"stock": {"ASGI_FAST_PATH": "0"}, "fast": {"ASGI_FAST_PATH": "1"}},
    # SENTRY_DSN is filled in with a local endpoint's (sentry_endpoint()).
    "sentry": {"fast": {}, "sentry": {"SENTRY_DSN": ""}},
    # PROMETHEUS_MULTIPROC_DIR is filled in with a fresh directory, as deploy/entrypoint.sh does.
    "metrics": {"off": {"METRICS_ENABLED": "0"}, "metrics": {"METRICS_ENABLED": "1", "PROMETHEUS_MULTIPROC_DIR": ""}},
}
BAKE_ANSWERS = {"path": ["metrics=no"], "sentry": ["sentry=yes", "metrics=no"], "metrics": []}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARMUP = 2  # seconds of load before each server's first measurement, per page

BENCH_URLS = '''"""Bench-only URLs: the project's, plus a page that reads the database."""

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


async def users(request: HttpRequest) -> JsonResponse:
    names = [user.get_username() async for user in get_user_model().objects.order_by("pk")[:10]]
    return JsonResponse({"users": names})


urlpatterns = [*project_urlpatterns, path("bench/users/", users)]
'''
BENCH_SETTINGS = 'from config.settings import *  # noqa: F403\n\nROOT_URLCONF = "bench_urls"\n'
CREATE_USERS = (
    "from django.contrib.auth import get_user_model; User = get_user_model(); "
    "[User.objects.get_or_create(username=f'user{n}') for n in range(10)]"
)


@dataclass
class Run:
    requests_per_second: float
    cpu_ms_per_request: float
    errors: int


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        pids = [self.process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / CLOCK_TICKS


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wrk(url: str, seconds: int, connections: int) -> tuple[int, float, dict[str, int]]:
    """Requests completed, requests per second, and errors by kind (none if all went well).

    A 10 s timeout: on a small shared machine a slow answer is not a failed one.
    """
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    completed = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if completed is None or rate is None:
        sys.exit(f"unexpected wrk output:\n{output}")
    errors = {kind: int(n) for kind, n in re.findall(r"(connect|read|write|timeout) (\d+)", output) if n != "0"}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors["non-2xx/3xx"] = int(non_2xx.group(1))
    return int(completed.group(1)), float(rate.group(1)), errors


def measure(server: Server, page: str, seconds: int, connections: int) -> Run:
    before = server.cpu_seconds()
    completed, rate, errors = wrk(server.url + PAGES[page], seconds, connections)
    cpu = server.cpu_seconds() - before
    run_ = Run(rate, 1000 * cpu / max(completed, 1), sum(errors.values()))
    server.runs.setdefault(page, []).append(run_)
    print(
        f"  {page:8} {server.name:5} {rate:8.0f} req/s  {run_.cpu_ms_per_request:6.3f} ms CPU/req  "
        f"errors: {errors or 'none'}",
        flush=True,
    )
    return run_


def sentry_endpoint() -> tuple[str, subprocess.Popen[bytes]]:
    """A DSN naming a local HTTP server that accepts whatever the SDK sends."""
    port = free_port()
    accept = (
        "import http.server as h\n"
        "class A(h.BaseHTTPRequestHandler):\n"
        "    def do_POST(self):\n"
        "        self.rfile.read(int(self.headers['Content-Length'])); self.send_response(200); self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        f"h.ThreadingHTTPServer(('127.0.0.1', {port}), A).serve_forever()\n"
    )
    return f"http://bench@127.0.0.1:{port}/1", subprocess.Popen([sys.executable, "-c", accept])


def start(project: Path, name: str, env: dict[str, str], variant: dict[str, str]) -> Server:
    port = free_port()
    log = (project / f"gunicorn-{name}.log").open("wb")
    process = subprocess.Popen(
        # The project's own production configuration; only the environment differs.
        [str(project / ".venv/bin/gunicorn"), "--config", "deploy/gunicorn.conf.py"],
        cwd=project,
        env={
            **env,
            **variant,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            # Recycling a worker mid-run would drop requests and the dead worker's CPU time.
            "GUNICORN_MAX_REQUESTS": "0",
            "LOG_LEVEL": "warning",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(name, process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while len(server.pids()) < 3 or not answers(server.url + "/healthz"):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"gunicorn ({name}) did not start; see {log.name}")
        time.sleep(0.2)
    return server


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server on 127.0.0.1
            return bool(response.status == HTTPStatus.OK)
    except OSError:
        return False


def environment(project: Path, services: bool) -> tuple[dict[str, str], str | None]:
    """The servers' environment, and the database URL to drop afterwards (None: SQLite)."""
    base = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE"}}
    base |= {"DJANGO_SETTINGS_MODULE": "bench_settings", "LOG_LEVEL": "WARNING"}
    if not services:
        for name in ("DATABASE_URL", "REDIS_URL"):
            base.pop(name, None)
        return base | {"DJANGO_ENV": "development", "DEBUG": "0"}, None
    database_url = f"{os.environ['DATABASE_URL'].rpartition('/')[0]}/bench{uuid.uuid4().hex[:8]}"
    return base | {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        # Plain HTTP on the loopback: no redirect to HTTPS.
        "SECURE_SSL_REDIRECT": "0",
        # Production requires mail settings; no page of the benchmark sends mail.
        "EMAIL_URL": "console://",
        "DEFAULT_FROM_EMAIL": "noreply@example.com",
        "SERVER_EMAIL": "server@example.com",
        "STATIC_ROOT": str(project / "staticfiles"),
    }, database_url


def psql(project: Path, env: dict[str, str], database_url: str, statement: str) -> None:
    script = (
        "import sys, psycopg; base, _, name = sys.argv[1].rpartition('/'); "
        "c = psycopg.connect(base + '/postgres', autocommit=True); c.execute(sys.argv[2].format(name=name))"
    )
    run([str(project / ".venv/bin/python"), "-c", script, database_url, statement], project, env)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} CPUs ({cpu}), load average {os.getloadavg()[0]:.2f} at start"


def report(servers: dict[str, Server], args: argparse.Namespace, mode: str, versions: str, host: str) -> None:
    first = next(iter(servers))
    print(f"\n{mode}; {versions}")
    print(f"gunicorn -c deploy/gunicorn.conf.py (2 uvicorn workers); wrk -t2 -c{args.connections} -d{args.duration}s,")
    print(f"{args.rounds} rounds alternating {' and '.join(servers)}; medians. {host}.\n")
    print(f"| page | variant | req/s (median) | CPU ms/req per round | CPU ms/req (median) | vs {first} | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for page in PAGES:
        stock_cpu = statistics.median(run.cpu_ms_per_request for run in servers[first].runs[page])
        for name, server in servers.items():
            runs = server.runs[page]
            cpu = statistics.median(run.cpu_ms_per_request for run in runs)
            rate = statistics.median(run.requests_per_second for run in runs)
            each = " / ".join(f"{run.cpu_ms_per_request:.3f}" for run in runs)
            errors = sum(run.errors for run in runs)
            print(f"| {page} | {name} | {rate:.0f} | {each} | {cpu:.3f} | {cpu / stock_cpu:.2f}x | {errors} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    parser.add_argument("--duration", type=int, default=int(os.environ.get("DURATION", 10)), help="seconds per run")
    parser.add_argument("--connections", type=int, default=int(os.environ.get("CONNECTIONS", 32)))
    parser.add_argument("--compare", choices=COMPARISONS, default=os.environ.get("COMPARE") or "path")
    args = parser.parse_args()
    variants = COMPARISONS[args.compare]
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    services = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    host = machine()

    with tempfile.TemporaryDirectory() as tmp:
        clean = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL"}}
        run(["cookiecutter", "--no-input", "--output-dir", tmp, str(ROOT), *BAKE_ANSWERS[args.compare]], ROOT, clean)
        project = Path(tmp) / "my_async_project"
        run(["uv", "sync", "--locked", "--quiet"], project, clean)
        (project / "bench_urls.py").write_text(BENCH_URLS)
        (project / "bench_settings.py").write_text(BENCH_SETTINGS)
        env, database_url = environment(project, services)
        manage = [str(project / ".venv/bin/python"), "manage.py"]
        versions = run(
            [
                str(project / ".venv/bin/python"),
                "-c",
                "import django, asgiref, gunicorn, uvicorn, sys; "
                "print(f'Python {sys.version.split()[0]}, Django {django.__version__}, asgiref {asgiref.__version__}, "
                "gunicorn {gunicorn.__version__}, uvicorn {uvicorn.__version__}')",
            ],
            project,
            env,
        ).strip()
        if database_url:
            psql(project, env, database_url, 'CREATE DATABASE "{name}"')
            run([*manage, "collectstatic", "--no-input"], project, env)
        servers: dict[str, Server] = {}
        endpoint = None
        if args.compare == "sentry":
            variants["sentry"]["SENTRY_DSN"], endpoint = sentry_endpoint()
        if args.compare == "metrics":
            variants["metrics"]["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-", dir=tmp)
        try:
            run([*manage, "migrate", "--no-input"], project, env)
            run([*manage, "shell", "--no-imports", "-c", CREATE_USERS], project, env)
            mode = (
                "production mode, PostgreSQL + Redis"
                if services
                else "development mode (DEBUG=0), SQLite + local memory"
            )
            print(f"Serving the baked project: {mode}", flush=True)
            servers = {name: start(project, name, env, variant) for name, variant in variants.items()}
            for server in servers.values():
                for path in PAGES.values():
                    wrk(server.url + path, WARMUP, args.connections)
            for round_ in range(args.rounds):
                print(f"round {round_ + 1}/{args.rounds}", flush=True)
                order = list(servers.values()) if round_ % 2 == 0 else list(reversed(servers.values()))
                for page in PAGES:
                    for server in order:
                        measure(server, page, args.duration, args.connections)
            report(servers, args, mode, versions, host)
            for name in servers:
                log = (project / f"gunicorn-{name}.log").read_text(errors="replace").strip()
                print(f"\ngunicorn ({name}) log: {log[-3000:] if log else 'empty'}")
        finally:
            for server in servers.values():
                server.process.terminate()  # gunicorn's graceful stop, workers included
                server.process.wait(timeout=60)
            if database_url:
                psql(project, env, database_url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if endpoint is not None:
                endpoint.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
