import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """One message on one channel: the outbox row.

    It is written in the same transaction as the change it reports; the
    dispatcher renders and delivers it later. The unique constraint on
    (kind, object_key, channel) is what makes delivery at most once.
    """

    class Kind(models.TextChoices):
        OFFER_CREATED = "offer_created", _("новое предложение")
        OFFER_REMINDER = "offer_reminder", _("напоминание о предложении")
        OFFER_WITHDRAWN = "offer_withdrawn", _("предложение отозвано")
        APPLICATION_SUBMITTED = "application_submitted", _("заявление подано")
        APPLICATION_STATUS = "application_status", _("изменение статуса заявления")
        DEADLINE_REMINDER = "deadline_reminder", _("напоминание о сроке")
        PAYMENT_NOTICE = "payment_notice", _("сведения о выплате")
        CONSENT_EXPIRING = "consent_expiring", _("истекает согласие")

    class Channel(models.TextChoices):
        CABINET = "cabinet", _("личный кабинет")
        EMAIL = "email", _("электронная почта")
        SMS = "sms", _("SMS")
        PUSH = "push", _("push-уведомление")

    class Status(models.TextChoices):
        PENDING = "pending", _("ожидает отправки")
        SENDING = "sending", _("отправляется")
        # The request went out but its answer never came: the gateway may
        # have accepted it. Settled by a receipt or by asking the gateway.
        UNKNOWN = "unknown", _("состояние неизвестно")
        SENT = "sent", _("отправлено")
        DELIVERED = "delivered", _("доставлено")
        UNDELIVERED = "undelivered", _("не доставлено оператором")
        FAILED = "failed", _("технический сбой")
        # Not sent on this channel: turned off by the citizen, over the
        # daily cap, or no usable address. The cabinet still holds it.
        SKIPPED = "skipped", _("не отправлялось")

    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("гражданин"),
    )
    kind = models.CharField(_("вид"), max_length=32, choices=Kind.choices)
    channel = models.CharField(_("канал"), max_length=16, choices=Channel.choices)
    # "offer:17", "application:5": what the notification is about.
    object_key = models.CharField(_("объект"), max_length=64)
    offer = models.ForeignKey(
        "offers.Offer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    application = models.ForeignKey(
        "offers.Application",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    status = models.CharField(
        _("состояние"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    subject = models.CharField(_("тема"), max_length=200, blank=True)
    body = models.TextField(_("текст"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("попыток"), default=0)
    last_error = models.TextField(_("ошибка"), blank=True)
    provider_message_id = models.CharField(
        _("номер у провайдера"), max_length=128, blank=True
    )
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("взято в работу"), null=True, blank=True)
    sent_at = models.DateTimeField(_("отправлено"), null=True, blank=True)
    read_at = models.DateTimeField(_("прочитано"), null=True, blank=True)
    # Not before this instant: the retry backoff and the citizen's quiet
    # hours both push a row into the future.
    not_before = models.DateTimeField(_("не раньше"), null=True, blank=True)
    gateway = models.CharField(_("шлюз"), max_length=32, blank=True, db_default="")
    status_changed_at = models.DateTimeField(
        _("состояние изменено"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("уведомление")
        verbose_name_plural = _("уведомления")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_key", "channel"],
                name="notification_once_per_channel",
            )
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["citizen", "channel", "-created_at"]),
            models.Index(
                fields=["channel", "id"],
                name="notification_claimable",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_channel_display()})"


# How far a status has come. A receipt moves a row only forward, and a
# final status is never left.
STATUS_RANK = {
    Notification.Status.PENDING: 0,
    Notification.Status.SENDING: 1,
    Notification.Status.UNKNOWN: 2,
    Notification.Status.SENT: 3,
    Notification.Status.DELIVERED: 4,
    Notification.Status.UNDELIVERED: 4,
    Notification.Status.FAILED: 4,
    Notification.Status.SKIPPED: 4,
}
FINAL_STATUSES = frozenset(s for s, rank in STATUS_RANK.items() if rank == 4)


class Topic(models.TextChoices):
    """What a citizen can turn on or off per channel."""

    OFFERS = "offers", _("новые предложения")
    APPLICATIONS = "applications", _("статус заявлений")
    PAYMENTS = "payments", _("выплаты")
    DEADLINES = "deadlines", _("сроки")
    CONSENT = "consent", _("согласия")


KIND_TOPIC = {
    Notification.Kind.OFFER_CREATED: Topic.OFFERS,
    Notification.Kind.OFFER_REMINDER: Topic.OFFERS,
    Notification.Kind.OFFER_WITHDRAWN: Topic.OFFERS,
    Notification.Kind.APPLICATION_SUBMITTED: Topic.APPLICATIONS,
    Notification.Kind.APPLICATION_STATUS: Topic.APPLICATIONS,
    Notification.Kind.DEADLINE_REMINDER: Topic.DEADLINES,
    Notification.Kind.PAYMENT_NOTICE: Topic.PAYMENTS,
    Notification.Kind.CONSENT_EXPIRING: Topic.CONSENT,
}

# Urgent notices are never dropped by the daily cap: a deadline or an
# expiring consent costs the citizen money when missed.
URGENT_KINDS = frozenset(
    {
        Notification.Kind.DEADLINE_REMINDER,
        Notification.Kind.CONSENT_EXPIRING,
        Notification.Kind.APPLICATION_STATUS,
    }
)


def quiet_hours_by_default() -> bool:
    return settings.NOTIFY_QUIET_HOURS_BY_DEFAULT


class DeliveryProfile(models.Model):
    """How a citizen wants to be reached, and which addresses failed.

    A citizen without a row has the defaults: every topic on every
    channel, quiet hours 22:00-08:00 local time (unless the
    ``NOTIFY_QUIET_HOURS_BY_DEFAULT`` setting turns them off), the default
    daily cap.
    """

    citizen = models.OneToOneField(
        "cabinet.Citizen",
        on_delete=models.CASCADE,
        related_name="delivery_profile",
        verbose_name=_("гражданин"),
    )
    # {"offers": ["sms", "email"], ...}: channels turned OFF per topic.
    disabled = models.JSONField(_("отключённые каналы"), default=dict, blank=True)
    quiet_hours = models.BooleanField(_("тихие часы"), default=quiet_hours_by_default)
    quiet_start = models.TimeField(_("тихие часы с"), default=datetime.time(22, 0))
    quiet_end = models.TimeField(_("тихие часы до"), default=datetime.time(8, 0))
    daily_cap = models.PositiveSmallIntegerField(
        _("не больше уведомлений в день"), default=5
    )
    email_unusable_at = models.DateTimeField(
        _("адрес почты недоступен с"), null=True, blank=True
    )
    email_unusable_reason = models.CharField(_("причина"), max_length=200, blank=True)
    phone_unusable_at = models.DateTimeField(
        _("телефон недоступен с"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("настройки уведомлений")
        verbose_name_plural = _("настройки уведомлений")

    def __str__(self) -> str:
        return f"{self.citizen_id}"


class PushSubscription(models.Model):
    """One browser's Web Push subscription (endpoint and its keys)."""

    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.CASCADE,
        related_name="push_subscriptions",
        verbose_name=_("гражданин"),
    )
    endpoint = models.URLField(_("адрес службы push"), max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)

    class Meta:
        verbose_name = _("подписка на push")
        verbose_name_plural = _("подписки на push")

    def __str__(self) -> str:
        return f"push:{self.pk}"


class MessageTemplate(models.Model):
    """An official's text for one kind, channel and language. It overrides
    the file template shipped under templates/notifications/."""

    kind = models.CharField(_("вид"), max_length=32, choices=Notification.Kind.choices)
    channel = models.CharField(
        _("канал"), max_length=16, choices=Notification.Channel.choices
    )
    language = models.CharField(_("язык"), max_length=8, default="ru")
    subject = models.CharField(_("тема"), max_length=200, blank=True)
    body = models.TextField(
        _("текст"),
        help_text=_(
            "Язык шаблонов Django: {{ citizen.first_name }}, "
            "{{ offer.service.title }}, "
            "{{ offer.short_code }}, {{ application.number }}, {{ base_url }}"
        ),
    )
    html_body = models.TextField(_("HTML (для почты)"), blank=True)
    is_active = models.BooleanField(_("действует"), default=True)
    updated_at = models.DateTimeField(_("изменён"), auto_now=True)

    class Meta:
        verbose_name = _("шаблон уведомления")
        verbose_name_plural = _("шаблоны уведомлений")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "channel", "language"], name="template_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.channel}/{self.language}"


class ProblemNotification(Notification):
    """Failed and unknown notifications, for the officials' monitoring."""

    class Meta:
        proxy = True
        verbose_name = _("сбой доставки")
        verbose_name_plural = _("сбои доставки")
