import secrets

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Service(models.Model):
    """A state service the portal can offer: the catalog entry."""

    code = models.SlugField(_("код"), max_length=64, unique=True)
    title = models.CharField(_("название"), max_length=200)
    # An SMS of two parts holds 134 Cyrillic characters, and the notice has
    # more to say than the service's full name.
    short_title = models.CharField(
        _("краткое название (для SMS)"),
        max_length=40,
        blank=True,
        default="",
        db_default="",
    )
    agency = models.CharField(_("ведомство"), max_length=200)
    description = models.TextField(_("описание"), blank=True)
    # Keys of offers.prefill.PREFILL_FIELDS, in the order the form shows them.
    prefill_fields = models.JSONField(_("предзаполняемые поля"), default=list)
    # Keys of prefill_fields the citizen may correct before confirming.
    correctable_fields = models.JSONField(
        _("поля, которые можно исправить"), default=list, db_default=[], blank=True
    )
    # Documents the citizen is asked to attach: a list of titles.
    required_documents = models.JSONField(
        _("документы к заявлению"), default=list, db_default=[], blank=True
    )
    is_active = models.BooleanField(_("доступна"), default=True)
    # The legal term for the agency's decision, in calendar days from
    # submission; an application's due date is computed from it.
    processing_days = models.PositiveIntegerField(
        _("срок рассмотрения, дней"), default=10, db_default=10
    )
    # Decide without an official when every check registered for the service
    # (offers.checks) passes; otherwise the application waits in the queue.
    auto_decide = models.BooleanField(
        _("решать автоматически"), default=False, db_default=False
    )
    # The citizen signs the application with a one-time code (a simple
    # electronic signature, 63-FZ art. 9); one click is not enough.
    signature_required = models.BooleanField(
        _("подписывается простой электронной подписью"),
        default=False,
        db_default=False,
    )
    # A right the law grants once in a lifetime: maternity capital (256-FZ,
    # art. 3) is given for one child, whichever. While the citizen holds an
    # open offer of the service or an application for it that was not
    # refused, no other event offers it again (offers.services.right_in_use).
    # A refusal does not use the right up.
    granted_once = models.BooleanField(
        _("предоставляется гражданину один раз"),
        default=False,
        db_default=False,
        help_text=_(
            "Новое предложение не делается, если у гражданина уже есть открытое "
            "предложение этой услуги или заявление на неё (кроме заявления, по "
            "которому отказано)."
        ),
    )

    class Meta:
        verbose_name = _("услуга")
        verbose_name_plural = _("услуги")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    @property
    def sms_title(self) -> str:
        return self.short_title or self.title


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
        REMINDED = "reminded", _("напомнили")
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
    # The approved version of the rule that made the offer; the rule itself
    # may have changed since.
    rule_version = models.ForeignKey(
        "events.RuleVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offers",
        verbose_name=_("версия правила"),
    )
    # 1 for the first offer of (citizen, rule, event), then 2, 3 ... for
    # offers made again after a decline or expiry.
    attempt = models.PositiveSmallIntegerField(_("попытка"), default=1, db_default=1)
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
    reminded_at = models.DateTimeField(_("напомнили"), null=True, blank=True)
    decided_at = models.DateTimeField(_("решение принято"), null=True, blank=True)
    # When the citizen first opened the offer's page: a step of the funnel.
    opened_at = models.DateTimeField(_("открыто"), null=True, blank=True)

    OPEN = (Status.OFFERED, Status.REMINDED)

    class Meta:
        verbose_name = _("предложение")
        verbose_name_plural = _("предложения")
        ordering = ["-created_at"]
        constraints = [
            # Each attempt once: two evaluations of one event never make two
            # first offers, two re-offer runs never make two second ones.
            models.UniqueConstraint(
                fields=["citizen", "rule", "event", "attempt"],
                name="offer_attempt_once",
            ),
            # And never two open offers for one (citizen, rule, event).
            models.UniqueConstraint(
                fields=["citizen", "rule", "event"],
                condition=models.Q(status__in=["offered", "reminded"]),
                name="offer_one_open_per_rule_event",
            ),
        ]
        indexes = [models.Index(fields=["citizen", "status"])]

    def __str__(self) -> str:
        return f"{self.service} — {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class ServiceOptOut(models.Model):
    """A citizen does not want offers of one service."""

    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.CASCADE,
        related_name="service_opt_outs",
        verbose_name=_("гражданин"),
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        related_name="opt_outs",
        verbose_name=_("услуга"),
    )
    created_at = models.DateTimeField(_("когда"), auto_now_add=True)

    class Meta:
        verbose_name = _("отказ от услуги")
        verbose_name_plural = _("отказы от услуг")
        constraints = [
            models.UniqueConstraint(
                fields=["citizen", "service"], name="service_opt_out_unique"
            )
        ]

    def __str__(self) -> str:
        return str(self.service)


class Application(models.Model):
    """What a confirmed offer becomes; the agency processes it."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("подано")
        IN_REVIEW = "in_review", _("на рассмотрении")
        DOCUMENTS_REQUESTED = "documents_requested", _("запрошены документы")
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
        max_length=24,
        choices=Status.choices,
        default=Status.SUBMITTED,
    )
    data = models.JSONField(_("данные заявления"))
    submitted_at = models.DateTimeField(_("подано"), auto_now_add=True)
    updated_at = models.DateTimeField(_("изменено"), auto_now=True)
    # Submission date plus the service's processing days; empty only for
    # applications submitted before due dates existed.
    due_on = models.DateField(_("срок решения"), null=True, blank=True)

    OPEN_STATUSES = (
        Status.SUBMITTED,
        Status.IN_REVIEW,
        Status.DOCUMENTS_REQUESTED,
        Status.APPROVED,
    )

    class Meta:
        verbose_name = _("заявление")
        verbose_name_plural = _("заявления")
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["service", "status", "due_on"])]

    def __str__(self) -> str:
        return f"№ {self.number}"

    @property
    def is_overdue(self) -> bool:
        return (
            self.due_on is not None
            and self.status in self.OPEN_STATUSES
            and self.due_on < timezone.localdate()
        )


class ApplicationStatusChange(models.Model):
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="history"
    )
    status = models.CharField(
        _("состояние"), max_length=24, choices=Application.Status.choices
    )
    note = models.TextField(_("комментарий"), blank=True)
    changed_at = models.DateTimeField(_("когда"), auto_now_add=True)
    # The official who acted; empty for the citizen's own steps and for
    # automatic decisions. PROTECT: an audit trail outlives no account.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="application_status_changes",
        verbose_name=_("сотрудник"),
    )

    class Meta:
        verbose_name = _("изменение состояния")
        verbose_name_plural = _("история заявления")
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return self.get_status_display()


class DocumentRequest(models.Model):
    """A document the agency asked the citizen for, with a deadline."""

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="document_requests",
        verbose_name=_("заявление"),
    )
    status_change = models.OneToOneField(
        ApplicationStatusChange,
        on_delete=models.CASCADE,
        related_name="document_request",
        verbose_name=_("изменение состояния"),
    )
    document = models.CharField(_("какой документ"), max_length=300)
    due_on = models.DateField(_("представить до"))
    requested_at = models.DateTimeField(_("запрошен"), auto_now_add=True)
    reminded_at = models.DateTimeField(_("напомнили"), null=True, blank=True)
    received_at = models.DateTimeField(_("получен"), null=True, blank=True)

    class Meta:
        verbose_name = _("запрос документа")
        verbose_name_plural = _("запросы документов")
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["received_at", "reminded_at", "due_on"])]

    def __str__(self) -> str:
        return self.document


def result_storage() -> FileSystemStorage:
    """Result PDFs live outside MEDIA and STATIC: no URL serves them, only
    the cabinet's view for their owner. A callable keeps the path out of
    migrations."""
    return FileSystemStorage(location=settings.RESULT_DOCUMENTS_DIR, base_url=None)


# Crockford-like alphabet: no 0/O, 1/I/L, so a code read off paper is typed
# right. 16 characters of 32 symbols are 80 bits: not guessable.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


class ResultDocument(models.Model):
    """The agency's result as a PDF, verifiable by its code and hash."""

    class Kind(models.TextChoices):
        CERTIFICATE = "certificate", _("сертификат на материнский капитал")
        BIRTH_CERTIFICATE = "birth_certificate", _("свидетельство о рождении")
        BIRTH_EXTRACT = "birth_extract", _("выписка о государственной регистрации")
        PENSION_DECISION = "pension_decision", _("решение о назначении пенсии")
        PAYMENT_STATEMENT = "payment_statement", _("справка о выплатах")
        DECISION = "decision", _("решение по заявлению")

    # Empty for a document issued without an application: a statement of
    # payments (PaymentStatement points at it).
    application = models.ForeignKey(
        Application,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="result_documents",
        verbose_name=_("заявление"),
    )
    kind = models.CharField(_("вид"), max_length=32, choices=Kind.choices)
    file = models.FileField(_("файл"), storage=result_storage, max_length=300)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    verification_code = models.CharField(
        _("код проверки"), max_length=CODE_LENGTH, unique=True
    )
    issued_at = models.DateTimeField(_("выдан"), default=timezone.now)

    class Meta:
        verbose_name = _("документ-результат")
        verbose_name_plural = _("документы-результаты")
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.verification_code_display}"

    @property
    def service_title(self) -> str:
        """What the public check names as the document's service."""
        if self.application_id is not None:
            return self.application.service.title
        return str(_("Сведения о социальных выплатах"))

    @property
    def verification_code_display(self) -> str:
        code = self.verification_code
        return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


class TakeUpFunnel(Offer):
    """No table: the admin entry of the take-up funnel page."""

    class Meta:
        proxy = True
        verbose_name = _("воронка проактивных услуг")
        verbose_name_plural = _("воронка проактивных услуг")


def _private_storage():
    from django.core.files.storage import FileSystemStorage
    from django.conf import settings

    return FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, base_url=None)


def _document_path(instance, filename: str) -> str:
    # The stored name never carries the citizen's file name.
    import uuid

    return f"documents/{instance.citizen_id}/{uuid.uuid4().hex}"


class Document(models.Model):
    """A file the citizen attached to an offer. Kept outside any public path
    and served only by cabinet.views.document_download."""

    class ContentType(models.TextChoices):
        PDF = "application/pdf", "PDF"
        JPEG = "image/jpeg", "JPEG"
        PNG = "image/png", "PNG"
        XML = "application/xml", "XML"

    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.CASCADE,
        related_name="documents",
        verbose_name=_("гражданин"),
    )
    offer = models.ForeignKey(
        Offer,
        on_delete=models.CASCADE,
        related_name="documents",
        verbose_name=_("предложение"),
    )
    title = models.CharField(_("документ"), max_length=200)
    file = models.FileField(
        _("файл"), storage=_private_storage, upload_to=_document_path, max_length=200
    )
    content_type = models.CharField(
        _("формат"), max_length=32, choices=ContentType.choices
    )
    size = models.PositiveIntegerField(_("размер, байт"))
    original_name = models.CharField(_("имя файла"), max_length=200, blank=True)
    uploaded_at = models.DateTimeField(_("загружен"), auto_now_add=True)

    class Meta:
        verbose_name = _("документ")
        verbose_name_plural = _("документы")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.title


# Social payments -------------------------------------------------------------
# A payment is a life event (type "payment") as the payments registry reports
# it; the rows below are what the citizen and officials add to it.


class PaymentType(models.Model):
    """A readable name for a registry's payment code (``payment_type``).

    Codes come from several systems (a short code in CSV, a measure's id in
    ЕГИССО), so officials keep the names in admin; a code without a row is
    shown as it came."""

    code = models.CharField(_("код в реестре"), max_length=128, unique=True)
    title = models.CharField(_("название выплаты"), max_length=200)
    agency = models.CharField(_("кто платит"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("вид выплаты")
        verbose_name_plural = _("виды выплат")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class PaymentReceipt(models.Model):
    """The citizen confirmed that a payment awaiting confirmation arrived.
    Once per payment: the database keeps it so."""

    event = models.OneToOneField(
        "events.LifeEvent",
        on_delete=models.PROTECT,
        related_name="payment_receipt",
        verbose_name=_("выплата"),
    )
    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.PROTECT,
        related_name="payment_receipts",
        verbose_name=_("гражданин"),
    )
    # What the record said when the citizen confirmed: a later correction
    # of the record does not change what was confirmed.
    amount = models.DecimalField(_("сумма, руб."), max_digits=12, decimal_places=2)
    scheduled_on = models.DateField(_("дата выплаты"))
    confirmed_at = models.DateTimeField(_("получение подтверждено"))

    class Meta:
        verbose_name = _("подтверждение получения выплаты")
        verbose_name_plural = _("подтверждения получения выплат")
        ordering = ["-confirmed_at"]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.confirmed_at:%Y-%m-%d %H:%M}"


class BankDetails(models.Model):
    """Bank details the citizen gave for a payment that needs them
    (needs clarification, or returned). Every submission is a row of its
    own: the latest is in force, the earlier ones are its history."""

    event = models.ForeignKey(
        "events.LifeEvent",
        on_delete=models.PROTECT,
        related_name="bank_details",
        verbose_name=_("выплата"),
    )
    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.PROTECT,
        related_name="bank_details",
        verbose_name=_("гражданин"),
    )
    bik = models.CharField(_("БИК"), max_length=9)
    account = models.CharField(_("номер счёта"), max_length=20)
    # The payment's status when the details came, as the registry said it.
    payment_status = models.CharField(_("состояние выплаты"), max_length=32)
    submitted_at = models.DateTimeField(_("получены"))
    processed_at = models.DateTimeField(_("учтены"), null=True, blank=True)
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("сотрудник"),
    )

    class Meta:
        verbose_name = _("реквизиты для выплаты")
        verbose_name_plural = _("реквизиты для выплат")
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["event", "-submitted_at"])]

    def __str__(self) -> str:
        return f"{self.bik} / …{self.account[-4:]}"


class PaymentStatement(models.Model):
    """A statement of payments (справка о выплатах) the citizen asked for:
    the period it covers and its verifiable PDF."""

    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.PROTECT,
        related_name="payment_statements",
        verbose_name=_("гражданин"),
    )
    date_from = models.DateField(_("с"))
    date_to = models.DateField(_("по"))
    payments = models.PositiveIntegerField(_("выплат в справке"))
    document = models.OneToOneField(
        ResultDocument,
        on_delete=models.PROTECT,
        related_name="payment_statement",
        verbose_name=_("документ"),
    )
    created_at = models.DateTimeField(_("выдана"))

    class Meta:
        verbose_name = _("справка о выплатах")
        verbose_name_plural = _("справки о выплатах")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.date_from:%d.%m.%Y}–{self.date_to:%d.%m.%Y}"


class ApplicationSignature(models.Model):
    """The citizen's simple electronic signature of an application.

    ``content`` is the canonical text that was signed (offers.signing): the
    pre-filled values and the way to receive the money. ``sha256`` is its
    hash, shown to the citizen; ``seal`` binds hash, method and time with
    the server's key, so a row edited afterwards no longer checks out.
    """

    class Method(models.TextChoices):
        SMS = "sms", _("код из SMS")
        TOTP = "totp", _("код из приложения-аутентификатора")

    application = models.OneToOneField(
        Application,
        on_delete=models.PROTECT,
        related_name="signature",
        verbose_name=_("заявление"),
    )
    content = models.TextField(_("подписанное содержание"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    seal = models.CharField(_("печать портала"), max_length=64)
    method = models.CharField(_("способ"), max_length=8, choices=Method.choices)
    signed_at = models.DateTimeField(_("подписано"))
    ip_address = models.GenericIPAddressField(_("IP-адрес"), null=True, blank=True)
    user_agent = models.TextField(_("браузер"), blank=True)

    class Meta:
        verbose_name = _("подпись заявления")
        verbose_name_plural = _("подписи заявлений")

    def __str__(self) -> str:
        return self.sha256


class PensionAward(models.Model):
    """The agency's decision on a pension: from which day it is paid.
    Written with the approval, so the citizen's notice can name the day."""

    application = models.OneToOneField(
        Application,
        on_delete=models.PROTECT,
        related_name="pension_award",
        verbose_name=_("заявление"),
    )
    status_change = models.OneToOneField(
        ApplicationStatusChange,
        on_delete=models.CASCADE,
        related_name="pension_award",
        verbose_name=_("изменение состояния"),
    )
    payments_start_on = models.DateField(_("выплаты с"))
    created_at = models.DateTimeField(_("назначено"), auto_now_add=True)

    class Meta:
        verbose_name = _("назначение пенсии")
        verbose_name_plural = _("назначения пенсий")

    def __str__(self) -> str:
        return f"{self.payments_start_on:%d.%m.%Y}"


class BirthRegistration(models.Model):
    """The act record the registry office made on a birth registration
    application. The ЕГР ЗАГС gives each act number once: the database
    refuses a second registration with the same number."""

    application = models.OneToOneField(
        Application,
        on_delete=models.PROTECT,
        related_name="birth_registration",
        verbose_name=_("заявление"),
    )
    act_number = models.CharField(_("номер записи акта"), max_length=22, unique=True)
    act_date = models.DateField(_("дата записи акта"))
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("сотрудник"),
    )
    registered_at = models.DateTimeField(_("зарегистрировано"), auto_now_add=True)

    class Meta:
        verbose_name = _("регистрация рождения")
        verbose_name_plural = _("регистрации рождения")
        ordering = ["-registered_at"]

    def __str__(self) -> str:
        return f"№ {self.act_number} от {self.act_date:%d.%m.%Y}"
