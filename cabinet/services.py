"""The cabinet's verbs: registration, phone proof, consent revocation,
settings, documents. Views call these; each is atomic and queues its side
effects on commit."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import date, timedelta

import filetype
import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from consents import services as consent_services
from consents.models import Consent
from notifications import services as notification_services
from notifications.models import Notification
from offers import services as offer_services
from offers.models import Document, Offer, Service, ServiceOptOut

from .models import Citizen, ErrorReport, PhoneCode

logger = logging.getLogger(__name__)

EMAIL_CONFIRM_SALT = "cabinet.email-confirm"


class CabinetError(Exception):
    """A request the cabinet refuses; the message is safe to show."""


# Registration ---------------------------------------------------------------


def find_registrable_citizen(
    snils: str, passport_series: str, passport_number: str, birth_date: date
) -> Citizen | None:
    """The population record matching all three proofs, without an account
    yet; None otherwise. Callers show one message for every None, so the
    answer never tells whether a SNILS is known."""
    return Citizen.objects.filter(
        snils=snils,
        passport_series=passport_series,
        passport_number=passport_number,
        birth_date=birth_date,
        user__isnull=True,
        death_date__isnull=True,
    ).first()


@transaction.atomic
def register(citizen: Citizen, email: str, password: str, base_url: str):
    """Create the account, inactive until the email link is followed."""
    User = get_user_model()
    citizen = Citizen.objects.select_for_update().get(pk=citizen.pk)
    if citizen.user_id is not None:
        raise CabinetError(_("Не удалось зарегистрироваться с этими данными."))
    user = User(username=email, email=email, is_active=False)
    user.set_password(password)
    user.save()
    citizen.user = user
    citizen.save(update_fields=["user"])

    token = signing.dumps(user.pk, salt=EMAIL_CONFIRM_SALT)
    link = f"{base_url}/register/confirm/{token}/"
    _send_link_on_commit(email, _("Подтвердите адрес электронной почты"), link)
    logger.info("account registered user=%s citizen=%s", user.pk, citizen.pk)
    return user


def _send_link_on_commit(email: str, subject: str, link: str) -> None:
    body = render_to_string("cabinet/email/confirm_link.txt", {"link": link})
    transaction.on_commit(
        lambda: send_mail(subject, body, None, [email], fail_silently=False)
    )


@transaction.atomic
def confirm_registration_email(token: str):
    User = get_user_model()
    try:
        user_id = signing.loads(
            token, salt=EMAIL_CONFIRM_SALT, max_age=settings.CABINET_EMAIL_LINK_MAX_AGE
        )
    except signing.BadSignature:
        raise CabinetError(_("Ссылка недействительна или устарела.")) from None
    user = User.objects.select_for_update().get(pk=user_id)
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
        Citizen.objects.filter(user=user, email="").update(email=user.email)
        logger.info("email confirmed user=%s", user.pk)
    return user


def request_email_change(user, new_email: str, base_url: str) -> None:
    """Send a link to the new address; the address itself waits in the
    cache under a random key, so the link carries no personal data."""
    key = secrets.token_urlsafe(32)
    cache.set(
        f"cabinet:email-change:{key}",
        {"user": user.pk, "email": new_email},
        settings.CABINET_EMAIL_LINK_MAX_AGE,
    )
    link = f"{base_url}/settings/email/confirm/{key}/"
    with transaction.atomic():
        _send_link_on_commit(new_email, _("Подтвердите новый адрес"), link)
    logger.info("email change requested user=%s", user.pk)


@transaction.atomic
def confirm_email_change(user, key: str) -> None:
    pending = cache.get(f"cabinet:email-change:{key}")
    if not pending or pending["user"] != user.pk:
        raise CabinetError(_("Ссылка недействительна или устарела."))
    cache.delete(f"cabinet:email-change:{key}")
    user.email = pending["email"]
    user.save(update_fields=["email"])
    Citizen.objects.filter(user=user).update(email=pending["email"])
    logger.info("email changed user=%s", user.pk)


# Phone proof ----------------------------------------------------------------

PHONE_CODE_TTL = timedelta(minutes=10)
PHONE_CODE_MAX_TRIES = 5
PHONE_CODES_PER_15_MIN = 3
PHONE_CODES_PER_DAY = 10


def normalize_mobile(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "RU")
    except phonenumbers.NumberParseException:
        raise CabinetError(_("Введите номер мобильного телефона.")) from None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(
        number
    ) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise CabinetError(_("Введите номер мобильного телефона."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _session_hash(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def _code_hash(code_id_salt: str, code: str) -> str:
    return salted_hmac("cabinet.phone-code", f"{code_id_salt}:{code}").hexdigest()


@transaction.atomic
def request_phone_code(
    citizen: Citizen, raw_phone: str, session_key: str, *, for_login: bool = False
) -> None:
    """Send a six-digit code to the number, for this session only: to prove
    the phone, or to log in (the SMS second factor)."""
    phone = normalize_mobile(raw_phone)
    if for_login:
        text = _("Код для входа на портал: %(code)s. Никому его не сообщайте.")
    else:
        text = _("Код подтверждения телефона: %(code)s. Никому его не сообщайте.")
    purpose = PhoneCode.Purpose.LOGIN if for_login else PhoneCode.Purpose.PHONE
    issue_code(citizen, phone, session_key, text, purpose=purpose)


@transaction.atomic
def issue_code(
    citizen: Citizen,
    phone: str,
    session_key: str,
    text: str,
    *,
    purpose: str,
    subject: str = "",
) -> PhoneCode:
    """Send a fresh one-time code by SMS, tied to this session and, for a
    signature, to the hash of what is signed. ``text`` names the code as
    ``%(code)s``. The limits per number count codes of every purpose."""
    now = timezone.now()

    # Lock the citizen so two parallel requests cannot both pass the limit.
    Citizen.objects.select_for_update().get(pk=citizen.pk)
    recent = PhoneCode.objects.filter(phone=phone)
    if recent.filter(created_at__gt=now - timedelta(minutes=15)).count() >= (
        PHONE_CODES_PER_15_MIN
    ) or recent.filter(created_at__gt=now - timedelta(days=1)).count() >= (
        PHONE_CODES_PER_DAY
    ):
        logger.info("phone code refused: limit citizen=%s", citizen.pk)
        raise CabinetError(_("Слишком много кодов на этот номер. Попробуйте позже."))

    # Only the newest code of a citizen, for each purpose, is valid.
    PhoneCode.objects.filter(
        citizen=citizen, purpose=purpose, used_at__isnull=True
    ).update(used_at=now)
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(8)
    row = PhoneCode.objects.create(
        citizen=citizen,
        phone=phone,
        purpose=purpose,
        subject=subject,
        code_hash=f"{salt}${_code_hash(salt, code)}",
        session_key_hash=_session_hash(session_key),
        expires_at=now + PHONE_CODE_TTL,
    )
    message = text % {"code": code}
    transaction.on_commit(
        lambda: notification_services.send_direct_sms(phone, message)
    )
    logger.info(
        "phone code sent code=%s citizen=%s purpose=%s", row.pk, citizen.pk, purpose
    )
    return row


def confirm_phone_code(
    citizen: Citizen,
    code: str,
    session_key: str,
    *,
    phone: str | None = None,
    for_login: bool = False,
) -> None:
    """Check the code; on success the number becomes the citizen's verified
    mobile (a login code proves it too). ``phone``: the code must have been
    sent to this number (the SMS second factor's)."""

    def verified(row: PhoneCode) -> None:
        Citizen.objects.filter(pk=citizen.pk).update(
            phone=row.phone, phone_is_mobile=True, phone_verified_at=row.used_at
        )

    purpose = PhoneCode.Purpose.LOGIN if for_login else PhoneCode.Purpose.PHONE
    row = check_code(
        citizen, code, session_key, purpose=purpose, phone=phone, on_match=verified
    )
    logger.info("phone verified code=%s citizen=%s", row.pk, citizen.pk)


def check_code(
    citizen: Citizen,
    code: str,
    session_key: str,
    *,
    purpose: str,
    subject: str = "",
    phone: str | None = None,
    on_match=None,
) -> PhoneCode:
    """Check the newest code of this purpose: same session, same subject
    (and number, when ``phone`` is given), in time, under five tries. A match uses the code up and runs
    ``on_match(row)`` in the same transaction (an error there undoes both).
    Every wrong try is counted, and committed before the error is raised."""
    now = timezone.now()
    invalid = CabinetError(_("Код неверен или устарел. Запросите новый код."))
    with transaction.atomic():
        row = (
            PhoneCode.objects.select_for_update()
            .filter(citizen=citizen, purpose=purpose, used_at__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        if (
            row is None
            or row.expires_at <= now
            or row.attempts >= PHONE_CODE_MAX_TRIES
            or not constant_time_compare(
                row.session_key_hash, _session_hash(session_key)
            )
            or not constant_time_compare(row.subject, subject)
            or (phone is not None and row.phone != phone)
        ):
            raise invalid
        salt, digest = row.code_hash.split("$", 1)
        matches = constant_time_compare(digest, _code_hash(salt, code.strip()))
        if matches:
            row.used_at = now
            row.save(update_fields=["used_at"])
            if on_match is not None:
                on_match(row)
        else:
            row.attempts += 1
            row.save(update_fields=["attempts"])
    if not matches:
        logger.info("phone code wrong code=%s attempts=%d", row.pk, row.attempts)
        left = PHONE_CODE_MAX_TRIES - row.attempts
        if left <= 0:
            raise CabinetError(_("Код неверен, попытки исчерпаны. Запросите новый код."))
        # The code still works: say so, rather than send for a new one.
        raise CabinetError(
            _("Код неверен. Проверьте его и введите снова (осталось попыток: %(left)d).")
            % {"left": left}
        )
    return row


def mobile_for_second_factor(citizen: Citizen) -> str | None:
    """The number login codes may go to: the verified mobile, else the
    registry's mobile number (proved by the first code entered), else
    None."""
    if citizen.phone and (citizen.phone_verified_at or citizen.phone_is_mobile):
        try:
            return normalize_mobile(citizen.phone)
        except CabinetError:
            return None
    return None


def send_login_code(device, session_key: str) -> None:
    """Send a login code to the SMS device's number (limits as for phone
    codes; CabinetError when a limit is reached)."""
    request_phone_code(device.user.citizen, device.phone, session_key, for_login=True)


@transaction.atomic
def set_up_second_factor(user, device) -> list[str]:
    """Make ``device`` (an app or SMS) the user's only second factor, with
    a fresh set of ten single-use backup codes, which are returned."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from .models import SMSDevice

    for model in (TOTPDevice, SMSDevice):
        others = model.objects.filter(user=user)
        if isinstance(device, model):
            others = others.exclude(pk=device.pk)
        others.delete()
    device.confirmed = True
    device.save()
    StaticDevice.objects.filter(user=user).delete()
    backup = StaticDevice.objects.create(user=user, name=_("Резервные коды"))
    codes = [StaticToken.random_token() for _ in range(10)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=backup, token=code) for code in codes]
    )
    logger.info(
        "second factor set up user=%s device=%s", user.pk, device.persistent_id
    )
    return codes


# Consent --------------------------------------------------------------------


@transaction.atomic
def revoke_proactive_consent(citizen: Citizen, consent_id: int) -> int:
    """Revoke in one step: the consent ends now, open offers are withdrawn
    with a reason and the citizen is told of each; applications already
    submitted go on. Returns how many offers were withdrawn."""
    revoked = consent_services.revoke_consent(citizen, consent_id)
    # "Revoke" means stop: a newer consent given while this one ran would
    # otherwise keep the processing going.
    Consent.objects.filter(
        citizen=citizen, purpose=Consent.Purpose.PROACTIVE, revoked_at__isnull=True
    ).update(revoked_at=revoked.revoked_at)

    open_offers = list(
        Offer.objects.select_for_update().filter(
            citizen=citizen, status=Offer.Status.OFFERED
        )
    )
    reason = str(_("Вы отозвали согласие на проактивные услуги"))
    withdrawn = offer_services.withdraw_open_offers([citizen.pk], reason)
    for offer in open_offers:
        offer.refresh_from_db()
        notification_services.notify(
            citizen, Notification.Kind.OFFER_WITHDRAWN, offer=offer
        )
    logger.info(
        "consent revoked with offers withdrawn citizen=%s offers=%d",
        citizen.pk,
        withdrawn,
    )
    return withdrawn


# Settings -------------------------------------------------------------------


@transaction.atomic
def set_preferences(
    citizen: Citizen, *, proactive_mode: bool, opted_out_service_ids: set[int]
) -> None:
    Citizen.objects.filter(pk=citizen.pk).update(proactive_mode=proactive_mode)
    known = set(
        Service.objects.filter(pk__in=opted_out_service_ids).values_list(
            "pk", flat=True
        )
    )
    ServiceOptOut.objects.filter(citizen=citizen).exclude(service_id__in=known).delete()
    ServiceOptOut.objects.bulk_create(
        [ServiceOptOut(citizen=citizen, service_id=pk) for pk in known],
        ignore_conflicts=True,
    )
    logger.info(
        "preferences saved citizen=%s proactive=%s opt_outs=%d",
        citizen.pk,
        proactive_mode,
        len(known),
    )


@transaction.atomic
def report_profile_error(citizen: Citizen, field: str, comment: str) -> ErrorReport:
    report = ErrorReport.objects.create(
        citizen=citizen, field=field, comment=comment[:4000]
    )
    logger.info("profile error reported report=%s citizen=%s", report.pk, citizen.pk)
    return report


# Documents ------------------------------------------------------------------

# What a file's bytes say it is -> what we store it as. XML has no magic
# number; it is recognised by its declaration or first element.
_ACCEPTED = {
    "application/pdf": Document.ContentType.PDF,
    "image/jpeg": Document.ContentType.JPEG,
    "image/png": Document.ContentType.PNG,
}


def detect_content_type(head: bytes) -> str | None:
    kind = filetype.guess(head)
    if kind is not None:
        return _ACCEPTED.get(kind.mime)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<?xml") or (
        text.startswith(b"<") and not text[:20].lower().startswith((b"<html", b"<!doc"))
    ):
        try:
            from lxml import etree

            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            etree.fromstring(head, parser)
        except Exception:
            return None
        return Document.ContentType.XML
    return None


@transaction.atomic
def attach_document(citizen: Citizen, offer_id: int, title: str, upload) -> Document:
    offer = Offer.objects.get(pk=offer_id, citizen=citizen)
    if offer.status != Offer.Status.OFFERED:
        raise CabinetError(_("К этому предложению уже нельзя приложить документ."))
    if upload.size > settings.DOCUMENT_MAX_BYTES:
        raise CabinetError(
            _("Файл больше %(mb)d МБ.")
            % {"mb": settings.DOCUMENT_MAX_BYTES // (1024 * 1024)}
        )
    head = b"".join(upload.chunks())[: settings.DOCUMENT_MAX_BYTES]
    content_type = detect_content_type(head)
    if content_type is None:
        raise CabinetError(_("Можно приложить только PDF, JPEG, PNG или XML."))
    upload.seek(0)
    document = Document(
        citizen=citizen,
        offer=offer,
        title=title[:200],
        content_type=content_type,
        size=upload.size,
        original_name=(upload.name or "")[:200],
    )
    document.file.save("upload", upload, save=False)
    document.save()
    logger.info("document attached document=%s offer=%s", document.pk, offer.pk)
    return document
