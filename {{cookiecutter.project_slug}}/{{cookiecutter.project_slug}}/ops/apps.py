from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health checks, request ids, sessions, the locked migrate command."""

    name = "{{ cookiecutter.project_slug }}.ops"
    label = "ops"

    def ready(self) -> None:
{%- if cookiecutter.sentry == "yes" %}
        from django.conf import settings

        if settings.SENTRY_DSN:
            from . import error_tracking

            # First: a failed task is reported while the job's request id is still set.
            error_tracking.connect()

{%- endif %}
        from . import job_request_ids

        job_request_ids.connect()
