"""Regenerate docs/screenshots/: bake the default project and save its pages from its browser tests.

The generated project's `make screenshots` runs tests/browser/test_pages.py with
SCREENSHOT_DIR set: every page, light and dark, desktop and phone. Needs Chromium
(Debian: apt-get install chromium). Run: `make screenshots`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "screenshots"
CHILD_ENV_DROPPED = ("VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")


def main() -> int:
    env = {name: value for name, value in os.environ.items() if name not in CHILD_ENV_DROPPED}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(cookiecutter(str(ROOT), no_input=True, output_dir=tmp))
        result = subprocess.run(["make", "screenshots"], cwd=project, env=env, check=False)
        if result.returncode != 0:
            return result.returncode
        shots = sorted((project / "docs" / "screenshots").glob("*.jpg"))
        if not shots:
            print("the browser tests saved no screenshot (is Chromium installed?)", file=sys.stderr)
            return 1
        shutil.rmtree(TARGET, ignore_errors=True)
        TARGET.mkdir(parents=True)
        for shot in shots:
            shutil.copy2(shot, TARGET / shot.name)
    print(f"{len(shots)} screenshots in {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
