from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from cabinet.models import Citizen, ProfileChange
from proactive_portal.admin_base import ReadOnlyAdmin

from . import services
from .models import (
    ImportBatch,
    LifeEvent,
    RegistryRecord,
    RejectedRow,
    RuleVersion,
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

    def has_delete_permission(self, request, obj=None):
        return False  # a batch is the record of what a registry sent


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


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    fk_name = "rule"
    fields = (
        "number", "approved_at", "author", "approved_by", "is_active",
        "valid_from", "valid_until", "trigger_date_field", "days_before",
        "conditions",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    verbose_name_plural = _("утверждённые версии")


@admin.register(TriggerRule)
class TriggerRuleAdmin(SimpleHistoryAdmin):
    """Officials edit the draft; it takes effect when a second official
    approves it (the button on the page, or the list action). The dry run
    button shows what the form, as filled in, would do, without saving."""

    change_form_template = "admin/events/triggerrule/change_form.html"
    list_display = (
        "name", "event_type", "service", "is_active", "version_in_force",
        "awaiting_approval", "changed_by", "valid_from", "valid_until",
    )
    list_filter = ("is_active", "event_type", "service")
    search_fields = ("name", "code")
    readonly_fields = ("current_version", "changed_by", "created_at", "updated_at")
    actions = ["approve_selected"]
    inlines = [RuleVersionInline]
    history_list_display = ["is_active", "conditions"]
    fieldsets = (
        (None, {"fields": (
            "name", "code", "description", "event_type", "service", "is_active",
        )}),
        (_("Условия"), {
            "fields": ("conditions",),
            "description": _(
                "Список условий в формате JSON: "
                '[{"field": "event.birth_order", "op": "gte", "value": 2}]. '
                "Поля и операции описаны в docs/rules.md."
            ),
        }),
        (_("Срабатывание по дате"), {
            "fields": ("trigger_date_field", "days_before"),
        }),
        (_("Сроки"), {"fields": (
            "valid_from", "valid_until", "offer_valid_days", "reminder_days_before",
            "reoffer_after_days", "reoffer_limit", "lookback_days",
        )}),
        (_("Утверждение"), {"fields": (
            "current_version", "changed_by", "created_at", "updated_at",
        )}),
    )

    @admin.display(description=_("версия в силе"))
    def version_in_force(self, rule):
        return rule.current_version.number if rule.current_version else "—"

    @admin.display(description=_("ждёт утверждения"), boolean=True)
    def awaiting_approval(self, rule):
        return rule.has_pending_change

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "current_version", "service", "changed_by"
        )

    def save_model(self, request, obj, form, change):
        # The one who saves a change is its author; someone else approves.
        obj.changed_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        urls = [
            path(
                "add/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="events_triggerrule_dry_run_add",
            ),
            path(
                "<path:object_id>/change/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="events_triggerrule_dry_run",
            ),
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="events_triggerrule_approve",
            ),
        ]
        return urls + super().get_urls()

    def _approve(self, request, rule) -> bool:
        try:
            version = services.approve_rule(rule.pk, request.user)
        except services.RuleApprovalError as error:
            self.message_user(request, f"«{rule}»: {error}", messages.ERROR)
            return False
        self.message_user(
            request,
            _(
                "«%(rule)s»: утверждена версия %(number)s, действует со "
                "следующей проверки."
            )
            % {"rule": rule, "number": version.number},
            messages.SUCCESS,
        )
        return True

    @admin.action(description=_("Утвердить изменения (второй сотрудник)"))
    def approve_selected(self, request, queryset):
        for rule in queryset:
            self._approve(request, rule)

    def approve_view(self, request, object_id):
        rule = self.get_object(request, object_id)
        if rule is None:
            raise Http404
        if request.method != "POST" or not self.has_change_permission(request, rule):
            raise PermissionDenied
        self._approve(request, rule)
        return redirect("admin:events_triggerrule_change", rule.pk)

    def dry_run_view(self, request, object_id=None):
        """Validate the posted form and run the rule dry; nothing is saved."""
        rule = self.get_object(request, object_id) if object_id else None
        if object_id and rule is None:
            raise Http404
        allowed = (
            self.has_change_permission(request, rule)
            if rule
            else self.has_add_permission(request)
        )
        if request.method != "POST" or not allowed:
            raise PermissionDenied

        form_class = self.get_form(request, rule, change=rule is not None)
        form = form_class(request.POST, instance=rule)
        report = None
        if form.is_valid():
            report = services.dry_run(form.save(commit=False))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Проверка правила на загруженных данных"),
            "rule": rule,
            "form": form,
            "report": report,
            "held_back_labels": services.HELD_BACK,
        }
        return TemplateResponse(
            request, "admin/events/triggerrule/dry_run.html", context
        )


@admin.register(RuleVersion)
class RuleVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "rule", "number", "is_active", "author", "approved_by", "approved_at",
    )
    list_filter = ("is_active", "event_type")
    readonly_fields = [field.name for field in RuleVersion._meta.fields]

