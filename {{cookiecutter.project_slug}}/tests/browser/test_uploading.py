"""Uploading in a real browser: logging in, dropping files, progress, cancelling, the keyboard, and no JavaScript."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from playwright.async_api import Browser, expect

from {{ cookiecutter.project_slug }}.uploads.models import Upload

from tests.support.browser import drop_files, item, payload
from tests.support.files import CSV, HTML_AS_PNG, TEXT, png_bytes

from .conftest import PASSWORD, Site

WAIT = 15_000  # milliseconds, for what the worker does


async def uploads_named(*names: str) -> list[Upload]:
    return [upload async for upload in Upload.objects.filter(original_name__in=names)]


async def test_logging_in_through_the_form(browser: Browser, site: Site) -> None:
    context = await site.context(browser, logged_in=False)
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_role("link", name="Sign in to upload files").click()
    await page.get_by_label("{% if cookiecutter.username_type == "email" %}Email{% else %}Login{% endif %}").fill("alice@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/uploads/new/$"))
    await expect(page.locator(".account-name")).to_have_text("Signed in as {% if cookiecutter.username_type == "email" %}alice@example.com{% else %}alice{% endif %}")


async def test_three_dropped_files_one_refused_the_others_done_without_a_reload(browser: Browser, site: Site) -> None:
    site.start_worker()
    page = await (await site.context(browser)).new_page()
    await page.goto("/uploads/new/")
    await page.evaluate("window.notReloaded = true")
    await drop_files(
        page,
        "[data-dropzone]",
        [
            ("photo.png", png_bytes(), "image/png"),
            ("page.png", HTML_AS_PNG, "image/png"),
            ("people.csv", CSV, "text/csv"),
        ],
    )
    await expect(item(page, "page.png").locator(".upload-item-status")).to_contain_text(
        "Refused: 'page.png' is not an accepted type: its contents are text/html (HTML page)."
    )
    for name in ("photo.png", "people.csv"):
        await expect(item(page, name).locator(".upload-item-status")).to_have_text("Done", timeout=WAIT)
        await expect(item(page, name).get_by_role("link", name=name)).to_have_attribute("href", re.compile("/uploads/"))
    assert await page.evaluate("window.notReloaded") is True
    assert {upload.original_name for upload in await uploads_named("photo.png", "page.png", "people.csv")} == {
        "photo.png",
        "people.csv",
    }


async def test_a_slow_upload_shows_its_progress_and_can_be_cancelled(browser: Browser, site: Site) -> None:
    context = await site.context(browser)
    page = await context.new_page()
    await page.goto("/uploads/new/")
    # The network as a slow uplink sees it: 2 MiB take about eight seconds.
    devtools = await context.new_cdp_session(page)
    await devtools.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 256 * 1024},
    )
    await page.set_input_files("#upload-files", files=[payload("big.txt", TEXT * 50_000, "text/plain")])
    upload = item(page, "big.txt")
    await expect(upload.locator(".upload-item-status")).to_have_text(re.compile(r"Uploading… ([1-9]\d?)%"))
    assert 0 < await upload.locator("progress").evaluate("bar => bar.value") < 100
    await upload.get_by_role("button", name="Cancel big.txt").click()
    await expect(upload.locator(".upload-item-status")).to_have_text("Cancelled")
    await expect(upload.locator("progress")).to_have_count(0)
    assert await uploads_named("big.txt") == []


async def test_uploading_with_the_keyboard_alone(browser: Browser, site: Site) -> None:
    site.start_worker()
    page = await (await site.context(browser)).new_page()
    await page.goto("/uploads/new/")
    focused = []
    for _ in range(10):
        await page.keyboard.press("Tab")
        focused.append(await page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if focused[-1] == "upload-files":
            break
    account = "Signed in as {% if cookiecutter.username_type == "email" %}alice@example.com{% else %}alice{% endif %}"
    assert focused == [
        "Skip to content",
        "My Async Project",
        "Your uploads",
        "Upload files",
        account,
        "Sign out",
        "upload-files",
    ]
    async with page.expect_file_chooser() as chooser:
        await page.keyboard.press("Space")
    await (await chooser.value).set_files([payload("notes.txt", TEXT, "text/plain")])
    await expect(item(page, "notes.txt").locator(".upload-item-status")).to_have_text("Done", timeout=WAIT)
    # Screen readers hear it: the page's live region says so.
    await expect(page.locator("[data-announcer]")).to_have_text("notes.txt: Done")


async def test_the_plain_form_uploads_without_javascript(browser: Browser, site: Site) -> None:
    page = await (await site.context(browser, java_script_enabled=False)).new_page()
    await page.goto("/uploads/new/")
    await page.set_input_files("#upload-files", files=[payload("notes.txt", TEXT, "text/plain")])
    await page.get_by_role("button", name="Upload").click()
    await expect(page).to_have_url(re.compile(r"/uploads/[0-9a-f-]{36}/$"))
    message = "Uploaded notes.txt. Each file is inspected in the background."
    await expect(page.locator(".messages")).to_have_text(message)
    await expect(page.locator("h1")).to_have_text("notes.txt")


async def test_downloading_a_file(browser: Browser, site: Site) -> None:
    site.start_worker()
    page = await (await site.context(browser)).new_page()
    await page.goto("/uploads/new/")
    await page.set_input_files("#upload-files", files=[payload("people.csv", CSV, "text/csv")])
    await item(page, "people.csv").get_by_role("link", name="people.csv").click()
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download").click()
    download = await download_info.value
    assert download.suggested_filename == "people.csv"
    assert await asyncio.to_thread(Path(await download.path()).read_bytes) == CSV
