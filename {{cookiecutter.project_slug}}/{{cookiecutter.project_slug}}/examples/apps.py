from django.apps import AppConfig


class ExamplesConfig(AppConfig):
    """Example features built with the toolkit: a link preview and a staff dashboard. Nothing imports them."""

    name = "{{ cookiecutter.project_slug }}.examples"
    label = "examples"
