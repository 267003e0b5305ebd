"""Print how long baking takes and how long the generated suite runs.

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
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


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
        pytest = ["uv", "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"]
        print(f"generated suite on SQLite + local memory: {timed(pytest, project, base_env):.1f} s")
        if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            db_base = os.environ["DATABASE_URL"].rpartition("/")[0]
            services = {"DATABASE_URL": f"{db_base}/bench{uuid.uuid4().hex[:8]}", "REDIS_URL": os.environ["REDIS_URL"]}
            print(f"generated suite on PostgreSQL + Redis: {timed(pytest, project, {**base_env, **services}):.1f} s")
        else:
            print("generated suite on PostgreSQL + Redis: skipped (set DATABASE_URL and REDIS_URL)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
