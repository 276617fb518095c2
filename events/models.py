import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .rules import DATE_FIELDS, FIELDS


class Source(models.TextChoices):
    POPULATION = "population", _("реестр населения")
    BIRTHS = "births", _("рождения")
    DISABILITY = "disability", _("инвалидность (МСЭ, ФГИС ФРИ)")
    DEATHS = "deaths", _("смерти")
    PAYMENTS = "payments", _("социальные выплаты")
    TAX = "tax", _("налоговые уведомления")


# The registries as the cabinet names them to the citizen.
REGISTRY_NAMES = {
    Source.POPULATION: _("Реестр населения"),
    Source.BIRTHS: _("ЕГР ЗАГС / роддом"),
    Source.DISABILITY: _("Реестр инвалидов"),
    Source.DEATHS: _("ЕГР ЗАГС: смерти"),
    Source.PAYMENTS: _("Реестр выплат"),
    Source.TAX: _("Налоговая служба"),
}


class ImportBatch(models.Model):
    """One run of ``import_registry`` over one registry dump."""

    class Status(models.TextChoices):
        RUNNING = "running", _("идёт")
        COMPLETED = "completed", _("завершена")
        FAILED = "failed", _("файл не принят")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(_("источник"), max_length=32, choices=Source.choices)
    file_format = models.CharField(_("формат"), max_length=32)
    file_name = models.CharField(_("файл"), max_length=500)
    file_sha256 = models.CharField(_("SHA-256 файла"), max_length=64, db_index=True)
    status = models.CharField(
        _("состояние"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    error = models.TextField(_("ошибка"), blank=True)
    read = models.PositiveIntegerField(_("прочитано"), default=0)
    stored = models.PositiveIntegerField(_("сохранено"), default=0)
    updated = models.PositiveIntegerField(_("исправлено"), default=0)
    duplicates = models.PositiveIntegerField(_("повторов"), default=0)
    rejected = models.PositiveIntegerField(_("отклонено"), default=0)
    unmatched = models.PositiveIntegerField(
        _("не сопоставлено"), default=0, db_default=0
    )
    report_path = models.CharField(_("отчёт"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("начата"), auto_now_add=True)
    finished_at = models.DateTimeField(_("окончена"), null=True, blank=True)

    class Meta:
        verbose_name = _("загрузка")
        verbose_name_plural = _("загрузки")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.started_at:%Y-%m-%d %H:%M}"


class RejectedRow(models.Model):
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="rejected_rows"
    )
    file_name = models.CharField(_("файл"), max_length=500, blank=True)
    line = models.PositiveIntegerField(_("строка"))
    record_id = models.CharField(_("record_id"), max_length=128, blank=True)
    column = models.CharField(_("поле"), max_length=64, blank=True)
    reason = models.TextField(_("причина"))

    class Meta:
        verbose_name = _("отклонённая запись")
        verbose_name_plural = _("отклонённые записи")
        ordering = ["batch", "line"]

    def __str__(self) -> str:
        return f"{self.line}: {self.reason}"


class RegistryRecord(models.Model):
    """The latest content of one registry record, keyed by (source, record_id).

    A record sent again with the same content hash is a duplicate; with
    another hash it is a correction, and the earlier content moves to
    ``RegistryRecordVersion``.
    """

    source = models.CharField(_("источник"), max_length=32, choices=Source.choices)
    record_id = models.CharField(_("record_id"), max_length=128)
    content_hash = models.CharField(_("хеш содержимого"), max_length=64)
    data = models.JSONField(_("данные"))
    version = models.PositiveIntegerField(_("версия"), default=1)
    batch = models.ForeignKey(
        ImportBatch,
        on_delete=models.PROTECT,
        related_name="records",
        verbose_name=_("загрузка"),
    )
    created_at = models.DateTimeField(_("получена"), auto_now_add=True)
    updated_at = models.DateTimeField(_("обновлена"), auto_now=True)

    class Meta:
        verbose_name = _("запись реестра")
        verbose_name_plural = _("записи реестров")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "record_id"], name="registry_record_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.record_id}"


class RegistryRecordVersion(models.Model):
    record = models.ForeignKey(
        RegistryRecord, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField(_("версия"))
    content_hash = models.CharField(_("хеш содержимого"), max_length=64)
    data = models.JSONField(_("данные"))
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="+")
    replaced_at = models.DateTimeField(_("заменена"), auto_now_add=True)

    class Meta:
        verbose_name = _("прежняя версия записи")
        verbose_name_plural = _("прежние версии записей")
        constraints = [
            models.UniqueConstraint(
                fields=["record", "version"], name="registry_record_version_unique"
            )
        ]


class LifeEvent(models.Model):
    """What happened in a citizen's life, as one registry record reports it.

    One record may make several events, one per person it concerns (a birth
    is an event for the mother and for the father). ``citizen`` stays empty
    while the person is not yet known to the population registry.
    """

    class Type(models.TextChoices):
        BIRTH = "birth", _("рождение ребёнка")
        DISABILITY = "disability", _("установление инвалидности")
        DEATH = "death", _("смерть")
        PAYMENT = "payment", _("социальная выплата")
        TAX_NOTICE = "tax_notice", _("налоговое уведомление")
        AGE_MILESTONE = "age_milestone", _("достижение возраста")

    class Role(models.TextChoices):
        MOTHER = "mother", _("мать")
        FATHER = "father", _("отец")
        SELF = "self", _("сам гражданин")

    event_type = models.CharField(_("тип"), max_length=32, choices=Type.choices)
    role = models.CharField(_("роль"), max_length=16, choices=Role.choices)
    source = models.CharField(_("источник"), max_length=32, choices=Source.choices)
    record_id = models.CharField(_("record_id"), max_length=128)
    # Indexed in Meta (while the citizen is unknown), without the LIKE index
    # Django adds to db_index on a CharField, which no query uses.
    subject_snils = models.CharField(_("СНИЛС"), max_length=11)
    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="life_events",
        verbose_name=_("гражданин"),
    )
    occurred_on = models.DateField(_("дата события"))
    data = models.JSONField(_("сведения"))
    registry_record = models.ForeignKey(
        RegistryRecord,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("запись реестра"),
    )
    # No index of its own: the (batch, event_type) index serves lookups by
    # batch, and every index costs on each of the millions of rows an
    # import inserts.
    batch = models.ForeignKey(
        ImportBatch,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("загрузка"),
        db_index=False,
    )
    created_at = models.DateTimeField(_("получено"), auto_now_add=True)
    updated_at = models.DateTimeField(_("обновлено"), auto_now=True)

    class Meta:
        verbose_name = _("жизненная ситуация")
        verbose_name_plural = _("жизненные ситуации")
        ordering = ["-occurred_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "record_id", "role"], name="life_event_unique"
            )
        ]
        indexes = [
            models.Index(fields=["batch", "event_type"]),
            # Only events waiting for their person are looked up by SNILS
            # (when a population import brings them): the index holds those.
            models.Index(
                fields=["subject_snils"],
                name="life_event_waiting_snils",
                condition=models.Q(citizen__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} {self.occurred_on}"


class UnmatchedDeath(models.Model):
    """A death record that names no SNILS and fits no single citizen by
    passport or by full name and birth date. Officials resolve it in admin:
    linking it to a citizen applies the death as a matched one would be."""

    class Reason(models.TextChoices):
        NONE = "none", _("никто не подходит")
        SEVERAL = "several", _("подходят несколько граждан")

    registry_record = models.OneToOneField(
        RegistryRecord,
        on_delete=models.CASCADE,
        related_name="unmatched_death",
        verbose_name=_("запись реестра"),
    )
    reason = models.CharField(_("почему"), max_length=16, choices=Reason.choices)
    candidates = models.PositiveIntegerField(_("подходящих граждан"), default=0)
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, related_name="+", verbose_name=_("загрузка")
    )
    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("гражданин"),
    )
    resolved_at = models.DateTimeField(_("разобрано"), null=True, blank=True)
    resolved_by = models.CharField(_("кем"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("получено"), auto_now_add=True)

    class Meta:
        verbose_name = _("несопоставленная запись о смерти")
        verbose_name_plural = _("несопоставленные записи о смерти")
        ordering = ["resolved_at", "-created_at"]

    def __str__(self) -> str:
        data = self.registry_record.data
        return f"{data.get('last_name', '')} {data.get('birth_date', '')}"


class TriggerRule(models.Model):
    """An official's rule: on which event, for whom, which service to offer.

    The row is the rule as officials edit it (the draft). It takes effect
    only through an approved ``RuleVersion``: a second official, not the
    author of the change, approves it (``events.services.approve_rule``),
    and evaluation reads ``current_version`` only. Every edit of the row is
    kept by django-simple-history with its author.

    ``conditions`` is data (see ``events.rules``), validated on save and
    compiled to a Django ``Q`` so that the database does the matching.
    """

    name = models.CharField(_("название"), max_length=200)
    code = models.SlugField(_("код"), max_length=64, unique=True)
    description = models.TextField(_("описание для гражданина"), blank=True)
    event_type = models.CharField(
        _("тип события"), max_length=32, choices=LifeEvent.Type.choices
    )
    service = models.ForeignKey(
        "offers.Service",
        on_delete=models.PROTECT,
        related_name="rules",
        verbose_name=_("услуга"),
    )
    conditions = models.JSONField(_("условия"), default=list, blank=True)
    is_active = models.BooleanField(_("действует"), default=False)
    valid_from = models.DateField(_("в силе с"), null=True, blank=True)
    valid_until = models.DateField(_("в силе по"), null=True, blank=True)
    offer_valid_days = models.PositiveIntegerField(
        _("срок предложения, дней"), default=30
    )
    # A time trigger: fire this many days before a date the event carries.
    trigger_date_field = models.CharField(
        _("срабатывать до даты"),
        max_length=64,
        blank=True,
        choices=[(name, name) for name in DATE_FIELDS],
        help_text=_("Пусто: правило срабатывает при поступлении события."),
    )
    days_before = models.PositiveIntegerField(_("за сколько дней"), default=0)
    lookback_days = models.PositiveIntegerField(
        _("события за последние, дней"),
        default=30,
        help_text=_("Когда гражданин даёт согласие, события за этот срок "
                    "проверяются сразу."),
    )
    reminder_days_before = models.PositiveIntegerField(
        _("напомнить за, дней до конца срока"), default=3
    )
    reoffer_after_days = models.PositiveIntegerField(
        _("предложить снова через, дней"), null=True, blank=True,
        help_text=_("Пусто: отклонённое или истёкшее предложение не повторяется."),
    )
    reoffer_limit = models.PositiveIntegerField(
        _("повторов не больше"), default=0
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("автор изменения"),
    )
    current_version = models.ForeignKey(
        "RuleVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("действующая версия"),
    )
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменено"), auto_now=True)

    history = HistoricalRecords(
        excluded_fields=["current_version", "updated_at"],
        verbose_name=_("история правила"),
    )

    class Meta:
        verbose_name = _("правило")
        verbose_name_plural = _("правила")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .rules import RuleError, compile_conditions

        try:
            compile_conditions(self.conditions, event_type=self.event_type)
        except RuleError as error:
            raise ValidationError({"conditions": str(error)}) from error
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValidationError(
                {"valid_until": _("Дата окончания раньше даты начала.")}
            )
        if self.trigger_date_field:
            field = FIELDS[self.trigger_date_field]
            if field.event_types and self.event_type not in field.event_types:
                raise ValidationError(
                    {
                        "trigger_date_field": _(
                            "У событий этого типа нет такой даты: %(field)s."
                        )
                        % {"field": self.trigger_date_field}
                    }
                )
        if self.reoffer_limit and not self.reoffer_after_days:
            raise ValidationError(
                {
                    "reoffer_after_days": _(
                        "Укажите, через сколько дней предлагать снова."
                    )
                }
            )

    def save(self, *args, **kwargs) -> None:
        self.full_clean()
        super().save(*args, **kwargs)

    def snapshot(self) -> dict:
        return {name: getattr(self, name) for name in RULE_VERSION_FIELDS}

    @property
    def has_pending_change(self) -> bool:
        """The draft differs from the approved version in force."""
        version = self.current_version
        return version is None or any(
            getattr(version, name) != getattr(self, name)
            for name in RULE_VERSION_FIELDS
        )


# What a version freezes: everything that decides who gets which offer.
RULE_VERSION_FIELDS = (
    "name",
    "description",
    "event_type",
    "service_id",
    "conditions",
    "is_active",
    "valid_from",
    "valid_until",
    "offer_valid_days",
    "trigger_date_field",
    "days_before",
    "lookback_days",
    "reminder_days_before",
    "reoffer_after_days",
    "reoffer_limit",
)


class RuleVersion(models.Model):
    """An approved state of a rule: what evaluation reads, what offers keep.

    Written only by ``events.services.approve_rule``; never changed after.
    """

    rule = models.ForeignKey(
        TriggerRule, on_delete=models.PROTECT, related_name="versions",
        verbose_name=_("правило"),
    )
    number = models.PositiveIntegerField(_("версия"))
    name = models.CharField(_("название"), max_length=200)
    description = models.TextField(_("описание для гражданина"), blank=True)
    event_type = models.CharField(
        _("тип события"), max_length=32, choices=LifeEvent.Type.choices
    )
    service = models.ForeignKey(
        "offers.Service", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("услуга"),
    )
    conditions = models.JSONField(_("условия"), default=list)
    is_active = models.BooleanField(_("действует"))
    valid_from = models.DateField(_("в силе с"), null=True, blank=True)
    valid_until = models.DateField(_("в силе по"), null=True, blank=True)
    offer_valid_days = models.PositiveIntegerField(_("срок предложения, дней"))
    trigger_date_field = models.CharField(
        _("срабатывать до даты"), max_length=64, blank=True
    )
    days_before = models.PositiveIntegerField(_("за сколько дней"), default=0)
    lookback_days = models.PositiveIntegerField(_("события за последние, дней"))
    reminder_days_before = models.PositiveIntegerField(_("напомнить за, дней"))
    reoffer_after_days = models.PositiveIntegerField(
        _("предложить снова через, дней"), null=True, blank=True
    )
    reoffer_limit = models.PositiveIntegerField(_("повторов не больше"))
    # The simple-history record of the rule that was approved.
    history_id = models.PositiveBigIntegerField(_("запись истории"), null=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("автор"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("утвердил"),
    )
    approved_at = models.DateTimeField(_("утверждено"), default=timezone.now)

    class Meta:
        verbose_name = _("версия правила")
        verbose_name_plural = _("версии правил")
        ordering = ["rule", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "number"], name="rule_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}, версия {self.number}"

    def in_force_on(self, day) -> bool:
        return (
            self.is_active
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_until is None or self.valid_until >= day)
        )
