"""Template updates with cruft: a project baked at one commit of the template takes a later commit's change."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .support.baking import TEMPLATE_DIR, project_env, run

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]


def commit_all(repo: Path, message: str) -> None:
    run([*GIT, "add", "--all"], cwd=repo)
    run([*GIT, "commit", "--quiet", "--message", message], cwd=repo)


def template_repository(directory: Path) -> Path:
    """This template's tracked files as a git repository of their own, as users find it on GitHub."""
    files = run(["git", "ls-files"], cwd=TEMPLATE_DIR).splitlines()
    for name in files:
        if (TEMPLATE_DIR / name).is_file() and not name.startswith("docs/screenshots/"):
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE_DIR / name, directory / name)
    run([*GIT, "init", "--quiet"], cwd=directory)
    commit_all(directory, "the template as baked")
    return directory


def test_cruft_brings_a_template_change_into_a_project_and_keeps_local_edits(tmp_path: Path) -> None:
    template = template_repository(tmp_path / "template")
    cruft = str(Path(shutil.which("cruft") or "cruft"))
    run([cruft, "create", str(template), "--no-input", "--output-dir", str(tmp_path / "projects")], cwd=tmp_path)
    project = tmp_path / "projects" / "my_async_project"
    secrets = (project / ".env").read_text()
    run([*GIT, "init", "--quiet"], cwd=project)
    commit_all(project, "a new project")

    # The project's own change, and a later change of the template elsewhere.
    urls = project / "config" / "urls.py"
    urls.write_text(urls.read_text() + "# our own route goes here\n")
    commit_all(project, "a local edit")
    run(["make", "template-check", f"CRUFT={cruft}"], cwd=project)  # up to date
    layout = template / "{{cookiecutter.project_slug}}" / "docs" / "layout.md"
    layout.write_text(layout.read_text() + "\n## Added by the template later\n")
    commit_all(template, "a template improvement")
    behind = subprocess.run(
        ["make", "template-check", f"CRUFT={cruft}"], cwd=project, env=project_env(), capture_output=True, text=True
    )
    assert behind.returncode != 0
    assert "cruft update" in behind.stdout + behind.stderr

    result = subprocess.run(
        [cruft, "update", "--skip-apply-ask"], cwd=project, env=project_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "## Added by the template later" in (project / "docs" / "layout.md").read_text()
    assert urls.read_text().endswith("# our own route goes here\n")
    assert (project / ".env").read_text() == secrets  # [tool.cruft] skip: the checkout's secrets stay
    run(["make", "template-check", f"CRUFT={cruft}"], cwd=project)
