"""URL configuration: https://docs.djangoproject.com/en/6.1/topics/http/urls/"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("{{ cookiecutter.project_slug }}.pages.urls")),
    path("", include("{{ cookiecutter.project_slug }}.ops.urls")),
    path("", include("{{ cookiecutter.project_slug }}.uploads.urls")),
{%- if cookiecutter.include_examples == "yes" %}
    path("", include("{{ cookiecutter.project_slug }}.examples.urls")),
{%- endif %}
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
