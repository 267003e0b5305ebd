"""URL configuration: https://docs.djangoproject.com/en/6.1/topics/http/urls/"""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

# The admin's login is the site's: one form, with its rate limits and two-factor step.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", include("{{ cookiecutter.project_slug }}.pages.urls")),
    path("", include("{{ cookiecutter.project_slug }}.ops.urls")),
    path("", include("{{ cookiecutter.project_slug }}.uploads.urls")),
{%- if cookiecutter.include_examples == "yes" %}
    path("", include("{{ cookiecutter.project_slug }}.examples.urls")),
{%- endif %}
    # Sign-up, login, logout, email addresses, password reset and change, two-factor.
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
