from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin


class Citizen(models.Model):
    """The digital profile: a person as the registries report them.

    The population registry creates and updates these rows; every other app
    points here. A citizen may have no account (``user``) until they
    register in the cabinet.
    """

    class Sex(models.TextChoices):
        MALE = "M", _("мужской")
        FEMALE = "F", _("женский")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="citizen",
        verbose_name=_("учётная запись"),
    )
    snils = models.CharField(_("СНИЛС"), max_length=11, unique=True)
    last_name = models.CharField(_("фамилия"), max_length=100)
    first_name = models.CharField(_("имя"), max_length=100)
    middle_name = models.CharField(_("отчество"), max_length=100, blank=True)
    birth_date = models.DateField(_("дата рождения"))
    sex = models.CharField(_("пол"), max_length=1, choices=Sex.choices)
    inn = models.CharField(_("ИНН"), max_length=12, blank=True)
    passport_series = models.CharField(_("серия паспорта"), max_length=4, blank=True)
    passport_number = models.CharField(_("номер паспорта"), max_length=6, blank=True)
    passport_issued_on = models.DateField(_("дата выдачи паспорта"), null=True, blank=True)
    address = models.TextField(_("адрес"), blank=True)
    region_code = models.CharField(_("код региона"), max_length=2, blank=True)
    phone = models.CharField(_("телефон"), max_length=16, blank=True)
    phone_is_mobile = models.BooleanField(_("мобильный телефон"), default=False)
    # Set when the citizen proved the number by an SMS code, cleared when
    # the number changes; only then do SMS replies from it act on offers.
    phone_verified_at = models.DateTimeField(
        _("телефон подтверждён"), null=True, blank=True
    )
    email = models.EmailField(_("электронная почта"), blank=True)
    death_date = models.DateField(_("дата смерти"), null=True, blank=True)
    proactive_mode = models.BooleanField(_("проактивный режим"), default=True)
    source_record_id = models.CharField(
        _("запись реестра населения"), max_length=64, blank=True
    )
    created_at = models.DateTimeField(_("создан"), auto_now_add=True)
    updated_at = models.DateTimeField(_("обновлён"), auto_now=True)

    class Meta:
        verbose_name = _("гражданин")
        verbose_name_plural = _("граждане")
        ordering = ["last_name", "first_name", "middle_name"]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["inn"]),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        parts = (self.last_name, self.first_name, self.middle_name)
        return " ".join(part for part in parts if part)

    @property
    def snils_display(self) -> str:
        s = self.snils
        return f"{s[0:3]}-{s[3:6]}-{s[6:9]} {s[9:11]}"


class ProfileChange(models.Model):
    """One change of a digital-profile value reported by a registry.

    The import writes these set-based when a registry record changes a
    citizen's profile; the cabinet's profile page shows them with their
    source.
    """

    citizen = models.ForeignKey(
        Citizen,
        on_delete=models.CASCADE,
        related_name="profile_changes",
        verbose_name=_("гражданин"),
    )
    field = models.CharField(_("поле"), max_length=64)
    old_value = models.TextField(_("было"), blank=True)
    new_value = models.TextField(_("стало"), blank=True)
    source = models.CharField(_("источник"), max_length=32)
    record_id = models.CharField(_("запись реестра"), max_length=128, blank=True)
    batch = models.ForeignKey(
        "events.ImportBatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="profile_changes",
        verbose_name=_("загрузка"),
    )
    changed_at = models.DateTimeField(_("когда"), auto_now_add=True)

    class Meta:
        verbose_name = _("изменение профиля")
        verbose_name_plural = _("история профиля")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["citizen", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value} → {self.new_value}"


class PhoneCode(models.Model):
    """A one-time SMS code proving a phone number, logging in, or signing
    an application (``purpose``; cabinet.signing).

    Only a hash of the code is kept. A code is tied to the session that
    asked for it, lives ten minutes, is used once and dies after five wrong
    tries (cabinet.services enforces these).
    """

    citizen = models.ForeignKey(
        Citizen,
        on_delete=models.CASCADE,
        related_name="phone_codes",
        verbose_name=_("гражданин"),
    )
    phone = models.CharField(_("телефон"), max_length=16)
    class Purpose(models.TextChoices):
        PHONE = "phone", _("подтверждение телефона")
        SIGN = "sign", _("подпись")
        LOGIN = "login", _("вход по коду из SMS")

    # What the code proves: the phone itself, the citizen at login (the SMS
    # second factor), or the citizen's signature of the content whose
    # SHA-256 is ``subject``.
    purpose = models.CharField(
        _("назначение"),
        max_length=16,
        choices=Purpose.choices,
        default=Purpose.PHONE,
        db_default=Purpose.PHONE,
    )
    subject = models.CharField(
        _("что подписывается"), max_length=64, blank=True, db_default=""
    )
    code_hash = models.CharField(_("хеш кода"), max_length=128)
    session_key_hash = models.CharField(_("сеанс"), max_length=64)
    created_at = models.DateTimeField(_("создан"), auto_now_add=True)
    expires_at = models.DateTimeField(_("действует до"))
    attempts = models.PositiveSmallIntegerField(_("попыток"), default=0)
    used_at = models.DateTimeField(_("использован"), null=True, blank=True)

    class Meta:
        verbose_name = _("код подтверждения телефона")
        verbose_name_plural = _("коды подтверждения телефона")
        indexes = [models.Index(fields=["phone", "created_at"])]

    def __str__(self) -> str:
        return f"code {self.pk}"


class ErrorReport(models.Model):
    """A citizen's request to correct a value of their digital profile."""

    class Status(models.TextChoices):
        NEW = "new", _("новое")
        SENT = "sent", _("передано в ведомство")
        RESOLVED = "resolved", _("исправлено")
        REJECTED = "rejected", _("не подтвердилось")

    citizen = models.ForeignKey(
        Citizen,
        on_delete=models.CASCADE,
        related_name="error_reports",
        verbose_name=_("гражданин"),
    )
    field = models.CharField(_("поле"), max_length=64)
    comment = models.TextField(_("что не так"))
    status = models.CharField(
        _("состояние"), max_length=16, choices=Status.choices, default=Status.NEW
    )
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)

    class Meta:
        verbose_name = _("сообщение об ошибке в профиле")
        verbose_name_plural = _("сообщения об ошибках в профиле")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.field} ({self.get_status_display()})"


class SMSDevice(ThrottlingMixin, Device):
    """The second factor by SMS: a six-digit code sent to the citizen's
    verified mobile number at each login.

    The codes are cabinet.PhoneCode rows, made and checked by the same
    services as the phone proof (cabinet.services.request_phone_code and
    confirm_phone_code), so they share its rules: hashed, ten minutes, one
    use, tied to the session that asked, five wrong tries, three per 15
    minutes and ten a day per number. django-otp's throttle slows guessing
    on top. ``verify_token`` needs ``session_key`` set by the caller: a
    code is only good in the session it was sent for.
    """

    phone = models.CharField(_("телефон"), max_length=16)

    session_key: str | None = None

    class Meta:
        verbose_name = _("вход по коду из SMS")
        verbose_name_plural = _("входы по коду из SMS")

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_SMS_THROTTLE_FACTOR", 1)

    def generate_challenge(self) -> None:
        from . import services

        if not self.session_key:
            raise ValueError("SMSDevice.generate_challenge needs session_key")
        services.send_login_code(self, self.session_key)

    def verify_token(self, token) -> bool:
        from . import services

        allowed, _data = self.verify_is_allowed()
        if not allowed or not self.session_key:
            return False
        try:
            services.confirm_phone_code(
                self.user.citizen,
                str(token),
                self.session_key,
                phone=self.phone,
                for_login=True,
            )
        except services.CabinetError:
            self.throttle_increment()
            return False
        self.throttle_reset()
        return True


class AuditEntry(models.Model):
    """One request by which a staff member saw or changed personal data:
    who, when, what, which row, and the citizen it concerns.

    ``cabinet.audit`` writes these in the request it records; nobody edits
    or deletes them (the admin is read-only, and the rows they name are
    protected). An entry holds ids only, never the data it was about.
    """

    class Action(models.TextChoices):
        LIST = "list", _("просмотр списка")
        VIEW = "view", _("просмотр записи")
        ADD = "add", _("добавление")
        CHANGE = "change", _("изменение")
        DELETE = "delete", _("удаление")
        DOWNLOAD = "download", _("скачивание документа")

    at = models.DateTimeField(_("когда"), default=timezone.now)
    # Who and whom are looked up with the newest first: their indexes are
    # in Meta, with the time.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("сотрудник"),
        db_index=False,
    )
    # One of Action, or the name of an admin action ("approve_selected",
    # "complete"): those are the admins' own and not listed here.
    action = models.CharField(_("действие"), max_length=64)
    content_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("вид записи"),
    )
    object_id = models.CharField(_("id записи"), max_length=64, blank=True)
    citizen = models.ForeignKey(
        Citizen,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("гражданин"),
        db_index=False,
    )
    # Whether the list was searched, not what for: the text typed is
    # mostly a SNILS or a surname, the very data the log must not copy.
    # Its length would still tell a SNILS from a name, and the entry needs
    # neither to say that somebody was looked for.
    searched = models.BooleanField(_("с поиском"), default=False)

    class Meta:
        verbose_name = _("запись журнала доступа")
        verbose_name_plural = _("записи журнала доступа")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["citizen", "-at"]),
            models.Index(fields=["user", "-at"]),
            models.Index(fields=["-at"], name="cabinet_audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.user_id} {self.action}"


class Session(AbstractBaseSession):
    """A browser's session, kept in PostgreSQL with the account and the
    second-factor device it names as columns, so that the statement that
    loads who is asking (``cabinet.identity``) reads the session, the
    account, the device and the citizen in one round trip. The data stays
    Django's signed session data; the columns are written from it on every
    save (``cabinet.sessions.SessionStore``) and the identity statement
    uses its rows only where they agree with it."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,  # a deleted account's sessions end
        null=True,
        blank=True,
        related_name="+",
    )
    # The device django-otp's session key names: "<app>.<model>" and id.
    device_model = models.CharField(max_length=100, blank=True)
    device_pk = models.BigIntegerField(null=True, blank=True)

    class Meta(AbstractBaseSession.Meta):
        verbose_name = _("сеанс")
        verbose_name_plural = _("сеансы")

    @classmethod
    def get_session_store_class(cls):
        from .sessions import SessionStore

        return SessionStore
