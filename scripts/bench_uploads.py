"""Measure what receiving uploads costs the server (numbers printed, nothing asserted).

1. Memory: the growth of the uvicorn process's peak RSS (VmHWM) while it receives
   one 100 MiB upload. Target: at most 30 MiB.
2. Event loop: p99 latency of /healthz while four 50 MiB uploads are in flight.
   Target: at most 100 ms (the loop is not blocked by parsing or saving).

The default project is baked and served by one uvicorn process on 127.0.0.1, on
SQLite (or DATABASE_URL / REDIS_URL when set). Run: `make bench-uploads`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.baking import bake, project_env
from tests.support.http import free_port, http_client, log_in

MIB = 1024 * 1024
USERNAME, PASSWORD = "bench", "bench-password-1"


def text_body(size: int) -> Iterator[bytes]:
    """`size` bytes of CSV, produced in 1 MiB pieces so the client never holds it whole."""
    line = b"0123456789,abcdefghij,klmnopqrstuvwxyz\n"
    piece = line * (MIB // len(line)) + b"x" * (MIB % len(line))
    for _ in range(size // MIB):
        yield piece


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def multipart(size: int, boundary: str = "benchboundary") -> tuple[Iterator[bytes], dict[str, str]]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from text_body(size)
        yield tail

    length = len(head) + size + len(tail)
    return body(), {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)}


def login(url: str) -> httpx.Client:
    client = http_client(url, timeout=300)
    log_in(client, USERNAME, PASSWORD)
    return client


def upload(client: httpx.Client, size: int) -> int:
    body, headers = multipart(size)
    headers["X-CSRFToken"] = client.cookies["csrftoken"]
    return client.post("/api/uploads/", content=body, headers=headers).status_code


def main() -> int:
    services = {name: os.environ[name] for name in ("DATABASE_URL", "REDIS_URL") if os.environ.get(name)}
    with tempfile.TemporaryDirectory() as tmp:
        project = bake(Path(tmp))
        env = project_env(
            **services,
            UPLOAD_MAX_BYTES=str(200 * MIB),
            MEDIA_ROOT=f"{tmp}/media",
            DJANGO_SUPERUSER_USERNAME=USERNAME,
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        manage = ["uv", "run", "--locked", "python", "manage.py"]
        subprocess.run(["uv", "sync", "--locked", "-q"], cwd=project, check=True)
        subprocess.run([*manage, "migrate", "-v0"], cwd=project, env=env, check=True)
        subprocess.run(
            [*manage, "createsuperuser", "--no-input", "--email", "b@example.com"],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        python = str(project / ".venv" / "bin" / "python")
        server = subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=project,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(url + "/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            client = login(url)
            upload(client, MIB)  # warm up the upload path
            before = rss_kib(server.pid, "VmRSS")
            status = upload(client, 100 * MIB)
            peak = rss_kib(server.pid, "VmHWM")
            print(
                f"one 100 MiB upload: HTTP {status}; RSS before {before / 1024:.1f} MiB, "
                f"peak {peak / 1024:.1f} MiB, growth {(peak - before) / 1024:.1f} MiB (target <= 30)"
            )

            statuses: list[int] = []
            uploaders = [
                threading.Thread(target=lambda: statuses.append(upload(login(url), 50 * MIB))) for _ in range(4)
            ]
            latencies = []
            for thread in uploaders:
                thread.start()
            with httpx.Client(base_url=url) as probe:
                while any(thread.is_alive() for thread in uploaders):
                    start = time.perf_counter()
                    probe.get("/healthz")
                    latencies.append((time.perf_counter() - start) * 1000)
                    time.sleep(0.005)
            for thread in uploaders:
                thread.join()
            p99 = statistics.quantiles(latencies, n=100)[98]
            print(
                f"/healthz during four 50 MiB uploads (HTTP {sorted(statuses)}): {len(latencies)} requests, "
                f"median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms "
                "(target p99 <= 100)"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
