"""URL configuration: https://docs.djangoproject.com/en/6.1/topics/http/urls/"""

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

urlpatterns = [
    path("", include("{{ cookiecutter.project_slug }}.core.urls")),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("admin/", admin.site.urls),
]
