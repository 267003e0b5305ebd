"""Regenerate the generated project's uv.lock after changing its dependencies.

Bakes the default project with the template's current lock, runs `uv lock` there (which
keeps every locked version it need not change; `make lock UPGRADE=1` re-resolves them
all), and writes the lock file back into the template with the project's name replaced
by its Jinja expression, so every baked project installs with `uv sync --locked`.
Run: `make lock`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_LOCK = ROOT / "{{cookiecutter.project_slug}}" / "uv.lock"
NAME_EXPRESSION = "{{ cookiecutter.project_slug | pep503 }}"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(cookiecutter(str(ROOT), no_input=True, output_dir=tmp))
        upgrade = ["--upgrade"] if os.environ.get("UPGRADE") == "1" else []
        subprocess.run(["uv", "lock", *upgrade], cwd=project, check=True)
        lock = (project / "uv.lock").read_text()
    name = re.escape(project.name.replace("_", "-"))
    locked, count = re.subn(rf'^name = "{name}"$', f'name = "{NAME_EXPRESSION}"', lock, flags=re.MULTILINE)
    if count != 1:
        print(f"expected the project's name once in uv.lock, found it {count} times", file=sys.stderr)
        return 1
    if "{{" in lock or "{%" in lock:
        print("uv.lock contains Jinja syntax; wrap it in {% raw %}", file=sys.stderr)
        return 1
    TEMPLATE_LOCK.write_text(locked)
    print(f"wrote {TEMPLATE_LOCK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
