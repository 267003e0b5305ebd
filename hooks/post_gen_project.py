"""Finish a freshly generated project: drop files of options left out, write .env with new secrets, print next steps."""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import sys
from pathlib import Path

CONTEXT: dict[str, str] = json.loads(base64.b64decode("{{ cookiecutter | b64json }}"))
PROJECT_DIR = Path.cwd()


def unused_paths(context: dict[str, str]) -> list[Path]:
    """Files and directories that belong to options the answers left out."""
    slug = context["project_slug"]
    unused = []
    if context["include_examples"] == "no":
        unused += [Path(slug, "examples"), Path("tests", "examples")]
    if context["sentry"] == "no":
        unused += [Path(slug, "ops", "error_tracking.py"), Path("tests", "ops", "test_error_tracking.py")]
        unused += [Path("tests", "support", f"{name}.py") for name in ("error_tracking", "error_tracking_settings")]
    if context["metrics"] == "no":
        unused += [Path(slug, "ops", "metrics.py"), Path("tests", "ops", "test_metrics.py")]
        unused += [Path(slug, "ops", "metrics_files.py"), Path("tests", "ops", "test_metrics_files.py")]
    if context["object_storage"] == "local":
        unused += [Path("tests", "uploads", "test_object_storage.py"), Path("tests", "support", "object_storage.py")]
        # Several pods need the files in a bucket: Kubernetes comes with object storage.
        unused += [Path("docs", "object-storage.md"), Path("docs", "kubernetes.md"), Path("deploy", "kubernetes")]
    return unused


def remove_unused() -> None:
    for path in unused_paths(CONTEXT):
        if (PROJECT_DIR / path).is_dir():
            shutil.rmtree(PROJECT_DIR / path)
        else:
            (PROJECT_DIR / path).unlink()


def write_dotenv() -> None:
    """Create .env (git-ignored) from .env.example, with fresh secrets."""
    domain = CONTEXT["domain_name"]
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "DEFAULT_FROM_EMAIL": f"noreply@{domain}",
        "SERVER_EMAIL": f"server@{domain}",
    }
    notes: dict[str, str] = {}
    if CONTEXT["mail_service"] == "smtp":
        values["EMAIL_URL"] = "console://"
        notes["EMAIL_URL"] = "# Mail is printed in the log (docker compose logs worker) until this names your server."
    lines = []
    for line in (PROJECT_DIR / ".env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name in values:
            if name in notes:
                lines.append(notes[name])
            line = f"{name}={values[name]}"
        elif sep and not value and not line.startswith("#"):
            # Unset means "the default". An empty assignment would override defaults the
            # container image sets (compose's env_file), so leave it commented out.
            line = f"# {line}"
        lines.append(line)
    dotenv = PROJECT_DIR / ".env"
    dotenv.write_text("\n".join(lines) + "\n")
    dotenv.chmod(0o600)


NEXT_STEPS = re.compile(r"<!-- --8<-- \[start:next-steps\] -->\n```console\n(.*?)```", re.DOTALL)


def next_steps() -> str:
    """The generated README's next steps, so the two can never disagree."""
    found = NEXT_STEPS.search((PROJECT_DIR / "README.md").read_text())
    if found is None:
        raise SystemExit("README.md has no next-steps block")  # a template bug, caught by its tests
    return found[1]


def main() -> int:
    remove_unused()
    write_dotenv()
    slug = CONTEXT["project_slug"]
    steps = "".join(f"  {line}\n" for line in [f"cd {slug}", *next_steps().splitlines()])
    print(f"\nCreated {slug}/ with fresh secrets in {slug}/.env (git-ignored).\n\nNext steps:\n{steps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
