from django.contrib import admin

from proactive_portal.admin_base import ReadOnlyAdmin

from .models import Citizen, ErrorReport


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
