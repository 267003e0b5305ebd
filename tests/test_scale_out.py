"""Beyond one machine: `docker compose up --scale web=3 --scale worker=2` with object storage, and faults under load.

An object_storage=s3 bake runs with three web replicas behind nginx, two task workers,
PostgreSQL, Redis and an S3-compatible server (moto's, a stand-in for MinIO or AWS S3:
tests/standins/moto.Dockerfile), all on 127.0.0.1. Traffic goes through nginx over
HTTPS. Each fault is injected while the test sends a bounded load, and its figures are
printed: requests, errors, time to recover.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field

import httpx
import pytest
import yaml

from .support.docker import ComposeStack, client_for, processes, running_compose_stack, scrape
from .support.http import scraped, upload_and_wait
from .support.processes import measured, wait_for

pytestmark = pytest.mark.slow

type RecordProperty = Callable[[str, object], None]

PROJECT = "cadscale"
BUCKET = "uploads"
MIB = 1024 * 1024
OVERRIDE = """\
# The scale-out test's object storage: moto's S3-compatible server, a stand-in for MinIO.
services:
  storage:
    image: moto-s3:standin
    healthcheck:
      test: ["CMD", "/opt/moto/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/')"]
      interval: 2s
      timeout: 3s
      retries: 10
  web:
    depends_on:
      storage:
        condition: service_healthy
  worker:
    depends_on:
      storage:
        condition: service_healthy
  proxy:
    depends_on:
      storage:
        condition: service_healthy
"""
SETTINGS = {
    "COMPOSE_FILE": "compose.yaml:compose.scale-test.yaml",
    # Not the docker test's subnet: both stacks may run at once.
    "COMPOSE_SUBNET": "172.30.77.0/24",
    "AWS_STORAGE_BUCKET_NAME": BUCKET,
    "AWS_S3_ENDPOINT_URL": "http://storage:5000",
    "AWS_ACCESS_KEY_ID": "scale-test",
    "AWS_SECRET_ACCESS_KEY": "scale-test-secret",
    "UPLOAD_MAX_BYTES": 110 * MIB,
    "UPLOAD_MAX_FILES": 2,
    # The load posts faster than a person: not what the rate limit is tested for here.
    "UPLOAD_RATE_LIMIT": 100_000,
    # A killed worker's job is queued again after this long (the sweep runs every 10 s).
    "UPLOAD_PROCESSING_TIMEOUT": 20,
    "UPLOAD_INSPECTION_TIMEOUT": 15,
    "GUNICORN_WORKERS": 1,
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    with running_compose_stack(
        tmp_path_factory.mktemp("scale"),
        name=PROJECT,
        answers={"project_name": "Scale Shop", "object_storage": "s3"},
        settings=SETTINGS,
        files={"compose.scale-test.yaml": OVERRIDE},
        up_args=("--scale", "web=3", "--scale", "worker=2"),
    ) as started:
        started.compose("exec", "-T", "storage", "/opt/moto/bin/python", "-c", create_bucket_script())
        yield started


def create_bucket_script() -> str:
    url = f"http://127.0.0.1:5000/{BUCKET}"
    return f"import urllib.request; urllib.request.urlopen(urllib.request.Request({url!r}, method='PUT'))"


def requests_served(stack: ComposeStack) -> dict[str, float]:
    """Requests each web replica has answered (its /metrics), by container."""
    served = {}
    for container in stack.containers("web"):
        text = scrape(container, "http://127.0.0.1:8000/metrics")
        served[container] = sum(
            value
            for line in text.splitlines()
            if line.startswith("http_request_duration_seconds_count{")
            for value in [float(line.rsplit(" ", 1)[1])]
        )
    return served


def jobs_done(stack: ComposeStack) -> dict[str, float]:
    """Upload jobs each task worker has finished successfully, by container."""
    task = "scale_shop.uploads.tasks.process_upload"
    return {
        container: scraped(
            scrape(container, "http://127.0.0.1:9100/metrics"), "tasks_finished_total", task=task, outcome="succeeded"
        )
        or 0.0
        for container in stack.containers("worker")
    }


def test_replicas_share_sessions_counts_and_the_queue_and_each_upload_is_processed_once(
    stack: ComposeStack, record_property: RecordProperty
) -> None:
    assert len(stack.containers("web")) == 3
    assert len(stack.containers("worker")) == 2
    before = requests_served(stack)
    with closing(client_for(stack)) as session:
        contents = [b"n,value\n" + b"".join(b"%d,%d\n" % (n, n * k) for n in range(2000)) for k in range(12)]
        uploads = [upload_and_wait(session, f"part-{k}.csv", content) for k, content in enumerate(contents)]
        for upload, content in zip(uploads, contents, strict=True):
            assert upload["status"] == "done", upload["error"]
            assert upload["sha256"] == hashlib.sha256(content).hexdigest()
            download = session.get(f"/uploads/{upload['id']}/download/")
            assert download.status_code == 200
            assert download.content == content
            assert download.headers["x-content-type-options"] == "nosniff"
            assert download.headers["content-disposition"].startswith("attachment")
            assert "x-amz-request-id" not in download.headers
        # Whichever replica answers, the session is the same user's and the count agrees.
        counts = {session.get("/api/uploads/").json()["count"] for _ in range(30)}
    assert counts == {len(contents)}
    after = requests_served(stack)
    assert all(after[container] > before.get(container, 0) for container in after), (before, after)
    done = jobs_done(stack)
    measured(
        record_property,
        f"scale-out: requests per web replica {sorted(after[c] - before.get(c, 0) for c in after)}; "
        f"upload jobs per worker {sorted(done.values())}",
    )
    assert sum(done.values()) == len(contents)  # each upload exactly once
    assert all(count > 0 for count in done.values()), done  # both workers took jobs
    # The storage is not reachable through nginx, only through the app's downloads.
    with stack.client() as anonymous:
        assert anonymous.get(f"/_storage/{BUCKET}/").status_code == 404


@dataclass
class Load:
    """A bounded load: GET threads on a page that needs the session and the database, one POST thread."""

    stack: ComposeStack
    getters: int = 3
    stop: threading.Event = field(default_factory=threading.Event)
    gets: int = 0
    resent: int = 0
    get_errors: list[str] = field(default_factory=list)
    error_times: list[float] = field(default_factory=list)
    posts: int = 0
    post_errors: list[str] = field(default_factory=list)
    posted_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get_loop(self, session: httpx.Client) -> None:
        while not self.stop.is_set():
            try:
                try:
                    response = session.get("/api/uploads/?limit=1", timeout=20)
                except httpx.RemoteProtocolError:
                    # nginx closed an idle keep-alive connection as the request went out
                    # (a reload ends its old workers' idle connections): a browser sends
                    # an idempotent request again on a new connection, and so does this.
                    with self.lock:
                        self.resent += 1
                    response = session.get("/api/uploads/?limit=1", timeout=20)
                failure = "" if response.status_code == 200 else f"{response.status_code}"
            except httpx.HTTPError as error:
                failure = type(error).__name__
            with self.lock:
                self.gets += 1
                if failure:
                    self.get_errors.append(failure)
                    self.error_times.append(time.monotonic())

    def post_loop(self, session: httpx.Client) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                response = session.post(
                    "/api/uploads/",
                    files={"file": (f"load-{n}.csv", b"a,b\n%d,%d\n" % (n, n * 2))},
                    headers={"X-CSRFToken": session.cookies["csrftoken"]},
                    timeout=20,
                )
                failure = "" if response.status_code == 201 else f"{response.status_code}"
            except httpx.HTTPError as error:
                failure = type(error).__name__
                response = None
            with self.lock:
                self.posts += 1
                if failure:
                    self.post_errors.append(failure)
                    self.error_times.append(time.monotonic())
                elif response is not None:
                    self.posted_ids.append(response.json()["results"][0]["id"])
            time.sleep(0.05)

    def run(self, fault: Callable[[], None], before: float = 2.0, after: float = 6.0) -> float:
        """Send load, inject the fault after ``before`` seconds, go on for ``after``; return the elapsed time."""
        sessions = [client_for(self.stack) for _ in range(self.getters + 1)]
        threads = [threading.Thread(target=self.get_loop, args=(s,)) for s in sessions[:-1]]
        threads.append(threading.Thread(target=self.post_loop, args=(sessions[-1],)))
        start = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            time.sleep(before)
            self.fault_at = time.monotonic()
            fault()
            time.sleep(after)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join()
            for session in sessions:
                session.close()
        return time.monotonic() - start

    def summary(self, elapsed: float) -> str:
        return (
            f"{self.gets} GETs ({self.gets / elapsed:.0f}/s), "
            f"{len(self.get_errors)} failed {sorted(set(self.get_errors))} "
            f"({self.resent} sent again on a new connection after nginx closed an idle one); "
            f"{self.posts} POSTs, {len(self.post_errors)} failed {sorted(set(self.post_errors))}"
        )


def wait_processed(stack: ComposeStack, ids: list[str], timeout: float = 120) -> None:
    with closing(client_for(stack)) as session:

        def all_done() -> bool:
            return all(session.get(f"/api/uploads/{upload_id}/").json()["status"] == "done" for upload_id in ids)

        wait_for(all_done, "every upload processed", timeout=timeout, interval=1)


def test_a_killed_web_replica_fails_no_get_and_at_most_the_posts_in_flight(
    stack: ComposeStack, record_property: RecordProperty
) -> None:
    victim = stack.containers("web")[1]
    load = Load(stack)
    elapsed = load.run(lambda: subprocess.run(["docker", "kill", victim], check=True, capture_output=True))
    measured(record_property, f"web replica killed under load ({elapsed:.1f} s): {load.summary(elapsed)}")
    assert load.gets > 100
    assert load.get_errors == []
    assert len(load.post_errors) <= 1  # the one POST thread's request in flight, at most
    wait_processed(stack, load.posted_ids)
    stack.up()  # back to three replicas
    assert len(stack.containers("web")) == 3


def test_redis_restart_keeps_the_site_up(stack: ComposeStack, record_property: RecordProperty) -> None:
    load = Load(stack)
    elapsed = load.run(lambda: stack.compose("restart", "redis"), after=8.0)
    measured(record_property, f"Redis restarted under load ({elapsed:.1f} s): {load.summary(elapsed)}")
    assert load.gets > 100
    assert load.get_errors == []
    assert load.post_errors == []
    stack.up()
    # Sessions and the cache work again: a fresh login, and readiness reports the cache.
    with closing(client_for(stack)) as session:
        assert session.get("/readyz").json()["cache"] == "ok"


def test_postgresql_restart_fails_only_while_it_is_down_and_recovers_without_an_app_restart(
    stack: ComposeStack, record_property: RecordProperty
) -> None:
    started = {c: started_at(c) for c in stack.containers("web") + stack.containers("worker")}
    done_before = sum(jobs_done(stack).values())
    load = Load(stack)
    restarted: dict[str, float] = {}

    def restart() -> None:
        stack.compose("restart", "db")
        restarted["healthy"] = time.monotonic()

    elapsed = load.run(restart, after=10.0)
    last_error = max(load.error_times, default=load.fault_at)
    errors = (
        f"errors from {min(load.error_times) - load.fault_at:.1f} s to {last_error - load.fault_at:.1f} s "
        f"after the restart began, {max(last_error - restarted['healthy'], 0):.1f} s after it was back"
        if load.error_times
        else "no errors"
    )
    measured(record_property, f"PostgreSQL restarted under load ({elapsed:.1f} s): {load.summary(elapsed)}; {errors}")
    assert last_error - restarted["healthy"] < 10  # recovered, by the pool's reconnects
    assert {c: started_at(c) for c in started} == started  # no app restart
    wait_processed(stack, load.posted_ids)
    # Each accepted upload processed once: as many jobs succeeded as uploads were accepted.
    wait_for(
        lambda: sum(jobs_done(stack).values()) - done_before >= len(load.posted_ids),
        "the workers' job counts",
        timeout=60,
        interval=1,
    )
    assert sum(jobs_done(stack).values()) - done_before == len(load.posted_ids)


def started_at(container: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "--format", "{{.State.StartedAt}}", container], capture_output=True, text=True, check=True
    ).stdout.strip()


def worker_memory(container: str) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of the task worker's process in the container, in KiB."""
    script = (
        "for p in /proc/[0-9]*; do "
        # [r]: the pattern does not match this shell's own command line.
        'grep -q "run_worke[r]" "$p/cmdline" 2>/dev/null && grep -E "^Vm(RSS|HWM)" "$p/status"; done'
    )
    output = subprocess.run(
        ["docker", "exec", container, "sh", "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return {line.split(":")[0]: int(line.split()[1]) for line in output.splitlines()}


def test_a_worker_killed_mid_job_leaves_the_job_to_another_and_memory_stays_flat(
    stack: ComposeStack, record_property: RecordProperty
) -> None:
    first, second = stack.containers("worker")
    line = b"the quick brown fox jumps over the lazy dog " * 3 + b"\n"
    content = line * (100 * MIB // len(line))
    baseline = worker_memory(second)
    subprocess.run(["docker", "pause", second], check=True, capture_output=True)
    try:
        with closing(client_for(stack)) as session:
            response = session.post(
                "/api/uploads/",
                files={"file": ("big.txt", content)},
                headers={"X-CSRFToken": session.cookies["csrftoken"]},
                timeout=120,
            )
            assert response.status_code == 201, response.text
            upload_id = response.json()["results"][0]["id"]
            wait_for(
                lambda: session.get(f"/api/uploads/{upload_id}/").json()["status"] == "processing",
                "the first worker's claim",
                timeout=60,
            )
            # Killed, not stopped: no chance to finish (and `docker stop` keeps it down).
            subprocess.run(["docker", "stop", "--time", "0", first], check=True, capture_output=True)
            killed = time.monotonic()
    finally:
        subprocess.run(["docker", "unpause", second], check=True, capture_output=True)
    with closing(client_for(stack)) as session:
        wait_for(
            lambda: session.get(f"/api/uploads/{upload_id}/").json()["status"] == "done",
            "the other worker to finish the job",
            timeout=150,
            interval=1,
        )
        recovered = time.monotonic() - killed
        upload = session.get(f"/api/uploads/{upload_id}/").json()
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    memory = worker_memory(second)
    measured(
        record_property,
        f"worker killed mid-job: the other worker finished the {len(content) / MIB:.0f} MiB upload "
        f"{recovered:.1f} s later (UPLOAD_PROCESSING_TIMEOUT {SETTINGS['UPLOAD_PROCESSING_TIMEOUT']} s); "
        f"its memory: {baseline['VmRSS'] / 1024:.0f} MiB before, peak {memory['VmHWM'] / 1024:.0f} MiB",
    )
    # The object went through a temporary file: the peak grew by far less than the file.
    assert memory["VmHWM"] - baseline["VmHWM"] < 40 * 1024
    stack.up()


def test_the_proxy_image_serves_as_kubernetes_runs_it_unprivileged_on_a_read_only_root(stack: ComposeStack) -> None:
    """deploy/kubernetes/proxy.yaml's user, read-only root and writable mounts, under Docker: nginx serves."""
    manifest = next(
        document
        for document in yaml.safe_load_all((stack.project / "deploy" / "kubernetes" / "proxy.yaml").read_text())
        if document["kind"] == "Deployment"
    )
    pod = manifest["spec"]["template"]["spec"]
    container = pod["containers"][0]
    user = f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    mounts = [mount["mountPath"] for mount in container["volumeMounts"]]
    env = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    env |= {
        "AWS_S3_ENDPOINT_URL": SETTINGS["AWS_S3_ENDPOINT_URL"],
        "UPLOAD_MAX_BYTES": "1048576",
        "UPLOAD_MAX_FILES": "2",
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    name = f"{PROJECT}-restricted-proxy"
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)
    run = [
        *("docker", "run", "--detach", "--name", name, "--network", f"{PROJECT}_default"),
        *("--user", user, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"),
        *(f"--tmpfs={path}:rw,uid={user.split(':')[0]},gid={user.split(':')[1]},mode=0755" for path in mounts),
        *(f"--env={key}={value}" for key, value in env.items()),
        "scale-shop-proxy:latest",
    ]
    subprocess.run(run, capture_output=True, text=True, check=True)
    try:
        served = f"https://127.0.0.1:{env['NGINX_HTTPS_LISTEN']}/healthz"

        def healthy() -> bool:
            probe = subprocess.run(
                ["docker", "exec", name, "curl", "-fsSk", served], capture_output=True, text=True, check=False
            )
            return probe.returncode == 0 and '"status": "ok"' in probe.stdout

        wait_for(healthy, "the restricted proxy to serve /healthz from the web replicas", timeout=60, interval=1)
        top = processes(name)
        assert {uid for uid, _ in top} == {user.split(":")[0]}, top
        assert any("nginx: worker process" in command for _, command in top), top
    finally:
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)
    assert "Read-only file system" not in logs.stdout + logs.stderr
