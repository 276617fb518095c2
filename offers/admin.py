from django.contrib import admin

from django.urls import reverse
from django.utils.html import format_html

from .models import (
    Application,
    ApplicationStatusChange,
    Document,
    Offer,
    Service,
    ServiceOptOut,
)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "agency", "is_active")
    list_filter = ("is_active", "agency")
    search_fields = ("title", "code")


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ("id", "service", "citizen", "status", "created_at", "expires_at")
    list_filter = ("status", "service", "rule")
    search_fields = ("=citizen__snils", "citizen__last_name")
    raw_id_fields = ("citizen", "event", "rule")
    readonly_fields = ("created_at", "decided_at", "prefill")
    date_hierarchy = "created_at"


class StatusChangeInline(admin.TabularInline):
    model = ApplicationStatusChange
    fields = ("changed_at", "status", "note")
    readonly_fields = ("changed_at",)
    extra = 0


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ("number", "service", "citizen", "status", "submitted_at")
    list_filter = ("status", "service")
    search_fields = ("=number", "=citizen__snils", "citizen__last_name")
    raw_id_fields = ("citizen", "offer")
    readonly_fields = ("submitted_at", "updated_at", "data")
    inlines = [StatusChangeInline]


@admin.register(ServiceOptOut)
class ServiceOptOutAdmin(admin.ModelAdmin):
    list_display = ("citizen", "service", "created_at")
    list_filter = ("service",)
    raw_id_fields = ("citizen",)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Read-only: the file opens through the cabinet's download view, which
    checks the official's permission and second factor."""

    list_display = ("id", "title", "content_type", "size", "uploaded_at", "download")
    list_filter = ("content_type",)
    raw_id_fields = ("citizen", "offer")
    exclude = ("file",)
    readonly_fields = (
        "citizen", "offer", "title", "content_type", "size", "original_name",
        "uploaded_at", "download",
    )

    @admin.display(description="файл")
    def download(self, obj):
        url = reverse("cabinet:document-download", args=[obj.pk])
        return format_html('<a href="{}">скачать</a>', url)

    def has_add_permission(self, request):
        return False
