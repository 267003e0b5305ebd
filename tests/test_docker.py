"""`docker compose up` on a baked project, for real: build, start, traffic through nginx.

The engine is started when none runs; base images are pulled, or built locally as
stand-ins when no registry can be reached (tests/support/docker.py). Everything runs
on 127.0.0.1; the compose project is removed, volumes included, at the end.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import ssl
import subprocess
import time
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from .support.docker import (
    COMPOSE_PROJECT,
    EMAIL,
    PASSWORD,
    PUBLIC_NAME,
    TLS_CHECK_SECONDS,
    UPLOAD_MAX_BYTES,
    UPLOAD_MAX_FILES,
    UPLOAD_MAX_REQUEST_BYTES,
    ComposeStack,
    client_for,
    processes,
    scrape,
)
from .support.http import download_as_attachment, http_client, log_in, scraped, upload_and_wait
from .support.processes import wait_for
from .support.tls import HSTS, assert_modern_tls_only, make_certificate, trusting

pytestmark = pytest.mark.slow


def test_lint_dockerfile_and_compose_file(compose_stack: ComposeStack) -> None:
    hadolint = subprocess.run(["hadolint", "Dockerfile"], cwd=compose_stack.project, capture_output=True, text=True)
    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr
    compose_stack.compose("config", "--quiet")


def test_health_through_nginx(compose_stack: ComposeStack) -> None:
    assert compose_stack.get("/healthz").status_code == HTTPStatus.OK
    ready = compose_stack.get("/readyz", timeout=10)
    assert ready.status_code == HTTPStatus.OK
    assert ready.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_metrics_of_web_and_worker_and_nginx_refuses_them(compose_stack: ComposeStack) -> None:
    """gunicorn's /metrics has the requests and the queue; the worker service serves its own heartbeat."""
    assert compose_stack.get("/metrics").status_code == HTTPStatus.FORBIDDEN
    [web_container] = compose_stack.containers("web")
    web = scrape(web_container, "http://127.0.0.1:8000/metrics")
    assert "http_request_duration_seconds_count" in web
    assert scraped(web, "task_queue_ready_jobs", queue="default") is not None, web
    worker = scrape(web_container, "http://worker:9100/metrics")
    heartbeat = scraped(worker, "task_worker_heartbeat_timestamp_seconds")
    assert heartbeat is not None, worker
    assert heartbeat > time.time() - 120


def test_static_files_come_from_the_proxy_image(compose_stack: ComposeStack) -> None:
    page = compose_stack.get("/accounts/login/").text
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
    assert css, page
    response = compose_stack.get(css.group(1))
    assert response.status_code == HTTPStatus.OK
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_upload_is_processed_in_the_container_and_downloaded(compose_stack: ComposeStack) -> None:
    client = client_for(compose_stack)
    content = b"name,score\n" + b"".join(b"player-%d,%d\n" % (n, n % 100) for n in range(2000))
    upload = upload_and_wait(client, "scores.csv", content)
    assert upload["status"] == "done", upload["error"]
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    download_as_attachment(client, upload, content)
    assert compose_stack.get("/_protected/uploads/").status_code == HTTPStatus.NOT_FOUND


def test_upload_limits_hold_in_nginx_and_django(compose_stack: ComposeStack) -> None:
    """What the form promises passes nginx; a larger request is refused by nginx, in JSON for the API."""
    client = client_for(compose_stack)
    csrf = {"X-CSRFToken": client.cookies["csrftoken"]}
    files = [("file", (f"part-{n}.txt", b"x" * UPLOAD_MAX_BYTES)) for n in range(UPLOAD_MAX_FILES)]
    assert client.post("/api/uploads/", files=files, headers=csrf).status_code == HTTPStatus.CREATED
    over = b"x" * (UPLOAD_MAX_REQUEST_BYTES + 1)
    refused = client.post("/api/uploads/", content=over, headers={**csrf, "Content-Type": "application/octet-stream"})
    assert refused.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert refused.json() == {"error": "The request is larger than the upload limits allow."}


def processes_of(stack: ComposeStack, service: str) -> list[tuple[str, str]]:
    """(uid, command) of every process in the service's container."""
    [container] = stack.containers(service)
    return processes(container)


def test_web_and_worker_run_as_a_non_root_user_each_in_its_own_service(compose_stack: ComposeStack) -> None:
    web, worker = processes_of(compose_stack, "web"), processes_of(compose_stack, "worker")
    assert {uid for uid, _ in web + worker} == {"10001"}, web + worker
    assert any("gunicorn" in command for _, command in web), web
    assert not any("run_worker" in command or "supervisord" in command for _, command in web), web
    assert any("run_worker" in command for _, command in worker), worker
    assert not any("gunicorn" in command for _, command in worker), worker


def test_image_has_no_secrets_history_or_compilers(compose_stack: ComposeStack) -> None:
    script = "test ! -e /app/.env && test ! -e /app/.git && ! command -v gcc && ! command -v cc && ! command -v make"
    result = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", "my-async-project-web:latest", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_data_survives_restart_and_down_up(compose_stack: ComposeStack) -> None:
    client = client_for(compose_stack)
    upload = upload_and_wait(client, "keep.csv", b"a,b\n1,2\n3,4\n")
    compose_stack.compose("restart", "web")
    compose_stack.up()
    client = client_for(compose_stack)
    assert client.get(f"/api/uploads/{upload['id']}/").json()["sha256"] == upload["sha256"]
    compose_stack.down()
    compose_stack.timings["up to healthy (volumes exist)"] = compose_stack.up()
    client = client_for(compose_stack)
    assert client.get(f"/api/uploads/{upload['id']}/").json()["status"] == "done"
    assert client.get(f"/uploads/{upload['id']}/download/").content == b"a,b\n1,2\n3,4\n"


# --- HTTPS ------------------------------------------------------------------------


def served_der(stack: ComposeStack) -> bytes:
    return ssl.PEM_cert_to_DER_cert(stack.served_certificate())


def pem_der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def wait_until_served(stack: ComposeStack, certificate: Path, what: str) -> None:
    """The proxy notices a new certificate within TLS_CHECK_SECONDS and reloads nginx."""
    wait_for(lambda: served_der(stack) == pem_der(certificate), what, timeout=TLS_CHECK_SECONDS * 10 + 10)


def test_https_by_default_with_a_self_signed_certificate(compose_stack: ComposeStack) -> None:
    """No certificate configured: a self-signed one for ALLOWED_HOSTS' names, generated at first start."""
    certificate = x509_text(compose_stack.served_certificate())
    for name in ("DNS:localhost", "IP Address:127.0.0.1", f"DNS:{PUBLIC_NAME}"):
        assert name in certificate, certificate
    with httpx.Client(base_url=compose_stack.http_url) as plain:
        redirect = plain.get("/accounts/login/?next=/uploads/")
    assert redirect.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert redirect.headers["location"] == f"{compose_stack.url}/accounts/login/?next=/uploads/"
    page = compose_stack.get("/accounts/login/")
    assert page.headers.get_list("strict-transport-security") == [HSTS]
    assert_modern_tls_only(compose_stack.https_port)


def x509_text(pem: str) -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, capture_output=True, text=True).stdout


def test_login_works_on_a_host_name_that_is_not_loopback(
    compose_stack: ComposeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reached by name over HTTPS, with production's Secure cookies and CSRF checks: the login succeeds.

    The test's resolver maps the name to 127.0.0.1; the certificate is verified for it.
    """
    resolve = socket.getaddrinfo

    def to_loopback(host: str, *args: object, **kwargs: object) -> list[object]:
        return resolve("127.0.0.1" if host == PUBLIC_NAME else host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", to_loopback)
    trust = trusting(compose_stack.served_certificate())
    with http_client(f"https://{PUBLIC_NAME}:{compose_stack.https_port}", verify=trust) as client:
        client.event_hooks["response"] = []  # Secure cookies travel over HTTPS as they are
        log_in(client, EMAIL, PASSWORD)
        assert client.get("/uploads/").status_code == HTTPStatus.OK
        assert all(cookie.secure for cookie in client.cookies.jar)


def test_certificates_mounted_or_from_lets_encrypt_replace_the_default_and_renewals_reload(
    compose_stack: ComposeStack, tmp_path: Path
) -> None:
    """Precedence (mounted, Let's Encrypt, self-signed) and reloads on renewal, without a restart."""
    proxy_pid = compose_stack.compose("exec", "-T", "proxy", "cat", "/run/nginx.pid").strip()
    mounted = compose_stack.project / "deploy/tls"
    try:
        # certbot's files, as its webroot run leaves them (made here: no Let's Encrypt offline).
        letsencrypt = tmp_path / "letsencrypt"
        make_certificate(letsencrypt, "DNS:example.com", "example.com")
        write_into_volume(compose_stack, "letsencrypt", letsencrypt, "live/example.com")
        wait_until_served(compose_stack, letsencrypt / "fullchain.pem", "the Let's Encrypt certificate")

        first, _ = make_certificate(mounted, "IP:127.0.0.1", "mounted")
        wait_until_served(compose_stack, first, "the mounted certificate, before Let's Encrypt's")
        renewed, _ = make_certificate(mounted, "IP:127.0.0.1", "mounted, renewed")
        wait_until_served(compose_stack, renewed, "the renewed mounted certificate")
        assert compose_stack.get("/healthz").status_code == HTTPStatus.OK  # verified against it

        # A key that is not the certificate's: reported, and what was served stays served
        # (never a lower source in its place).
        make_certificate(tmp_path / "other", "IP:127.0.0.1", "other")
        (mounted / "privkey.pem").write_bytes((tmp_path / "other/privkey.pem").read_bytes())
        wait_for(
            lambda: (
                "privkey.pem is not the key of /etc/nginx/tls/fullchain.pem" in compose_stack.compose("logs", "proxy")
            ),
            "the proxy to report the wrong key",
            timeout=TLS_CHECK_SECONDS * 10 + 10,
            interval=0.5,
        )
        time.sleep(TLS_CHECK_SECONDS * 3)
        assert served_der(compose_stack) == pem_der(renewed)
    finally:
        for name in ("fullchain.pem", "privkey.pem"):
            (mounted / name).unlink(missing_ok=True)
        write_into_volume(compose_stack, "letsencrypt", None, "live")
    wait_for(
        lambda: f"DNS:{PUBLIC_NAME}" in x509_text(compose_stack.served_certificate()),
        "the self-signed default again",
        timeout=TLS_CHECK_SECONDS * 10 + 10,
    )
    # Reloaded, never restarted: the same nginx master throughout.
    assert compose_stack.compose("exec", "-T", "proxy", "cat", "/run/nginx.pid").strip() == proxy_pid


def write_into_volume(stack: ComposeStack, volume: str, source: Path | None, target: str) -> None:
    """Put ``source``'s files at ``target`` in a compose volume, as another container would (None: remove it)."""
    proxy_image = "my-async-project-proxy:latest"
    mounts = ["-v", f"{COMPOSE_PROJECT}_{volume}:/volume"]
    if source is None:
        script = f"rm -rf /volume/{target}"
    else:
        mounts += ["-v", f"{source}:/source:ro"]
        script = f"mkdir -p /volume/{target} && cp /source/*.pem /volume/{target}/"
    subprocess.run(
        ["docker", "run", "--rm", *mounts, "--entrypoint", "sh", proxy_image, "-c", script],
        capture_output=True,
        check=True,
    )


def test_the_letsencrypt_profile_shares_the_challenges_and_certificates_with_the_proxy(
    compose_stack: ComposeStack,
) -> None:
    default = json.loads(compose_stack.compose("config", "--format", "json"))["services"]
    assert "certbot" not in default  # only with --profile letsencrypt
    services = json.loads(compose_stack.compose("--profile", "letsencrypt", "config", "--format", "json"))["services"]
    certbot, proxy = services["certbot"], services["proxy"]

    def mounts(service: dict[str, object]) -> dict[str, tuple[str, bool]]:
        volumes = service["volumes"]
        assert isinstance(volumes, list)
        return {v["source"]: (v["target"], bool(v.get("read_only"))) for v in volumes if v["type"] == "volume"}

    assert mounts(certbot)["letsencrypt"] == ("/etc/letsencrypt", False)
    assert mounts(proxy)["letsencrypt"] == ("/etc/letsencrypt", True)
    assert mounts(certbot)["acme-challenges"] == ("/var/www/acme", False)
    assert mounts(proxy)["acme-challenges"] == ("/var/www/acme", True)
    command = " ".join(certbot["command"])
    assert "--webroot --webroot-path /var/www/acme" in command
    assert '--domain "$$DOMAIN"' in command  # `config` prints compose's escape: the shell gets $DOMAIN
    assert certbot["environment"]["DOMAIN"] == "example.com"
    assert "--keep-until-expiring" in command
    assert "sleep 12h" in command
    assert proxy["environment"]["TLS_DOMAIN"] == certbot["environment"]["DOMAIN"]
    # The proxy serves challenges from where certbot writes them.
    acme_root = compose_stack.compose("exec", "-T", "proxy", "printenv", "NGINX_ACME_ROOT").strip()
    assert acme_root == "/var/www/acme"
