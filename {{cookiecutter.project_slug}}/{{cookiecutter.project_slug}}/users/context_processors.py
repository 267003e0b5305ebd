from django.conf import settings
from django.http import HttpRequest


def accounts(request: HttpRequest) -> dict[str, bool]:
    """Whether the pages offer sign-up (SIGNUP_OPEN)."""
    return {"signup_open": settings.SIGNUP_OPEN}
