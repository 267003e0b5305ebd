"""Bake projects from this template and run their tools, for real."""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
CHOICES: dict[str, list[str]] = {
    name: value
    for name, value in json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text()).items()
    if isinstance(value, list) and not name.startswith("_")
}
# Every supported combination of the choice prompts.
COMBINATIONS = [dict(zip(CHOICES, values, strict=True)) for values in itertools.product(*CHOICES.values())]
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")


def combination_id(combination: dict[str, str]) -> str:
    return "-".join(f"{name.split('_')[0]}{value}" for name, value in combination.items())


def bake(output_dir: Path, **context: str) -> Path:
    """Bake the template without prompts; return the project directory."""
    return Path(cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=context, output_dir=str(output_dir)))


def project_env(**overrides: str) -> dict[str, str]:
    """The environment for commands in a baked project.

    Service URLs are never inherited: a run uses PostgreSQL and Redis only when the
    test passes them explicitly. Virtualenv variables are dropped so `uv run` uses the
    project's own .venv.
    """
    drop = {*SERVICE_VARIABLES, "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "DJANGO_SETTINGS_MODULE"}
    # An outer `make` (the template's) must not leak its flags into the project's.
    drop |= {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update(overrides)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command; fail the test with its output if it fails."""
    result = subprocess.run(
        cmd, cwd=cwd, env=env or project_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode} in {cwd}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def installed_project(output_dir: Path, **context: str) -> Path:
    project = bake(output_dir, **context)
    run(["uv", "sync", "--locked", "--quiet"], cwd=project)
    return project


def service_urls() -> dict[str, str]:
    """DATABASE_URL (with a database name of its own) and REDIS_URL for a run against real services.

    Outside CI, a machine without them skips the test and says why; in CI they are required.
    """
    missing = [name for name in SERVICE_VARIABLES if not os.environ.get(name)]
    if missing:
        message = f"{' and '.join(missing)} not set: start PostgreSQL and Redis and export them (see README)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run every test: {message}")
        pytest.skip(message)
    # A database name per run, so runs in parallel never share a test database.
    base, _, _ = os.environ["DATABASE_URL"].rpartition("/")
    return {"DATABASE_URL": f"{base}/t{uuid.uuid4().hex[:12]}", "REDIS_URL": os.environ["REDIS_URL"]}


@contextmanager
def own_database(project: Path, database_url: str) -> Iterator[None]:
    """Create the database DATABASE_URL names, with the baked project's own psycopg; drop it afterwards."""
    base, _, name = database_url.rpartition("/")
    script = "import sys, psycopg; psycopg.connect(sys.argv[1], autocommit=True).execute(sys.argv[2])"
    python = ["uv", "run", "--locked", "python", "-c", script, f"{base}/postgres"]
    run([*python, f'CREATE DATABASE "{name}"'], cwd=project)
    try:
        yield
    finally:
        run([*python, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], cwd=project)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The generated suite's one PostgreSQL-only test (connection pool statistics) skips on
# the embedded default, naming the reason; nothing else may skip.
POSTGRES_ONLY_SKIP = "needs PostgreSQL"


def assert_suite_passed(output: str, *, allowed_skip: str | None = None) -> None:
    """pytest's summary says tests passed and none failed; none skipped, unless for ``allowed_skip``."""
    summaries = re.findall(r"^=+ (.+ in [\d.]+s.*) =+$", output, flags=re.MULTILINE)
    assert summaries, output
    summary = summaries[-1]
    assert re.search(r"\d+ passed", summary), output
    assert "failed" not in summary, output
    skips = re.findall(r"^SKIPPED \[\d+\] (.+)$", output, flags=re.MULTILINE)
    assert all(allowed_skip and allowed_skip in reason for reason in skips), output
    if allowed_skip is None:
        assert "skipped" not in summary, output


def http_client(base_url: str, timeout: float = 30) -> httpx.Client:
    """An HTTP client for a served project.

    Production cookies are Secure, and the tests talk plain HTTP to 127.0.0.1: like a
    browser on localhost, this client sends them anyway.
    """

    def keep_secure_cookies(response: httpx.Response) -> None:
        for cookie in client.cookies.jar:
            cookie.secure = False

    client = httpx.Client(base_url=base_url, timeout=timeout, event_hooks={"response": [keep_secure_cookies]})
    return client


def log_in(client: httpx.Client, username: str, password: str) -> None:
    """Log in through the real login form, CSRF token included."""
    client.get("/accounts/login/").raise_for_status()
    response = client.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
    )
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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show what tests measured (``record_property("measured", ...)``), also under xdist."""
    lines = [
        f"{report.nodeid.rpartition('::')[2]}: {value}"
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "measured"
    ]
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.line(line)
