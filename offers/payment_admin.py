"""The agency's side of payments: the names of payment codes, receipts the
citizens confirmed, bank details they sent (with the history of each
payment's details), and the statements issued. Officials read the
citizens' answers here; they change only the "processed" mark."""

from django.contrib import admin, messages
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from proactive_portal.admin_base import ReadOnlyAdmin

from . import payments
from .models import BankDetails, PaymentReceipt, PaymentStatement, PaymentType


def _payment_name(event) -> str:
    return payments.as_payment(event).name


@admin.register(PaymentType)
class PaymentTypeAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "agency")
    search_fields = ("title", "code")


@admin.register(PaymentReceipt)
class PaymentReceiptAdmin(ReadOnlyAdmin):
    list_display = ("confirmed_at", "citizen", "payment", "amount", "scheduled_on")
    list_select_related = ("citizen", "event")
    search_fields = ("=citizen__snils", "citizen__last_name", "=event__record_id")
    date_hierarchy = "confirmed_at"
    fields = ("citizen", "event", "record", "amount", "scheduled_on", "confirmed_at")
    readonly_fields = fields

    @admin.display(description=_("выплата"))
    def payment(self, obj):
        return _payment_name(obj.event)

    @admin.display(description=_("запись реестра"))
    def record(self, obj):
        return f"{obj.event.source}:{obj.event.record_id}"


class ProcessedFilter(admin.SimpleListFilter):
    title = _("учтены")
    parameter_name = "processed"

    def lookups(self, request, model_admin):
        return [("no", _("ждут")), ("yes", _("учтены"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(processed_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(processed_at__isnull=False)
        return queryset


@admin.register(BankDetails)
class BankDetailsAdmin(ReadOnlyAdmin):
    list_display = (
        "submitted_at",
        "citizen",
        "payment",
        "bik",
        "account",
        "payment_status",
        "processed_at",
    )
    list_filter = (ProcessedFilter, "payment_status")
    list_select_related = ("citizen", "event")
    search_fields = ("=citizen__snils", "citizen__last_name", "=event__record_id")
    date_hierarchy = "submitted_at"
    fields = (
        "citizen",
        "event",
        "record",
        "bik",
        "account",
        "payment_status",
        "submitted_at",
        "processed_at",
        "processed_by",
        "history",
    )
    readonly_fields = fields
    actions = ["mark_processed"]

    def has_change_permission(self, request, obj=None):
        # The list action needs it; every field stays read-only.
        return request.user.has_perm("offers.change_bankdetails")

    @admin.display(description=_("выплата"))
    def payment(self, obj):
        return _payment_name(obj.event)

    @admin.display(description=_("запись реестра"))
    def record(self, obj):
        return f"{obj.event.source}:{obj.event.record_id}"

    @admin.display(description=_("все реквизиты по этой выплате"))
    def history(self, obj):
        rows = BankDetails.objects.filter(event_id=obj.event_id).order_by(
            "-submitted_at", "-id"
        )
        return format_html_join(
            "",
            "<div>{} — БИК {}, счёт {}{}</div>",
            (
                (
                    f"{row.submitted_at:%d.%m.%Y %H:%M}",
                    row.bik,
                    row.account,
                    " (в силе)" if n == 0 else "",
                )
                for n, row in enumerate(rows)
            ),
        )

    @admin.action(description=_("Отметить как учтённые"), permissions=["change"])
    def mark_processed(self, request, queryset):
        count = payments.mark_bank_details_processed(
            list(queryset.values_list("pk", flat=True)), request.user
        )
        self.message_user(
            request, _("Учтено реквизитов: %(n)d.") % {"n": count}, messages.SUCCESS
        )


@admin.register(PaymentStatement)
class PaymentStatementAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "citizen", "date_from", "date_to", "payments", "code")
    list_select_related = ("citizen", "document")
    search_fields = ("=citizen__snils", "citizen__last_name")
    date_hierarchy = "created_at"
    fields = ("citizen", "date_from", "date_to", "payments", "created_at", "code")
    readonly_fields = fields

    @admin.display(description=_("код проверки"))
    def code(self, obj):
        return obj.document.verification_code_display
