"""One page of a queryset for an async view, with the numbers a template or an API needs."""

from __future__ import annotations

from typing import Any

from django.core.paginator import AsyncPaginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest


async def paginate[M: Model](
    request: HttpRequest, queryset: QuerySet[M], per_page: int
) -> tuple[list[M], dict[str, Any]]:
    """The page ``?page=N`` names (out-of-range numbers give the last page) and its pagination facts."""
    paginator = AsyncPaginator(queryset, per_page)
    page = await paginator.aget_page(request.GET.get("page"))
    objects = await page.aget_object_list()
    return objects, {
        "number": page.number,
        "num_pages": await paginator.anum_pages(),
        "count": await paginator.acount(),
        "previous": await page.aprevious_page_number() if await page.ahas_previous() else None,
        "next": await page.anext_page_number() if await page.ahas_next() else None,
    }
