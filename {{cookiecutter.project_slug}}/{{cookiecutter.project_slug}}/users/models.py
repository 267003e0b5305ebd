from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user. Add fields here rather than in a profile model."""
