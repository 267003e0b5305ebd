from django.contrib import admin

from .models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin[Upload]):
    list_display = ["original_name", "owner", "content_type", "size", "status", "created_at"]
    list_filter = ["status", "content_type"]
    search_fields = ["original_name", "sha256", "owner__username"]
    readonly_fields = [field.name for field in Upload._meta.get_fields() if field.concrete]
