"""Signing an application with a one-time code: the cabinet's verbs.

A citizen with a verified mobile gets a six-digit code by SMS, made by the
same machinery as the phone proof (``services.issue_code``: ten minutes,
single use, five tries, tied to the session) and tied as well to the
SHA-256 of the exact content to be signed: a code asked for one account
number does not sign another. Without a verified phone the code comes from
the citizen's authenticator app (their TOTP device). The application and
its signature are written in the transaction that uses the code up.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from offers import services as offer_services
from offers import signing
from offers.models import Application, ApplicationSignature, Offer

from . import services
from .models import Citizen

logger = logging.getLogger(__name__)

Method = ApplicationSignature.Method
SIGN_PURPOSE = "sign"


def signing_method(citizen: Citizen) -> str | None:
    """SMS to a verified mobile, else the authenticator app, else none."""
    if citizen.phone_verified_at and citizen.phone and citizen.phone_is_mobile:
        return Method.SMS
    if (
        citizen.user_id
        and TOTPDevice.objects.filter(user_id=citizen.user_id, confirmed=True).exists()
    ):
        return Method.TOTP
    return None


def content_to_sign(citizen: Citizen, offer_id: int, payment: dict) -> str:
    """The canonical text the citizen is about to sign."""
    offer = Offer.objects.select_related("service").get(pk=offer_id, citizen=citizen)
    data = signing.application_data(offer.prefill, payment)
    return signing.canonical_content(offer.pk, offer.service.code, data)


def request_signature_code(
    citizen: Citizen, offer_id: int, payment: dict, session_key: str
) -> str:
    """Send a code for this content when the citizen signs by SMS; return
    the method, so the page can say where the code comes from."""
    method = signing_method(citizen)
    if method is None:
        raise services.CabinetError(
            _(
                "Для подписи нужен подтверждённый телефон или приложение-"
                "аутентификатор. Подтвердите телефон в настройках."
            )
        )
    if method == Method.SMS:
        digest = signing.content_hash(content_to_sign(citizen, offer_id, payment))
        text = _("Код для подписи заявления: %(code)s. Никому его не сообщайте.")
        services.issue_code(
            citizen,
            citizen.phone,
            session_key,
            text,
            purpose=SIGN_PURPOSE,
            subject=digest,
        )
    logger.info("signature code requested offer=%s method=%s", offer_id, method)
    return method


def sign_offer(
    citizen: Citizen,
    offer_id: int,
    payment: dict,
    code: str,
    *,
    session_key: str,
    ip_address: str | None,
    user_agent: str,
) -> Application:
    """Check the code and, in the same transaction, submit the signed
    application. A wrong code raises ``CabinetError`` (and counts as a try);
    an offer that can no longer be accepted raises ``OfferError``."""
    method = signing_method(citizen)
    evidence = signing.Evidence(method or "", ip_address, user_agent)
    digest = signing.content_hash(content_to_sign(citizen, offer_id, payment))
    submitted = {}

    def accept(_row=None) -> None:
        application = offer_services.accept_offer(
            citizen, offer_id, extra=payment, signature=evidence
        )
        if application.signature.sha256 != digest:
            # The offer changed between the code and its use: sign again.
            raise services.CabinetError(
                _("Данные заявления изменились. Запросите новый код.")
            )
        submitted["application"] = application

    if method == Method.SMS:
        services.check_code(
            citizen,
            code,
            session_key,
            purpose=SIGN_PURPOSE,
            subject=digest,
            on_match=accept,
        )
    elif method == Method.TOTP:
        device = TOTPDevice.objects.filter(
            user_id=citizen.user_id, confirmed=True
        ).first()
        # django-otp refuses a used time step and slows down guessing.
        if device is None or not device.verify_token(code.strip()):
            logger.info("signature code wrong offer=%s method=totp", offer_id)
            raise services.CabinetError(_("Код неверен или устарел."))
        with transaction.atomic():
            accept()
    else:
        raise services.CabinetError(_("Подпись кодом сейчас недоступна."))

    application = submitted["application"]
    logger.info(
        "offer signed offer=%s application=%s method=%s",
        offer_id,
        application.pk,
        method,
    )
    return application
