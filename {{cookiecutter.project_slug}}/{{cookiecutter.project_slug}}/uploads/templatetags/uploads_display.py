"""Template filters for upload pages (the library "uploads_display")."""

from __future__ import annotations

from django import template

from ..limits import human_size as _human_size
from ..presentation import type_name as _type_name

register = template.Library()


@register.filter
def type_name(content_type: str) -> str:
    return _type_name(content_type)


@register.filter
def human_size(size: int) -> str:
    return _human_size(size)
