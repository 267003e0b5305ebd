"""Run Django's own ASGI handler tests against the generated project's lean request path.

Bakes the default project, then runs ``tests/runtests.py asgi handlers`` from the Django
source distribution of the exact version the project pins, with Django's ASGIHandler
replaced by the project's PooledExecutorASGIHandler (so also through its middleware
adapters). Prints how many requests the project's handler served, to show it ran.

The sdist comes from the package index (``uv tool run pip download``), or from
--django-source.
Run: `make django-asgi-tests`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["asgi", "handlers"]

# Runs inside Django's tests/ directory, with the baked project's interpreter.
RUNNER = """
import atexit, os, runpy, sys
sys.path[:0] = [os.getcwd(), sys.argv.pop(1)]  # Django's tests, then the baked project
import django.core.asgi, django.core.handlers.asgi
from config.fast_path.handler import PooledExecutorASGIHandler

served = []
stock_call = PooledExecutorASGIHandler.__call__

async def counted(self, scope, receive, send):
    served.append(type(self).__name__)
    return await stock_call(self, scope, receive, send)

PooledExecutorASGIHandler.__call__ = counted
# The tests import these names: get_asgi_application() and ASGIHandler subclasses.
django.core.handlers.asgi.ASGIHandler = PooledExecutorASGIHandler
django.core.asgi.ASGIHandler = PooledExecutorASGIHandler
atexit.register(lambda: print(f"requests served by PooledExecutorASGIHandler: {len(served)}"))
sys.argv = ["runtests.py", *sys.argv[1:]]
runpy.run_path("runtests.py", run_name="__main__")
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--django-source", type=Path, help="an unpacked Django sdist (default: download it)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL"}}
    with tempfile.TemporaryDirectory() as tmp:
        run(["cookiecutter", "--no-input", "--output-dir", tmp, str(ROOT)], ROOT, env)
        project = Path(tmp) / "my_async_project"
        run(["uv", "sync", "--locked", "--quiet"], project, env)
        python = str(project / ".venv/bin/python")
        version = run([python, "-c", "import django; print(django.__version__)"], project, env).strip()
        source = args.django_source
        if source is None:
            run(
                [
                    *("uv", "tool", "run", "pip", "download", f"django=={version}"),
                    *("--no-binary", ":all:", "--no-deps", "--quiet", "--dest", tmp),
                ],
                ROOT,
                env,
            )
            with tarfile.open(Path(tmp) / f"django-{version}.tar.gz") as sdist:
                sdist.extractall(tmp, filter="data")
            source = Path(tmp) / f"django-{version}"
        print(f"Django {version}'s tests/{{{','.join(LABELS)}}} against the project's PooledExecutorASGIHandler")
        result = subprocess.run(
            [python, "-c", RUNNER, str(project), *LABELS, "--parallel", "1"],
            cwd=source / "tests",
            env=env,
            check=False,
        )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
