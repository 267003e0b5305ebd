"""deploy/gunicorn.conf.py: gunicorn accepts it, it follows the environment, and it serves."""

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from tests.support.processes import PROJECT_DIR, free_port, project_env

GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
NGINX_TEMPLATE = PROJECT_DIR / "deploy" / "nginx" / "templates" / "default.conf.template"


def gunicorn_settings(**env: str) -> dict[str, str]:
    """The settings gunicorn would run with (``--print-config``), as text."""
    result = subprocess.run(
        [*GUNICORN, "--print-config"],
        cwd=PROJECT_DIR,
        env=project_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, flags=re.MULTILINE))


def test_gunicorn_check_config_passes() -> None:
    result = subprocess.run(
        [*GUNICORN, "--check-config"], cwd=PROJECT_DIR, env=project_env(), capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_gunicorn_defaults() -> None:
    settings = gunicorn_settings(GUNICORN_CONTROL_SOCKET="")
    assert settings["wsgi_app"] == "config.asgi:application"
    assert settings["worker_class"] == "config.workers.UvicornWorker"
    assert settings["bind"] == "['127.0.0.1:8000']"
    assert settings["control_socket_disable"] == "True"
    assert settings["accesslog"] == "-"
    assert (settings["max_requests"], settings["max_requests_jitter"]) == ("1000", "100")


def test_gunicorn_follows_the_environment() -> None:
    settings = gunicorn_settings(
        GUNICORN_BIND="0.0.0.0:9000",
        GUNICORN_WORKERS="3",
        GUNICORN_WORKER_CLASS="asgi",
        GUNICORN_TIMEOUT="40",
        GUNICORN_GRACEFUL_TIMEOUT="50",
        GUNICORN_KEEPALIVE="90",
        GUNICORN_MAX_REQUESTS="0",
        FORWARDED_ALLOW_IPS="172.16.0.0/12",
        GUNICORN_WORKER_TMP_DIR="/run/heartbeat",
        GUNICORN_CONTROL_SOCKET="/run/app/gunicorn.ctl",
    )
    assert settings["bind"] == "['0.0.0.0:9000']"
    assert settings["workers"] == "3"
    assert settings["worker_class"] == "asgi"
    assert (settings["timeout"], settings["graceful_timeout"], settings["keepalive"]) == ("40", "50", "90")
    assert settings["max_requests"] == "0"
    assert settings["forwarded_allow_ips"] == "['172.16.0.0/12']"
    assert settings["worker_tmp_dir"] == "/run/heartbeat"
    assert settings["control_socket"] == "/run/app/gunicorn.ctl"
    assert settings["control_socket_disable"] == "False"


def test_gunicorn_keepalive_outlasts_nginx() -> None:
    """nginx must close idle upstream connections before gunicorn does."""
    nginx_keepalive = re.search(r"^\s*keepalive_timeout (\d+)s;", NGINX_TEMPLATE.read_text(), flags=re.MULTILINE)
    assert nginx_keepalive
    assert int(gunicorn_settings()["keepalive"]) > int(nginx_keepalive[1])


@pytest.fixture
def gunicorn_log(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """gunicorn serving the project on a free port, with one worker; (url, log file)."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = project_env(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", LOG_FORMAT="json")
    with log.open("wb") as output:
        server = subprocess.Popen(GUNICORN, cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"gunicorn did not start:\n{log.read_text()}")
            time.sleep(0.1)
    yield url, log
    server.terminate()
    server.wait(timeout=30)


def test_gunicorn_logs_requests_as_json_with_the_request_id(gunicorn_log: tuple[str, Path]) -> None:
    url, log = gunicorn_log
    response = httpx.get(f"{url}/healthz", headers={"X-Request-ID": "0123456789abcdef0123456789abcdef"})
    assert response.status_code == HTTPStatus.OK
    deadline = time.monotonic() + 10
    while True:
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        access = [entry for entry in entries if entry["request_id"] == "0123456789abcdef0123456789abcdef"]
        if access or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [(entry["logger"], entry["level"]) for entry in access] == [("uvicorn.access", "INFO")]
    assert '"GET /healthz HTTP/1.1" 200' in access[0]["message"]
    assert {"gunicorn.error"} <= {entry["logger"] for entry in entries}
