from django.contrib import admin
from django.http import HttpRequest

from .models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin[Upload]):
    """Uploads to look at: they come from users' requests, so the admin adds and edits none."""

    list_display = ["original_name", "owner", "content_type", "size", "status", "created_at"]
    list_filter = ["status", "content_type"]
    search_fields = ["original_name", "sha256", "owner__username"]
    # The stored name as text: MEDIA_ROOT has no public URL, a link would be a 404.
    readonly_fields = [
        "stored_as",
        *(field.name for field in Upload._meta.get_fields() if field.concrete and field.name != "file"),
    ]
    exclude = ["file"]

    @admin.display(description="stored as")
    def stored_as(self, upload: Upload) -> str:
        return str(upload.file.name)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
