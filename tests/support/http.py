"""Talk HTTP to a served project as a user would: log in, upload, wait, download."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The generated suite's one PostgreSQL-only test (connection pool statistics) skips on
# the embedded default, naming the reason; nothing else may skip.


def http_client(base_url: str, timeout: float = 30, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """An HTTP client for a served project, behaving as a browser does where Django looks.

    It sends an Origin header with every unsafe request, as browsers do (Django's CSRF
    check over HTTPS requires it, or a Referer). Production cookies are Secure; where a
    test talks plain HTTP to 127.0.0.1 this client sends them anyway, like a browser on
    localhost. ``verify`` trusts a test's own (self-signed) certificate.
    """
    origin = str(httpx.URL(base_url).copy_with(path="/", query=None, fragment=None)).rstrip("/")

    def send_origin(request: httpx.Request) -> None:
        if request.method not in {"GET", "HEAD", "OPTIONS"}:
            request.headers.setdefault("Origin", origin)

    def keep_secure_cookies(response: httpx.Response) -> None:
        for cookie in client.cookies.jar:
            cookie.secure = False

    client = httpx.Client(
        base_url=base_url,
        timeout=timeout,
        verify=verify,
        event_hooks={"request": [send_origin], "response": [keep_secure_cookies]},
    )
    return client


def scraped(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly these labels in a /metrics scrape, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def post_form(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    """Open the form at ``path``, then send ``data`` with its CSRF token, as a browser would."""
    client.get(path).raise_for_status()
    return client.post(path, data={**data, "csrfmiddlewaretoken": client.cookies["csrftoken"]})


def log_in(client: httpx.Client, email: str, password: str) -> None:
    """Log in through the real login form, with the email address (every project accepts it)."""
    response = post_form(client, "/accounts/login/", {"login": email, "password": password})
    assert response.status_code == 302, response.text
    assert "sessionid" in client.cookies


def download_as_attachment(client: httpx.Client, upload: dict[str, object], content: bytes) -> httpx.Response:
    """Download an upload: the same bytes, as an attachment under its name, never sniffed."""
    response = client.get(f"/uploads/{upload['id']}/download/")
    assert response.status_code == 200, response.text
    assert response.content == content
    assert response.headers["content-disposition"] == f'attachment; filename="{upload["original_name"]}"'
    assert response.headers["x-content-type-options"] == "nosniff"
    # In production the app answers with X-Accel-Redirect and nginx sends the file; the
    # header must never reach the client.
    assert "x-accel-redirect" not in response.headers
    return response


def upload_and_wait(client: httpx.Client, name: str, content: bytes, timeout: float = 90) -> dict[str, object]:
    """Upload a file through the API and poll until the worker has finished with it."""
    response = client.post(
        "/api/uploads/", files={"file": (name, content)}, headers={"X-CSRFToken": client.cookies["csrftoken"]}
    )
    assert response.status_code == 201, response.text
    upload: dict[str, object] = response.json()["results"][0]
    deadline = time.monotonic() + timeout
    while upload["status"] not in {"done", "failed"}:
        assert time.monotonic() < deadline, f"upload still {upload['status']} after {timeout}s"
        time.sleep(0.2)
        upload = client.get(f"/api/uploads/{upload['id']}/").json()
    return upload


class EventStream:
    """A Server-Sent Events stream read in a thread of its own, as a browser's EventSource reads it.

    ``frames`` holds each frame (the text between blank lines) with the wall-clock time it
    arrived; ``ended`` is set when the server closes the stream.
    """

    def __init__(self, client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> None:
        self.frames: list[tuple[float, str]] = []
        self.status: int | None = None
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, args=(client, path, headers or {}), daemon=True)
        self._thread.start()

    def _read(self, client: httpx.Client, path: str, headers: dict[str, str]) -> None:
        try:
            timeout = httpx.Timeout(10.0, read=None)  # a quiet stream is not a dead one
            with client.stream(
                "GET", path, headers={"Accept": "text/event-stream", **headers}, timeout=timeout
            ) as response:
                self._response = response
                self.status = response.status_code
                frame: list[str] = []
                for line in response.iter_lines():
                    if line:
                        frame.append(line)
                    elif frame:
                        self.frames.append((time.time(), "\n".join(frame)))
                        frame = []
        except httpx.HTTPError as error:
            self.error = error
        finally:
            self.ended.set()

    def events(self) -> list[tuple[float, dict[str, str]]]:
        """Frames with data (not comments, not retry hints), as their fields."""
        found = []
        for arrived, frame in self.frames:
            fields = dict(line.split(": ", 1) for line in frame.split("\n") if not line.startswith((":", "retry:")))
            if "data" in fields:
                found.append((arrived, fields))
        return found

    def close(self) -> None:
        """Hang up, as a closed tab does: shut the socket down under the reading thread."""
        if self._response is not None and not self.ended.is_set():
            network_stream = self._response.extensions["network_stream"]
            sock: socket.socket = network_stream.get_extra_info("socket")
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)
