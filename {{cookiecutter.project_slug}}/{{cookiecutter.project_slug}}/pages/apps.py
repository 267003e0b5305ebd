from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The site's own pages: the home page."""

    name = "{{ cookiecutter.project_slug }}.pages"
    label = "pages"
