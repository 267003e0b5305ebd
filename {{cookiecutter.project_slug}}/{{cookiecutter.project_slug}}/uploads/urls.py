from django.urls import path

from . import api, live, views

app_name = "uploads"

urlpatterns = [
    path("uploads/", views.UploadListView.as_view(), name="list"),
    path("uploads/new/", views.UploadCreateView.as_view(), name="new"),
    path("uploads/<uuid:pk>/", views.UploadDetailView.as_view(), name="detail"),
    path("uploads/<uuid:pk>/download/", views.UploadDownloadView.as_view(), name="download"),
    path("uploads/<uuid:pk>/preview/", views.UploadPreviewView.as_view(), name="preview"),
    path("uploads/events/", live.UploadEventsView.as_view(), name="events"),
    path("uploads/<uuid:pk>/events/", live.UploadEventsView.as_view(), name="upload-events"),
    path("api/uploads/", api.UploadCollectionApi.as_view(), name="api-list"),
    path("api/uploads/<uuid:pk>/", api.UploadItemApi.as_view(), name="api-detail"),
]
