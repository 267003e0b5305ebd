"""The project's settings, serving tests/support/error_tracking.py's URLs (a view and a task that fail)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.support.error_tracking"
