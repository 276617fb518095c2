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
        SENT = "sent", _("отправлено")
        FAILED = "failed", _("не доставлено")

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
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_channel_display()})"
