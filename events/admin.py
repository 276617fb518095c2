from django.contrib import admin

from .models import ImportBatch, LifeEvent, RegistryRecord, RejectedRow, TriggerRule


class RejectedRowInline(admin.TabularInline):
    model = RejectedRow
    fields = ("file_name", "line", "record_id", "column", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    show_change_link = False


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ("started_at", "source", "file_format", "file_name", "status", "read", "stored", "updated", "duplicates", "rejected")
    list_filter = ("source", "status", "file_format")
    search_fields = ("file_name", "=id", "file_sha256")
    readonly_fields = [field.name for field in ImportBatch._meta.fields]
    inlines = [RejectedRowInline]

    def has_add_permission(self, request):
        return False


@admin.register(RejectedRow)
class RejectedRowAdmin(admin.ModelAdmin):
    list_display = ("batch", "file_name", "line", "record_id", "column", "reason")
    list_filter = ("batch__source", "column")
    search_fields = ("record_id", "reason")
    readonly_fields = ("batch", "file_name", "line", "record_id", "column", "reason")

    def has_add_permission(self, request):
        return False


@admin.register(RegistryRecord)
class RegistryRecordAdmin(admin.ModelAdmin):
    list_display = ("source", "record_id", "version", "batch", "updated_at")
    list_filter = ("source",)
    search_fields = ("=record_id",)
    readonly_fields = ("source", "record_id", "content_hash", "data", "version", "batch", "created_at", "updated_at")


@admin.register(LifeEvent)
class LifeEventAdmin(admin.ModelAdmin):
    list_display = ("event_type", "role", "occurred_on", "citizen", "source", "record_id", "created_at")
    list_filter = ("event_type", "role", "source")
    search_fields = ("=record_id", "=subject_snils", "citizen__last_name")
    raw_id_fields = ("citizen", "registry_record", "batch")
    date_hierarchy = "occurred_on"


@admin.register(TriggerRule)
class TriggerRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "event_type", "service", "is_active", "valid_from", "valid_until", "offer_valid_days")
    list_filter = ("is_active", "event_type", "service")
    search_fields = ("name", "code")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "code", "description", "event_type", "service", "is_active")}),
        ("Условия", {
            "fields": ("conditions",),
            "description": "Список условий в формате JSON: "
            '[{"field": "event.birth_order", "op": "gte", "value": 2}]. '
            "Поля и операции описаны в docs/rules.md.",
        }),
        ("Сроки", {"fields": ("valid_from", "valid_until", "offer_valid_days", "created_at", "updated_at")}),
    )
