"""Browser tests: the site in a real Chromium, served by uvicorn with the task worker, on the test database.

Playwright's async API, so these are async tests like the rest of the suite (the sync API,
which pytest-playwright's fixtures use, leaves an event loop marked as running and breaks
every async test that comes after it). The browser is an installed Chromium
(CHROMIUM_PATH, or `chromium` on PATH), else the one `uv run playwright install chromium`
downloads. Without either these tests are skipped, saying so; with CI set, they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from django.conf import global_settings
from django.test import AsyncClient
from playwright.async_api import Browser, BrowserContext, async_playwright
from playwright.async_api import Error as PlaywrightError
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.processes import LiveServer, Worker

PASSWORD = "a browser's password 1"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


def no_browser(reason: str) -> None:
    message = (
        f"{reason}: install Chromium (Debian: apt-get install chromium; elsewhere: "
        "uv run playwright install chromium) or set CHROMIUM_PATH"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI must run every test: {message}")
    pytest.skip(message)


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Chromium: CHROMIUM_PATH, else `chromium` on PATH, else the one `playwright install` downloads."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(executable_path=path)
        except PlaywrightError as error:
            if path is None and "Executable doesn't exist" in error.message:
                no_browser("no Chromium to drive")
            raise
        yield browser
        await browser.close()


@dataclass
class Site:
    """The running site, its first user, and a way to start its task worker."""

    url: str
    user: User
    start_worker: Callable[[], Worker]

    async def context(self, browser: Browser, *, logged_in: bool = True, **options: object) -> BrowserContext:
        """A browser profile of its own, signed in as the user unless ``logged_in`` is false."""
        context = await browser.new_context(base_url=self.url, **{**DESKTOP, **options})  # type: ignore[arg-type]
        if logged_in:
            client = AsyncClient()
            await client.aforce_login(self.user)
            session = client.cookies["sessionid"].value
            await context.add_cookies([{"name": "sessionid", "value": session, "url": self.url}])
        return context


@pytest.fixture
def site(
    live_server_factory: Callable[..., LiveServer],
    worker_factory: Callable[..., Worker],
    settings: Settings,
    transactional_db: None,
    request: pytest.FixtureRequest,
) -> Site:
    """uvicorn on the test database, with the environment of ``@pytest.mark.server_env(NAME=value)`` if any.

    The task worker starts when the test calls ``site.start_worker()``.
    """
    # The server checks passwords with the real hashers, not the suite's fast MD5.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    marker = request.node.get_closest_marker("server_env")
    # DEBUG off, as in production: error pages are the site's own, templates are cached.
    server = live_server_factory(DEBUG="0", BROADCAST_POLL_INTERVAL="0.2", **(marker.kwargs if marker else {}))
    return Site(server.url, user, lambda: worker_factory())
