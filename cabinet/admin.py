from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from proactive_portal.admin_base import ReadOnlyAdmin

from .models import AuditEntry, Citizen, ErrorReport


@admin.register(Citizen)
class CitizenAdmin(ReadOnlyAdmin):
    """Officials read the digital profile; nobody edits it here. Personal
    data comes from the registries (with its history, ProfileChange), the
    phone and email from the citizen, who proves them; an edit by hand
    would keep their proof and show as the registry's."""

    list_display = ("full_name", "snils_display", "birth_date", "region_code", "proactive_mode", "death_date")
    list_filter = ("proactive_mode", "sex", "region_code")
    search_fields = ("=snils", "last_name", "first_name", "middle_name")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at", "source_record_id")
    date_hierarchy = "birth_date"

    @admin.display(description="ФИО", ordering="last_name")
    def full_name(self, obj):
        return obj.full_name

    @admin.display(description="СНИЛС", ordering="snils")
    def snils_display(self, obj):
        return obj.snils_display

    def get_search_results(self, request, queryset, search_term):
        # SNILS is stored as 11 digits; officials type it with separators.
        digits = "".join(ch for ch in search_term if ch.isdigit())
        if len(digits) == 11:
            search_term = digits
        return super().get_search_results(request, queryset, search_term)


@admin.register(ErrorReport)
class ErrorReportAdmin(admin.ModelAdmin):
    list_display = ("id", "citizen", "field", "status", "created_at")
    list_filter = ("status", "field")
    raw_id_fields = ("citizen",)
    readonly_fields = ("citizen", "field", "comment", "created_at")


def _action_label(action: str) -> str:
    return dict(AuditEntry.Action.choices).get(action, action)


class ActionFilter(admin.SimpleListFilter):
    """The actions the log holds, by their names (an admin action's name
    is its own)."""

    title = _("действие")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        actions = AuditEntry.objects.order_by("action").values_list("action", flat=True)
        return [(action, _action_label(action)) for action in actions.distinct()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The access log, for those who check the officials: superusers and
    holders of "cabinet.view_auditentry", which the officials' group has
    not. Nobody changes or deletes an entry. Citizens show by id, so that
    reading the log is no view of their data."""

    list_display = (
        "at",
        "user",
        "action_name",
        "content_type",
        "object_id",
        "citizen_number",
        "searched",
    )
    list_filter = (
        ("user", admin.RelatedOnlyFieldListFilter),
        ActionFilter,
        ("content_type", admin.RelatedOnlyFieldListFilter),
        "at",
    )
    list_select_related = ("user", "content_type")
    search_fields = ("=citizen__id",)
    search_help_text = _("Id гражданина")
    date_hierarchy = "at"
    fields = list_display
    readonly_fields = list_display

    @admin.display(description=_("действие"), ordering="action")
    def action_name(self, entry):
        return _action_label(entry.action)

    @admin.display(description=_("id гражданина"), ordering="citizen_id")
    def citizen_number(self, entry):
        return entry.citizen_id or "—"

    def get_search_results(self, request, queryset, search_term):
        # A citizen's id, compared as a number (the index is on the id).
        term = search_term.strip()
        if not term:
            return queryset, False
        if not term.isdigit():
            return queryset.none(), False
        return queryset.filter(citizen_id=int(term)), False
