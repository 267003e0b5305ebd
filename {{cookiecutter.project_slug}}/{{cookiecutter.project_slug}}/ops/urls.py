from django.urls import path

from .health import HealthzView, ReadyzView

# HealthCheckMiddleware answers these paths first; the routes name them for reverse() and templates.
urlpatterns = [
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("readyz", ReadyzView.as_view(), name="readyz"),
]
