"""Print how long baking takes, how long the generated suite runs and how many tests each suite has.

Bake time is the median of 5 runs of `cookiecutter --no-input` in a fresh process (what
a user waits for). Suite times are one run each, after `uv sync --locked`, on the
embedded default and, when DATABASE_URL and REDIS_URL are set, on PostgreSQL and Redis.
Run: `make bench`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAKES = 5


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    return run(cmd, cwd, env)[0]


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Seconds the command took, and what it printed."""
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, result.stdout


def suite(project: Path, env: dict[str, str]) -> str:
    """The generated suite's time and pytest's summary line (what passed, what was skipped)."""
    seconds, output = run(["uv", "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    summary = [line.strip("= ") for line in output.splitlines() if " passed" in line][-1]
    return f"{seconds:.1f} s ({summary.rsplit(' in ', 1)[0]})"


def main() -> int:
    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV"}}
    with tempfile.TemporaryDirectory() as tmp:
        bakes = [
            timed(["cookiecutter", "--no-input", "--output-dir", f"{tmp}/{n}", str(ROOT)], ROOT, base_env)
            for n in range(BAKES)
        ]
        print(
            f"bake (cookiecutter --no-input), median of {BAKES}: {statistics.median(bakes):.2f} s "
            f"(min {min(bakes):.2f}, max {max(bakes):.2f})"
        )
        project = Path(tmp) / "0" / "my_async_project"
        print(f"uv sync --locked (warm uv cache): {timed(['uv', 'sync', '--locked', '-q'], project, base_env):.1f} s")
        print(f"generated suite on the embedded default (SQLite): {suite(project, base_env)}")
        if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            db_base = os.environ["DATABASE_URL"].rpartition("/")[0]
            services = {"DATABASE_URL": f"{db_base}/bench{uuid.uuid4().hex[:8]}", "REDIS_URL": os.environ["REDIS_URL"]}
            print(f"generated suite on PostgreSQL + Redis: {suite(project, {**base_env, **services})}")
        else:
            print("generated suite on PostgreSQL + Redis: skipped (set DATABASE_URL and REDIS_URL)")
    _, collected = run(["uv", "run", "--locked", "pytest", "--collect-only", "-q"], ROOT, base_env)
    print(f"the template's own tests: {[line for line in collected.splitlines() if 'tests collected' in line][-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
