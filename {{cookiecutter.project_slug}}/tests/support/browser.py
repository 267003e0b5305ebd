"""Helpers for the browser tests (tests/browser/): files, drops, the upload page's entries."""

from __future__ import annotations

import base64

from playwright.async_api import FilePayload, Locator, Page


async def drop_files(page: Page, selector: str, files: list[tuple[str, bytes, str]]) -> None:
    """Drop files on an element, as a drag from the desktop does (Playwright has no file drop of its own)."""
    transfer = await page.evaluate_handle(
        """files => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, {type: f.type}));
            }
            return transfer;
        }""",
        [{"name": name, "data": base64.b64encode(data).decode(), "type": kind} for name, data, kind in files],
    )
    for event in ("dragenter", "dragover", "drop"):
        await page.dispatch_event(selector, event, {"dataTransfer": transfer})


def payload(name: str, content: bytes, mime_type: str) -> FilePayload:
    """A file for an input or a file chooser, made in memory."""
    return {"name": name, "mimeType": mime_type, "buffer": content}


def item(page: Page, name: str) -> Locator:
    """The upload page's entry for one file."""
    return page.locator(".upload-item", has=page.locator(".upload-item-name", has_text=name))
