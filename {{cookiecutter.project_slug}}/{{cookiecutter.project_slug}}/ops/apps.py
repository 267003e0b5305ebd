from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health checks, request ids, sessions, the locked migrate command."""

    name = "{{ cookiecutter.project_slug }}.ops"
    label = "ops"
