from django.urls import path

from .views import HealthzView, HomeView, ReadyzView

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("readyz", ReadyzView.as_view(), name="readyz"),
]
