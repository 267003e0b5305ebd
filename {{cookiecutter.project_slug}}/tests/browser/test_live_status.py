"""Live status in a real browser: the worker's changes appear on open pages in place, and without a stream too."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import Browser, expect

from {{ cookiecutter.project_slug }}.uploads import tasks
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.files import CSV, stored

from .conftest import Site

WAIT = 15_000  # milliseconds, for what the worker does


def queued(user: User, name: str) -> Upload:
    """An upload as the form stores it: its file saved, its processing queued."""
    upload = stored(user, CSV, name=name)
    tasks.enqueue(upload.pk)
    return upload


async def test_the_list_follows_the_worker_without_a_reload(browser: Browser, site: Site) -> None:
    await sync_to_async(queued)(site.user, "people.csv")
    page = await (await site.context(browser)).new_page()
    await page.goto("/uploads/")
    await page.evaluate("window.notReloaded = true")
    badge = page.locator("tr", has_text="people.csv").locator(".badge")
    await expect(badge).to_have_text("Pending")
    site.start_worker()
    await expect(badge).to_have_text("Done", timeout=WAIT)
    await expect(page.locator("[data-counts]")).to_have_text("1 done · 0 processing · 0 waiting · 0 failed")
    await expect(page.locator("[data-announcer]")).to_have_text("people.csv: Done")
    assert await page.evaluate("window.notReloaded") is True


async def test_a_new_upload_from_another_tab_appears_in_the_list(browser: Browser, site: Site) -> None:
    site.start_worker()
    page = await (await site.context(browser)).new_page()
    await page.goto("/uploads/")
    await expect(page.get_by_role("heading", name="No uploads yet")).to_be_visible()
    await sync_to_async(queued)(site.user, "from-elsewhere.csv")
    await expect(page.locator("tr", has_text="from-elsewhere.csv").locator(".badge")).to_have_text("Done", timeout=WAIT)


async def test_an_uploads_page_shows_its_result_once_processed(browser: Browser, site: Site) -> None:
    upload = await sync_to_async(queued)(site.user, "people.csv")
    page = await (await site.context(browser)).new_page()
    await page.goto(f"/uploads/{upload.pk}/")
    await page.evaluate("window.notReloaded = true")
    await expect(page.get_by_text("Waiting for the worker.")).to_be_visible()
    site.start_worker()
    await expect(page.locator(".page-heading .badge")).to_have_text("Done", timeout=WAIT)
    await expect(page.get_by_role("row", name="Rows 3")).to_be_visible()
    assert await page.evaluate("window.notReloaded") is True


@pytest.mark.server_env(LIVE_STATUS_MAX_STREAMS_PER_USER="0")
async def test_without_a_stream_the_page_polls(browser: Browser, site: Site) -> None:
    """Every stream refused (429): the list still follows the worker, through the JSON API."""
    await sync_to_async(queued)(site.user, "people.csv")
    page = await (await site.context(browser)).new_page()
    refused = []
    page.on("response", lambda response: refused.append(response.status) if "/events/" in response.url else None)
    await page.goto("/uploads/")
    site.start_worker()
    await expect(page.locator("tr", has_text="people.csv").locator(".badge")).to_have_text("Done", timeout=WAIT)
    assert refused == [429]
    await expect(page.locator("[data-counts]")).to_have_text(re.compile("^1 done"))
