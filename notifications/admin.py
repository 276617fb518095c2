import datetime

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, linebreaks
from django.utils.translation import gettext_lazy as _

from proactive_portal.admin_base import ReadOnlyAdmin

from . import services
from .models import (
    DeliveryProfile,
    MessageTemplate,
    Notification,
    ProblemNotification,
    PushSubscription,
)
from .sms_parts import sms_length

PROBLEM_STATUSES = [
    Notification.Status.FAILED,
    Notification.Status.UNKNOWN,
    Notification.Status.UNDELIVERED,
]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The outbox is the record of what the portal told whom: rows are
    written with the change they report (notifications.services), never
    by hand; failures are sent again from «Сбои доставки»."""

    list_display = (
        "id",
        "kind",
        "channel",
        "status",
        "citizen",
        "created_at",
        "sent_at",
        "attempts",
    )
    list_filter = ("channel", "status", "kind")
    search_fields = ("=object_key", "=citizen__snils")
    raw_id_fields = ("citizen", "offer", "application")
    readonly_fields = (
        "created_at",
        "claimed_at",
        "sent_at",
        "read_at",
        "provider_message_id",
        "last_error",
        "gateway",
        "status_changed_at",
    )
    date_hierarchy = "created_at"


@admin.register(ProblemNotification)
class ProblemNotificationAdmin(admin.ModelAdmin):
    """Failed and unknown notifications, with the retry action and the
    delivery figures per channel above the list."""

    list_display = (
        "id",
        "kind",
        "channel",
        "status",
        "gateway",
        "attempts",
        "last_error",
        "status_changed_at",
    )
    list_filter = ("status", "channel", "kind", "gateway")
    search_fields = ("=object_key",)
    actions = ["retry"]
    readonly_fields = [f.name for f in Notification._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=PROBLEM_STATUSES)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Отправить ещё раз"))
    def retry(self, request, queryset):
        count = services.retry_notifications(
            list(queryset.values_list("pk", flat=True))
        )
        self.message_user(
            request,
            _("Поставлено в очередь: %(count)d") % {"count": count},
            messages.SUCCESS,
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "figures": services.delivery_figures(),
        }
        return super().changelist_view(request, extra_context)


def _sample_context():
    """Sample data for the preview: nobody's real data."""
    from cabinet.models import Citizen
    from offers.models import Application, Offer, Service

    citizen = Citizen(pk=1, first_name="Мария", last_name="Иванова", region_code="77")
    service = Service(title="Материнский (семейный) капитал", agency="Социальный фонд")
    offer = Offer(
        pk=123,
        citizen=citizen,
        service=service,
        short_code="123456",
        expires_at=timezone.now() + datetime.timedelta(days=30),
    )
    application = Application(
        pk=45, citizen=citizen, service=service, number="20261203-00000123"
    )
    return {
        "citizen": citizen,
        "offer": offer,
        "application": application,
        "base_url": "https://portal.example",
        "notification": None,
    }


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("kind", "channel", "language", "is_active", "updated_at")
    list_filter = ("kind", "channel", "language", "is_active")
    readonly_fields = ("preview", "sms_parts")
    fields = (
        "kind",
        "channel",
        "language",
        "is_active",
        "subject",
        "body",
        "html_body",
        "preview",
        "sms_parts",
    )

    @admin.display(description=_("Предпросмотр на примере"))
    def preview(self, obj):
        if not obj or not obj.body:
            return _("Сохраните шаблон, чтобы увидеть предпросмотр.")
        try:
            subject, text, html = services.render_template(obj, _sample_context())
        except Exception as error:  # a template error is shown, not raised
            return format_html(
                "<strong>{}</strong>", f"{type(error).__name__}: {error}"
            )
        return format_html("<p><strong>{}</strong></p>{}", subject, linebreaks(text))

    @admin.display(description=_("Частей SMS"))
    def sms_parts(self, obj):
        if not obj or not obj.body:
            return "—"
        try:
            _subject, text, _html = services.render_template(obj, _sample_context())
        except Exception:
            return "—"
        length = sms_length(text)
        return _("%(parts)d (%(units)d знаков, %(encoding)s)") % {
            "parts": length.parts,
            "units": length.units,
            "encoding": length.encoding.upper(),
        }


@admin.register(DeliveryProfile)
class DeliveryProfileAdmin(admin.ModelAdmin):
    list_display = (
        "citizen",
        "quiet_hours",
        "daily_cap",
        "email_unusable_at",
        "phone_unusable_at",
    )
    raw_id_fields = ("citizen",)


@admin.register(PushSubscription)
class PushSubscriptionAdmin(ReadOnlyAdmin):
    """A citizen's browser subscribes itself; an endpoint added here by
    hand would receive the citizen's notices."""

    list_display = ("id", "citizen", "created_at")
    raw_id_fields = ("citizen",)
