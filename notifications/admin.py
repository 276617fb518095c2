from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "channel", "status", "citizen", "created_at", "sent_at", "attempts")
    list_filter = ("channel", "status", "kind")
    search_fields = ("=object_key", "=citizen__snils")
    raw_id_fields = ("citizen", "offer", "application")
    readonly_fields = ("created_at", "claimed_at", "sent_at", "read_at", "provider_message_id", "last_error")
    date_hierarchy = "created_at"
