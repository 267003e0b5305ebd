from django.contrib.admin.views.decorators import staff_member_required
from django.urls import path

from .views import DashboardView, LinkPreviewView

urlpatterns = [
    path("link-preview", LinkPreviewView.as_view(), name="link-preview"),
    # Staff only: the check runs before the view, so the cached page never reaches anyone else.
    path("dashboard", staff_member_required(DashboardView.as_view()), name="dashboard"),
]
