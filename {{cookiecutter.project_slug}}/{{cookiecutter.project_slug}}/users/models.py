from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager


class UserManager(DjangoUserManager["User"]):
    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra_fields: Any
    ) -> User:
        """A superuser whose address needs no confirmation mail: the operator running createsuperuser typed it."""
        from allauth.account.models import EmailAddress  # here: allauth's models load after this module

        user = super().create_superuser(username, email, password, **extra_fields)
        if user.email:
            EmailAddress.objects.using(self._db).create(user=user, email=user.email, primary=True, verified=True)
        return user


class User(AbstractUser):
    """The project's user. Add fields here rather than in a profile model."""

    objects: ClassVar[UserManager] = UserManager()

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Stored lowercase, as allauth stores and looks up addresses: "Ada@Example.com" typed
        # in the admin or at createsuperuser must still find its account at login.
        self.email = self.email.lower()
        super().save(*args, **kwargs)
