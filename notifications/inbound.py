"""Replies citizens send by SMS: "ДА 123456" confirms an offer, "НЕТ
123456" declines it, "СТОП" turns proactive offers off.

This is an entry point (the gateway's inbound endpoint calls it), so it may
call the offers services; only a citizen whose phone is verified can act,
and only on their own offers.
"""

from __future__ import annotations

import logging
import re

from django.db.models import Q

from cabinet.models import Citizen
from offers import services as offer_services
from offers.models import Offer

from . import services

logger = logging.getLogger(__name__)

YES = {"ДА", "DA", "YES"}
NO = {"НЕТ", "NET", "NO"}
STOP = {"СТОП", "STOP"}

HELP = "Ответьте ДА и код из SMS - подать заявление, НЕТ и код - отказаться"
DONE_YES = "Заявление № {number} подано. Подробности в личном кабинете"
DONE_NO = "Вы отказались от предложения. Спасибо за ответ"
DONE_STOP = "Проактивные предложения отключены. Включить их можно в кабинете"
NOT_FOUND = "Предложение с этим кодом не найдено или уже не действует"
UNKNOWN_NUMBER = "Номер не подтверждён в личном кабинете. Ответ не принят"
SIGN_IN_CABINET = "Это заявление подписывается кодом в личном кабинете"


def _citizen_by_phone(phone: str) -> Citizen | None:
    return (
        Citizen.objects.filter(phone=phone, phone_verified_at__isnull=False)
        .filter(Q(death_date__isnull=True))
        .order_by("-phone_verified_at")
        .first()
    )


def handle_reply(phone: str, text: str) -> str:
    """Act on a reply; return the short answer SMS."""
    words = re.findall(r"\w+", text.upper().replace("Ё", "Е"))
    citizen = _citizen_by_phone(phone)
    if citizen is None:
        logger.info("sms reply from an unverified number ignored")
        return UNKNOWN_NUMBER

    if words and set(words) <= STOP:
        services.stop_proactive_mode(citizen)
        return DONE_STOP

    codes = [w for w in words if w.isdigit()]
    verbs = {w for w in words if not w.isdigit()}
    answer_yes, answer_no = bool(verbs & YES), bool(verbs & NO)
    if len(codes) != 1 or answer_yes == answer_no or verbs - YES - NO:
        return HELP

    offer = (
        Offer.objects.filter(
            citizen=citizen, short_code=codes[0], status=Offer.Status.OFFERED
        )
        .order_by("-created_at")
        .first()
    )
    if offer is None:
        return NOT_FOUND
    try:
        if answer_yes:
            application = offer_services.accept_offer(citizen, offer.pk)
            logger.info("offer accepted by sms offer=%s", offer.pk)
            return DONE_YES.format(number=application.number)
        offer_services.decline_offer(citizen, offer.pk)
        logger.info("offer declined by sms offer=%s", offer.pk)
        return DONE_NO
    except offer_services.SignatureRequired:
        return SIGN_IN_CABINET
    except offer_services.OfferError:
        return NOT_FOUND
