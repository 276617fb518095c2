from django import forms
from django.contrib import admin, messages

from cabinet.models import Citizen, ProfileChange

from . import services
from .models import (
    ImportBatch,
    LifeEvent,
    RegistryRecord,
    RejectedRow,
    TriggerRule,
    UnmatchedDeath,
)


class RejectedRowInline(admin.TabularInline):
    model = RejectedRow
    fields = ("file_name", "line", "record_id", "column", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    show_change_link = False


class ProfileChangeInline(admin.TabularInline):
    """Profile values this batch changed (the cabinet shows them to the
    citizen; here officials see them per load)."""

    model = ProfileChange
    fields = ("citizen", "field", "old_value", "new_value", "record_id", "changed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "source",
        "file_format",
        "file_name",
        "status",
        "read",
        "stored",
        "updated",
        "duplicates",
        "rejected",
        "unmatched",
    )
    list_filter = ("source", "status", "file_format")
    search_fields = ("file_name", "=id", "file_sha256")
    readonly_fields = [field.name for field in ImportBatch._meta.fields]
    inlines = [RejectedRowInline, ProfileChangeInline]

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


class UnmatchedDeathForm(forms.ModelForm):
    citizen = forms.ModelChoiceField(
        queryset=Citizen.objects.all(),
        widget=forms.TextInput,
        label="Гражданин (id)",
        help_text="Id гражданина, которому принадлежит эта запись о смерти.",
    )

    class Meta:
        model = UnmatchedDeath
        fields = ("citizen",)


@admin.register(UnmatchedDeath)
class UnmatchedDeathAdmin(admin.ModelAdmin):
    """The queue of deaths nobody could match: an official reads the record,
    finds the citizen and links them; saving applies the death."""

    form = UnmatchedDeathForm
    list_display = (
        "__str__",
        "reason",
        "candidates",
        "batch",
        "resolved_at",
        "resolved_by",
    )
    list_filter = ("reason", ("resolved_at", admin.EmptyFieldListFilter))
    readonly_fields = (
        "record_data",
        "reason",
        "candidates",
        "batch",
        "resolved_at",
        "resolved_by",
    )

    @admin.display(description="Сведения записи")
    def record_data(self, obj):
        return obj.registry_record.data

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.resolved_at is not None:
            return (*self.readonly_fields, "citizen")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        try:
            services.resolve_unmatched_death(
                obj, form.cleaned_data["citizen"], request.user.get_username()
            )
        except ValueError as error:
            messages.error(request, str(error))


@admin.register(RegistryRecord)
class RegistryRecordAdmin(admin.ModelAdmin):
    list_display = ("source", "record_id", "version", "batch", "updated_at")
    list_filter = ("source",)
    search_fields = ("=record_id",)
    readonly_fields = (
        "source",
        "record_id",
        "content_hash",
        "data",
        "version",
        "batch",
        "created_at",
        "updated_at",
    )


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
