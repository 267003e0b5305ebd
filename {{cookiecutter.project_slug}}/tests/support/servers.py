"""Real services the toolkit tests start themselves: a private Redis and a small upstream web site."""

from __future__ import annotations

import subprocess
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis


def redis_cache_config(url: str) -> dict[str, object]:
    """CACHES["default"] as config/settings.py builds it for REDIS_URL (test_settings checks that shape)."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
            "CONNECTION_POOL_KWARGS": {"max_connections": 100, "timeout": 0.5},
        },
    }


class RedisServer:
    """A redis-server of our own on a free 127.0.0.1 port, so tests may stop it (never the shared one)."""

    def __init__(self, binary: str, directory: Path, port: int) -> None:
        self.binary = binary
        self.directory = directory
        self.port = port
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if not self.running or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @contextmanager
    def down_with_data_kept(self) -> Iterator[None]:
        """Redis goes away and comes back with its data, as one that persists to disk does.

        (A redis-server that only stops answering, SIGSTOP, still runs the commands a client
        sent meanwhile once it resumes: no command is lost that way.)
        """
        with redis.Redis.from_url(self.url) as client:
            client.save()
        self.stop()
        try:
            yield
        finally:
            try:
                self.start()  # loads the snapshot
            finally:
                (self.directory / "dump.rdb").unlink(missing_ok=True)  # later restarts start empty again

    def flush(self) -> None:
        with redis.Redis.from_url(self.url) as client:
            client.flushall()

    def keys(self) -> list[bytes]:
        with redis.Redis.from_url(self.url) as client:
            return list(client.keys("*"))

    def get(self, key: bytes) -> bytes | None:
        with redis.Redis.from_url(self.url) as client:
            value: bytes | None = client.get(key)
            return value

    def ttl(self, key: bytes) -> int:
        with redis.Redis.from_url(self.url) as client:
            return int(client.ttl(key))

    def _answers(self) -> bool:
        try:
            with redis.Redis.from_url(self.url, socket_connect_timeout=0.2) as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False


PAGE = b"<!doctype html><html><head><title>\n  Fish &amp; chips\n</title></head><body>menu</body></html>"


def gzip_bomb(inflated_mib: int) -> bytes:
    """PAGE, then spaces, gzip-compressed a MiB at a time (never whole in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(PAGE)]
    parts += [compressor.compress(b" " * 1024 * 1024) for _ in range(inflated_mib)]
    return b"".join([*parts, compressor.flush()])


GZIP_BOMB = gzip_bomb(64)  # about 64 KiB


class _UpstreamHandler(BaseHTTPRequestHandler):
    server: UpstreamServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.server.hits[url.path] += 1
        if url.path == "/slow":
            time.sleep(float(parse_qs(url.query).get("seconds", ["2"])[0]))
        if url.path in {"/page", "/slow"}:
            self._answer(HTTPStatus.OK, PAGE)
        elif url.path == "/big":
            # The title, then far more than a client that wants only the head reads.
            self._answer(HTTPStatus.OK, PAGE + b"x" * (4 * 1024 * 1024))
        elif url.path == "/late-title":
            # More than a reader that stops at its cap takes in, then the title.
            self._answer(HTTPStatus.OK, b"<p>" + b"x" * (1024 * 1024) + PAGE)
        elif url.path == "/gzip":
            # Sent compressed although the client asked for identity: 64 MiB once inflated.
            self._answer(HTTPStatus.OK, GZIP_BOMB, **{"Content-Encoding": "gzip"})
        elif url.path == "/text":
            self._answer(HTTPStatus.OK, b"plain", content_type="text/plain")
        elif url.path == "/error":
            self._answer(HTTPStatus.INTERNAL_SERVER_ERROR, b"<title>oops</title>")
        elif url.path == "/redirect":
            self._answer(HTTPStatus.FOUND, b"", Location="/page")
        else:
            self._answer(HTTPStatus.NOT_FOUND, b"<title>not found</title>")

    def _answer(self, status: HTTPStatus, body: bytes, content_type: str = "text/html", **headers: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading after the bytes it wanted

    def log_message(self, format: str, *args: Any) -> None:
        pass


class UpstreamServer(ThreadingHTTPServer):
    """A web site on 127.0.0.1: /page, /slow?seconds=, /big, /late-title, /gzip, /text, /error and /redirect."""

    daemon_threads = True  # a /slow answer still sleeping does not hold up shutdown

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits: Counter[str] = Counter()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=10)
