"""The home page."""

import html
import re
from http import HTTPStatus

from django.conf import settings
from django.test import AsyncClient


async def test_home_page_shows_the_site_name_as_written(async_client: AsyncClient) -> None:
    """Whatever the project's name (quotes, ampersands, braces), the page shows it as it was typed."""
    response = await async_client.get("/")
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    heading, title = re.search(r"<h1>(.*?)</h1>", page), re.search(r"<title>(.*?)</title>", page)
    assert heading
    assert title
    assert html.unescape(heading[1]) == html.unescape(title[1]) == settings.SITE_NAME
