"""Regenerate the generated project's uv.lock after changing its dependencies.

Some prompts add dependencies (OPTIONAL_DEPENDENCIES below), so one lock file cannot
serve every project. For each combination of those prompts' answers this bakes a project
with the template's current lock, runs `uv lock` there (which keeps every locked version
it need not change; `make lock UPGRADE=1` re-resolves them all), then merges the lock
files into one template: a package every combination locks alike is written as it is; a
package only some lock, or lock differently (the project itself, whose dependency list
differs), is wrapped in Jinja conditions on the answers. The project's name is replaced
by its Jinja expression. Finally each combination is baked again and its rendered lock
compared with the one uv wrote, byte for byte.
Run: `make lock`.
"""

from __future__ import annotations

import difflib
import itertools
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
# Prompts whose answers change the project's dependencies, with every answer.
OPTIONAL_DEPENDENCIES = {"sentry": ["no", "yes"], "metrics": ["yes", "no"], "object_storage": ["local", "s3"]}
SEPARATOR = "\n[[package]]\n"

type Answers = dict[str, str]


def lock_for(answers: Answers, tmp: Path) -> str:
    """The lock file uv writes for a project baked with these answers (the other answers: defaults)."""
    output = tmp / "-".join(f"{name}-{value}" for name, value in answers.items())
    project = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(output), extra_context=answers))
    upgrade = ["--upgrade"] if os.environ.get("UPGRADE") == "1" else []
    subprocess.run(["uv", "lock", "--quiet", *upgrade], cwd=project, check=True)
    lock = (project / "uv.lock").read_text()
    if "{{" in lock or "{%" in lock:
        raise SystemExit("uv.lock contains Jinja syntax; wrap it in {% raw %}")
    name = re.escape(project.name.replace("_", "-"))
    lock, count = re.subn(rf'^name = "{name}"$', f'name = "{NAME_EXPRESSION}"', lock, flags=re.MULTILINE)
    if count != 1:
        raise SystemExit(f"expected the project's name once in uv.lock, found it {count} times")
    return lock


def condition(variants: list[Answers], among: list[Answers]) -> str:
    """A Jinja condition true for exactly ``variants`` among ``among``: one answer if that suffices."""
    for name in OPTIONAL_DEPENDENCIES:
        for value in OPTIONAL_DEPENDENCIES[name]:
            if [v for v in among if v[name] == value] == variants:
                return f'cookiecutter.{name} == "{value}"'
    clauses = (" and ".join(f'cookiecutter.{n} == "{v}"' for n, v in variant.items()) for variant in variants)
    return " or ".join(f"({clause})" for clause in clauses)


def merge(locks: list[tuple[Answers, str]]) -> str:
    heads = {lock.split(SEPARATOR)[0] for _, lock in locks}
    if len(heads) != 1:
        raise SystemExit("the lock files' headers differ between answers; merge them by hand")
    order: list[str] = []
    texts: dict[str, dict[int, str]] = {}
    for index, (_, lock) in enumerate(locks):
        previous = None
        for part in lock.split(SEPARATOR)[1:]:
            key = "\n".join(part.splitlines()[:2])  # name and version
            if key not in texts:
                texts[key] = {}
                order.insert(order.index(previous) + 1 if previous else 0, key)
            texts[key][index] = part
            previous = key
    among = [answers for answers, _ in locks]
    merged = heads.pop()
    for key in order:
        groups: dict[str, list[int]] = {}
        for index, part in texts[key].items():
            groups.setdefault(part, []).append(index)
        if len(groups) == 1 and len(texts[key]) == len(locks):
            merged += SEPARATOR + next(iter(groups))
            continue
        for branch, (part, indexes) in enumerate(groups.items()):
            tag = "if" if branch == 0 else "elif"
            merged += f"{{% {tag} {condition([among[i] for i in indexes], among)} %}}" + SEPARATOR + part
        merged += "{% endif %}"
    return merged


def main() -> int:
    names = list(OPTIONAL_DEPENDENCIES)
    answers = itertools.product(*OPTIONAL_DEPENDENCIES.values())
    combinations = [dict(zip(names, values, strict=True)) for values in answers]
    with tempfile.TemporaryDirectory() as tmp:
        locks = [(answers, lock_for(answers, Path(tmp))) for answers in combinations]
        TEMPLATE_LOCK.write_text(merge(locks))
        for answers, expected in locks:
            output = Path(tmp) / "check" / "-".join(answers.values())
            project = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(output), extra_context=answers))
            rendered = (project / "uv.lock").read_text()
            expected = expected.replace(NAME_EXPRESSION, project.name.replace("_", "-"))
            if rendered != expected:
                print(f"the merged lock does not render to uv's for {answers}:", file=sys.stderr)
                diff = difflib.unified_diff(expected.splitlines(), rendered.splitlines(), "uv", "merged", lineterm="")
                print("\n".join(itertools.islice(diff, 60)), file=sys.stderr)
                return 1
    print(f"wrote {TEMPLATE_LOCK.relative_to(ROOT)} ({len(locks)} combinations of {', '.join(names)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
