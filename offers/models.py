from django.db import models
from django.utils.translation import gettext_lazy as _


class Service(models.Model):
    """A state service the portal can offer: the catalog entry."""

    code = models.SlugField(_("код"), max_length=64, unique=True)
    title = models.CharField(_("название"), max_length=200)
    agency = models.CharField(_("ведомство"), max_length=200)
    description = models.TextField(_("описание"), blank=True)
    # Keys of offers.prefill.PREFILL_FIELDS, in the order the form shows them.
    prefill_fields = models.JSONField(_("предзаполняемые поля"), default=list)
    is_active = models.BooleanField(_("доступна"), default=True)

    class Meta:
        verbose_name = _("услуга")
        verbose_name_plural = _("услуги")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class RandomShortCode(models.Func):
    """Six random digits, drawn by the database so that the set-based
    INSERT of offers needs no change."""

    template = "(floor(random() * 900000) + 100000)::int::text"
    output_field = models.CharField()

    def __init__(self):
        super().__init__()


class Offer(models.Model):
    """A service offered to a citizen, with a pre-filled application."""

    class Status(models.TextChoices):
        OFFERED = "offered", _("предложено")
        CONFIRMED = "confirmed", _("подтверждено")
        DECLINED = "declined", _("отклонено")
        EXPIRED = "expired", _("истекло")
        WITHDRAWN = "withdrawn", _("отозвано")

    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.PROTECT,
        related_name="offers",
        verbose_name=_("гражданин"),
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="offers", verbose_name=_("услуга")
    )
    rule = models.ForeignKey(
        "events.TriggerRule",
        on_delete=models.PROTECT,
        related_name="offers",
        verbose_name=_("правило"),
    )
    event = models.ForeignKey(
        "events.LifeEvent",
        on_delete=models.PROTECT,
        related_name="offers",
        verbose_name=_("событие"),
    )
    status = models.CharField(
        _("состояние"), max_length=16, choices=Status.choices, default=Status.OFFERED
    )
    prefill = models.JSONField(_("предзаполненные данные"), default=dict)
    # Why the offer left the "offered" state when the citizen did not decide
    # (withdrawn: consent revoked, death registered, record corrected).
    status_reason = models.TextField(_("причина"), blank=True, db_default="")
    # What the citizen types in an SMS reply ("ДА 123456"). Unique per
    # citizen in practice; a reply names the latest open offer with it.
    short_code = models.CharField(
        _("код для ответа по SMS"), max_length=8, db_default=RandomShortCode()
    )
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)
    expires_at = models.DateTimeField(_("действует до"))
    decided_at = models.DateTimeField(_("решение принято"), null=True, blank=True)

    class Meta:
        verbose_name = _("предложение")
        verbose_name_plural = _("предложения")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["citizen", "rule", "event"], name="offer_once_per_rule_event"
            )
        ]
        indexes = [models.Index(fields=["citizen", "status"])]

    def __str__(self) -> str:
        return f"{self.service} — {self.get_status_display()}"


class Application(models.Model):
    """What a confirmed offer becomes; the agency processes it."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("подано")
        IN_REVIEW = "in_review", _("на рассмотрении")
        APPROVED = "approved", _("одобрено")
        REJECTED = "rejected", _("отказано")
        COMPLETED = "completed", _("исполнено")

    offer = models.OneToOneField(
        Offer,
        on_delete=models.PROTECT,
        related_name="application",
        verbose_name=_("предложение"),
    )
    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("гражданин"),
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("услуга"),
    )
    number = models.CharField(_("номер"), max_length=32, unique=True)
    status = models.CharField(
        _("состояние"),
        max_length=16,
        choices=Status.choices,
        default=Status.SUBMITTED,
    )
    data = models.JSONField(_("данные заявления"))
    submitted_at = models.DateTimeField(_("подано"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменено"), auto_now=True)

    class Meta:
        verbose_name = _("заявление")
        verbose_name_plural = _("заявления")
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return f"№ {self.number}"


class ApplicationStatusChange(models.Model):
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="history"
    )
    status = models.CharField(
        _("состояние"), max_length=16, choices=Application.Status.choices
    )
    note = models.TextField(_("комментарий"), blank=True)
    changed_at = models.DateTimeField(_("когда"), auto_now_add=True)

    class Meta:
        verbose_name = _("изменение состояния")
        verbose_name_plural = _("история заявления")
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return self.get_status_display()
