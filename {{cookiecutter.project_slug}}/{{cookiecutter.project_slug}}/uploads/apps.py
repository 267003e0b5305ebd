from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.uploads"
    label = "uploads"
