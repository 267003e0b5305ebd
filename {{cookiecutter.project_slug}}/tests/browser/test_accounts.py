"""Accounts in a real browser: creating one from the home page, and signing out."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from .conftest import PASSWORD, Site


async def test_creating_an_account_from_the_home_page(browser: Browser, site: Site) -> None:
    context = await site.context(browser, logged_in=False)
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_role("link", name="Create an account").click()
    await expect(page).to_have_title(re.compile(r"^Create an account · "))
    await page.locator("#id_email").fill("ada@example.com")
{%- if cookiecutter.username_type == "username" %}
    await page.locator("#id_username").fill("ada")
{%- endif %}
    await page.locator("#id_password1").fill(PASSWORD)
    await page.locator("#id_password2").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    # In development the address need not be confirmed first: signed in, where the link pointed.
    await expect(page).to_have_url(re.compile(r"/uploads/new/$"))
    name = "{% if cookiecutter.username_type == "email" %}ada@example.com{% else %}ada{% endif %}"
    await expect(page.locator(".account-name")).to_have_text(f"Signed in as {name}")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/$"))
    await expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
