from django.contrib import admin

from .models import Application, ApplicationStatusChange, Offer, Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "agency", "is_active")
    list_filter = ("is_active", "agency")
    search_fields = ("title", "code")


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = (
        "id", "service", "citizen", "status", "attempt", "created_at", "expires_at",
    )
    list_filter = ("status", "service", "rule")
    search_fields = ("=citizen__snils", "citizen__last_name")
    raw_id_fields = ("citizen", "event", "rule", "rule_version")
    readonly_fields = (
        "created_at", "decided_at", "reminded_at", "prefill", "attempt",
        "status_reason",
    )
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
