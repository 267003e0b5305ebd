"""Every page, light and dark, desktop and phone: no accessibility violations (axe-core), no script errors.

With SCREENSHOT_DIR set (`make screenshots`), each page is also saved there as
``<page>-<light|dark>-<desktop|phone>.jpg``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Browser, Error, Page, expect

from {{ cookiecutter.project_slug }}.uploads import lifecycle
from {{ cookiecutter.project_slug }}.uploads.models import Upload
from {{ cookiecutter.project_slug }}.users.models import User

from tests.support.browser import drop_files, item
from tests.support.files import CSV, HTML_AS_PNG, TEXT, png_bytes, png_without_pixels, stored

from .conftest import DESKTOP, PHONE, Site

WAIT = 15_000  # milliseconds
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")
VARIANTS = [(scheme, device) for scheme in ("light", "dark") for device in ("desktop", "phone")]


def record_error(errors: list[str], error: Error) -> None:
    errors.append(str(error))


def sample_uploads(user: User) -> dict[str, Upload]:
    """One upload of each kind the detail page shows, processed as the worker would; one still waiting."""
    made = {
        "image": stored(user, png_bytes(480, 320), name="harbour.png"),
        "table": stored(user, CSV, name="people.csv"),
        "json": stored(user, b'{"name": "demo",\n "items": [1, 2 3]}', name="settings.json"),
        "text": stored(user, TEXT * 40, name="notes.txt"),
        "failed": stored(user, png_without_pixels(), name="scan.png"),
    }
    for upload in made.values():
        lifecycle.process(upload.pk)
    made["waiting"] = stored(user, CSV, name="later.csv")
    return made


async def upload_batch(page: Page) -> None:
    """The upload page after a drop of two files, one refused, the other done."""
    files = [("sunset.png", png_bytes(64, 40), "image/png"), ("page.png", HTML_AS_PNG, "image/png")]
    await drop_files(page, "[data-dropzone]", files)
    await expect(item(page, "sunset.png").locator(".upload-item-status")).to_have_text("Done", timeout=WAIT)


@pytest.mark.parametrize(("scheme", "device"), VARIANTS)
async def test_every_page_is_accessible_and_error_free(browser: Browser, site: Site, scheme: str, device: str) -> None:
    site.start_worker()  # for the upload batch
    uploads = await sync_to_async(sample_uploads)(site.user)
    axe = Axe()
    pages: list[tuple[str, str, bool, Callable[[Page], Awaitable[None]] | None]] = [
        ("home", "/", False, None),
        ("login", "/accounts/login/", False, None),
        ("signup", "/accounts/signup/", False, None),
        ("password-reset", "/accounts/password/reset/", False, None),
        ("home-signed-in", "/", True, None),
        ("account-email", "/accounts/email/", True, None),
        ("account-password", "/accounts/password/change/", True, None),
        ("account-two-factor", "/accounts/2fa/", True, None),
        ("upload", "/uploads/new/", True, None),
        ("upload-batch", "/uploads/new/", True, upload_batch),
        ("list", "/uploads/", True, None),
        *((f"detail-{kind}", upload.get_absolute_url(), True, None) for kind, upload in uploads.items()),
        ("not-found", "/no-such-page/", True, None),
    ]
    viewport = {**(PHONE if device == "phone" else DESKTOP), "color_scheme": scheme}
    contexts = {logged_in: await site.context(browser, logged_in=logged_in, **viewport) for logged_in in (False, True)}
    for name, path, logged_in, prepare in pages:
        page = await contexts[logged_in].new_page()
        errors: list[str] = []
        page.on("pageerror", partial(record_error, errors))
        response = await page.goto(path)
        assert response is not None
        if prepare is not None:
            await prepare(page)
        results = await axe.run(page)
        assert results.violations_count == 0, f"{name} ({scheme}, {device}):\n{results.generate_report()}"
        assert errors == [], f"{name}: {errors}"
        if SCREENSHOT_DIR:
            path_out = Path(SCREENSHOT_DIR) / f"{name}-{scheme}-{device}.jpg"
            await page.screenshot(path=path_out, full_page=True, type="jpeg", quality=80, animations="disabled")
        await page.close()
