"""Print the throughput of a page served from CachedResponseMixin against the same page uncached.

Bakes the default project, adds a page that lists the 50 newest of 200 users (two queries
and a template), and serves it with gunicorn and two uvicorn workers on 127.0.0.1. wrk
loads each variant for ROUND_SECONDS, alternating, ROUNDS times; the medians are printed
as Markdown rows for docs/benchmarks.md, with /healthz (no work at all) as the ceiling.
Uses PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set (a fresh database is
created and dropped), else SQLite and local memory.
Run: `make bench-cache`. Numbers are noisy on a shared machine: compare within one run.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.http import free_port

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3
ROUND_SECONDS = 8
THREADS, CONNECTIONS = 2, 32  # wrk
WORKERS = 2  # gunicorn

BENCH_VIEWS = textwrap.dedent(
    '''
    """Two variants of one page, for scripts/bench_cache.py (not part of the project)."""

    from django.contrib.auth import get_user_model
    from django.template import engines
    from django.template.response import TemplateResponse
    from django.urls import path
    from django.views import View

    from my_async_project.toolkit import CachedResponseMixin

    PAGE = engines["django"].from_string(
        "<h1>{{ count }} users</h1><ul>{% for user in users %}"
        "<li>{{ user.username }} joined {{ user.date_joined|date:'Y-m-d H:i' }}</li>{% endfor %}</ul>"
    )


    class UserPage(View):
        async def get(self, request):
            newest = get_user_model().objects.order_by("-date_joined")[:50]
            users = [user async for user in newest]
            count = await get_user_model().objects.acount()
            return TemplateResponse(request, PAGE, {"users": users, "count": count})


    class CachedUserPage(CachedResponseMixin, UserPage):
        cache_timeout = 300


    urlpatterns = [path("uncached", UserPage.as_view()), path("cached", CachedUserPage.as_view())]
    '''
)
BENCH_SETTINGS = 'from config.settings import *  # noqa: F403\n\nROOT_URLCONF = "bench_views"\n'
CREATE_USERS = (
    "from django.contrib.auth import get_user_model; "
    "get_user_model().objects.bulk_create(get_user_model()(username=f'user{n}') for n in range(200))"
)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def psql(project: Path, env: dict[str, str], database_url: str, statement: str) -> None:
    """Run one statement on the server's `postgres` database, with the project's psycopg."""
    script = "import sys, psycopg; c = psycopg.connect(sys.argv[1], autocommit=True); c.execute(sys.argv[2])"
    base = database_url.rpartition("/")[0]
    run(["uv", "run", "--locked", "python", "-c", script, f"{base}/postgres", statement], project, env)


def wrk(url: str) -> tuple[float, float, float]:
    """Requests per second, median and 99th-percentile latency in milliseconds."""
    out = run(
        ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{ROUND_SECONDS}s", "--latency", url], ROOT, dict(os.environ)
    )
    if re.search(r"Non-2xx or 3xx responses", out):
        raise RuntimeError(f"errors while loading {url}:\n{out}")
    rps = float(re.findall(r"Requests/sec:\s+([\d.]+)", out)[0])

    def percentile(name: str) -> float:
        found = re.findall(rf"^\s+{name}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
        if not found:
            raise RuntimeError(f"no {name} latency in wrk's output:\n{out}")
        value, unit = found[0]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]

    return rps, percentile("50%"), percentile("99%")


def serve(project: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        # The project's own production configuration; only the environment differs.
        ["uv", "run", "--locked", "gunicorn", "--config", "deploy/gunicorn.conf.py"],
        cwd=project,
        env={
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(WORKERS),
            "LOG_LEVEL": "warning",
            # Recycling a worker mid-run would drop requests.
            "GUNICORN_MAX_REQUESTS": "0",
        },
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return server, url
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.2)


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    drop = {"DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update({"DEBUG": "0", "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "bench_settings"})
    services = "SQLite + local memory"
    with tempfile.TemporaryDirectory() as tmp:
        run(["cookiecutter", "--no-input", "--output-dir", tmp, str(ROOT)], ROOT, env)
        project = Path(tmp) / "my_async_project"
        (project / "bench_views.py").write_text(BENCH_VIEWS)
        (project / "bench_settings.py").write_text(BENCH_SETTINGS)
        run(["uv", "sync", "--locked", "-q"], project, env)
        database_url = os.environ.get("DATABASE_URL", "")
        if database_url and os.environ.get("REDIS_URL"):
            name = f"benchcache{uuid.uuid4().hex[:8]}"
            env["DATABASE_URL"] = f"{database_url.rpartition('/')[0]}/{name}"
            env["REDIS_URL"] = os.environ["REDIS_URL"]
            psql(project, env, env["DATABASE_URL"], f'CREATE DATABASE "{name}"')
            services = "PostgreSQL + Redis"
        manage = ["uv", "run", "--locked", "python", "manage.py"]
        run([*manage, "migrate", "--no-input"], project, env)
        run([*manage, "shell", "--no-imports", "-c", CREATE_USERS], project, env)
        server, url = serve(project, env)
        try:
            for variant in ("uncached", "cached"):
                response = httpx.get(f"{url}/{variant}")
                response.raise_for_status()
                assert "200 users" in response.text  # noqa: S101 - a benchmark of a broken page is worthless
            # /healthz does no work at all: the ceiling for this server on this machine.
            results: dict[str, list[tuple[float, float, float]]] = {"uncached": [], "cached": [], "healthz": []}
            for variant in results:  # warm up: pools, caches, the cached copy
                wrk(f"{url}/{variant}")
            for _ in range(ROUNDS):
                for variant, rounds in results.items():
                    rounds.append(wrk(f"{url}/{variant}"))
        finally:
            server.terminate()
            server.wait(timeout=30)
            if services.startswith("PostgreSQL"):
                psql(project, env, env["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{services}; gunicorn -w {WORKERS} uvicorn workers; wrk -t{THREADS} -c{CONNECTIONS}, ", end="")
    print(f"{ROUNDS} alternating rounds of {ROUND_SECONDS}s, medians (min-max of req/s)")
    print("| Page | Requests/s | Latency p50 | Latency p99 |")
    print("| --- | --- | --- | --- |")
    for variant, rounds in results.items():
        rps = [r[0] for r in rounds]
        p50 = statistics.median(r[1] for r in rounds)
        p99 = statistics.median(r[2] for r in rounds)
        throughput = f"{statistics.median(rps):.0f} ({min(rps):.0f}-{max(rps):.0f})"
        print(f"| {variant} | {throughput} | {p50:.1f} ms | {p99:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
