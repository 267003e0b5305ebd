"""Test clients signed in as a user."""

from __future__ import annotations

from django.test import AsyncClient

from {{ cookiecutter.project_slug }}.users.models import User


async def logged_in(user: User, *, enforce_csrf_checks: bool = False) -> AsyncClient:
    """An async client with ``user``'s session."""
    client = AsyncClient(enforce_csrf_checks=enforce_csrf_checks)
    await client.aforce_login(user)
    return client


async def logged_in_as(username: str) -> tuple[AsyncClient, User]:
    """A client logged in as a new user of that name, and the user."""
    user = await User.objects.acreate(username=username)
    return await logged_in(user), user
