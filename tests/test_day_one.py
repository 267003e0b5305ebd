"""Day one, exactly as the README says: bake, `make install && make run`, then use the site."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from .support.baking import bake, project_env, run
from .support.http import free_port, http_client, log_in, post_form, upload_and_wait
from .support.processes import descendants, measured, parents, wait_for

pytestmark = pytest.mark.slow
PASSWORD = secrets.token_urlsafe(16)


class Output:
    """What a command prints, collected line by line while it runs."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with process.stdout:
            self.lines.extend(process.stdout)

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


def test_make_run_serves_the_whole_product(tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    project = bake(tmp_path)
    with (project / ".env").open("a") as dotenv:
        dotenv.write("UPLOAD_MAX_FILES=4\n")  # .env applies to make run
    run(["make", "install"], cwd=project)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    # No DATABASE_URL or REDIS_URL (project_env drops them): the embedded default, as for a new user.
    make_run = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=project,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    output = Output(make_run)
    try:
        wait_for(lambda: output.has("Ctrl-C stops both"), "the banner", timeout=120)
        first_page = time.monotonic() - started
        assert output.has(f"is running at {url}/")
        assert output.has("No account yet: sign up at http://127.0.0.1:")

        # The site is styled and scripted: its own static files and the admin's, under ASGI.
        home = httpx.get(url + "/")
        assert home.status_code == HTTPStatus.OK
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', home.text)
        assert stylesheet, home.text
        for path, kind in ((stylesheet[1], "text/css"), ("/static/admin/css/base.css", "text/css")):
            response = httpx.get(url + path)
            assert (response.status_code, response.headers["content-type"]) == (HTTPStatus.OK, kind), path
        script = httpx.get(url + "/static/uploads/live.js")
        assert script.status_code == HTTPStatus.OK
        assert "javascript" in script.headers["content-type"]

        # Sign up, as the banner says: the confirmation mail is printed in make run's output.
        form = {"email": "grace@example.com", "password1": PASSWORD, "password2": PASSWORD}
        response = post_form(http_client(url), "/accounts/signup/", form)
        assert response.status_code == HTTPStatus.FOUND, response.text
        wait_for(lambda: output.has("/accounts/confirm-email/"), "the confirmation mail in the output", timeout=30)

        # The first admin, as the banner says (make superuser, without its questions).
        env = project_env(DJANGO_SUPERUSER_PASSWORD=PASSWORD)
        manage = ["uv", "run", "--locked", "python", "manage.py"]
        run([*manage, "createsuperuser", "--no-input", "--username", "ada", "--email", "ada@example.com"], project, env)
        client = http_client(url)
        log_in(client, "ada@example.com", PASSWORD)
        assert "Up to 4 files" in client.get("/uploads/new/").text

        # An upload is processed by the worker make run started, and the list counts it.
        uploaded = time.monotonic()
        content = b"city,population\n" + b"".join(b"city-%d,%d\n" % (n, n * 7) for n in range(1000))
        upload = upload_and_wait(client, "cities.csv", content)
        processed = time.monotonic() - uploaded
        assert upload["status"] == "done", upload["error"]
        assert "1 done · 0 processing · 0 waiting · 0 failed" in client.get("/uploads/").text

        # An edited template shows on the next request, without a restart.
        template = project / project.name / "pages" / "templates" / "pages" / "home.html"
        template.write_text(template.read_text().replace("</h1>", " (edited)</h1>"))
        assert "(edited)</h1>" in httpx.get(url + "/").text

        # Ctrl-C (SIGINT to the foreground process group) stops every process make run started.
        processes = descendants(make_run.pid)
        assert len(processes) >= 6  # make, uv, the runner, and a reloader and its child per server
        os.killpg(make_run.pid, signal.SIGINT)
        make_run.wait(timeout=60)
        wait_for(lambda: not processes & set(parents()), "every process to stop", timeout=30)
        assert output.has("Stopping")
    finally:
        if make_run.poll() is None:  # the test failed midway: let make run stop what it started first
            os.killpg(make_run.pid, signal.SIGINT)
            try:
                make_run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(make_run.pid, signal.SIGKILL)
                make_run.wait()
        output.reader.join(timeout=10)
    measured(
        record_property,
        f"make run: first page {first_page:.1f} s after the command (migrations included); "
        f"an upload processed {processed:.1f} s after it was sent",
    )
