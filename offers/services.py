"""The verbs of offers and applications. Each is atomic and writes the
notifications it causes in the same transaction."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import (
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Value,
)
from django.db.models.functions import JSONObject, Now
from django.utils import timezone

from consents.models import active_consent_exists
from notifications import services as notification_services
from notifications.models import Notification

from .models import Application, ApplicationStatusChange, Offer, ServiceOptOut
from .prefill import PREFILL_FIELDS

logger = logging.getLogger(__name__)


class OfferError(Exception):
    """The offer cannot make this transition."""


def eligible_events(rule, events: QuerySet) -> QuerySet:
    """Events of ``events`` that the rule may offer its service for: the
    rule's conditions hold, the person is known, alive, in proactive mode,
    holds an active consent and has not opted out of the rule's service."""
    from events.rules import compile_conditions

    opted_out = ServiceOptOut.objects.filter(
        citizen_id=OuterRef("citizen_id"), service_id=rule.service_id
    )
    return (
        events.filter(
            compile_conditions(rule.conditions),
            event_type=rule.event_type,
            citizen__isnull=False,
            citizen__proactive_mode=True,
            citizen__death_date__isnull=True,
        )
        .filter(active_consent_exists("citizen_id"))
        .exclude(Exists(opted_out))
    )


def create_offers(rule, events: QuerySet) -> list[int]:
    """Offer ``rule.service`` for every eligible event, in one statement.

    The SELECT is built by the ORM (conditions compiled to ``Q``), then
    wrapped in INSERT ... ON CONFLICT DO NOTHING: the unique constraint on
    (citizen, rule, event) makes a repeated evaluation harmless. Returns
    the ids of the offers made now; their notifications are written in the
    same transaction.
    """
    service = rule.service
    prefill = JSONObject(
        **{
            key: PREFILL_FIELDS[key].expression
            for key in service.prefill_fields
            if key in PREFILL_FIELDS
        }
    )
    expires = ExpressionWrapper(
        Now() + Value(timedelta(days=rule.offer_valid_days)),
        output_field=DateTimeField(),
    )
    select = (
        eligible_events(rule, events)
        .order_by()
        .annotate(
            o_citizen=F("citizen_id"),
            o_service=Value(service.pk, output_field=IntegerField()),
            o_rule=Value(rule.pk, output_field=IntegerField()),
            o_event=F("id"),
            o_status=Value(Offer.Status.OFFERED),
            o_prefill=prefill,
            o_created=Now(),
            o_expires=expires,
        )
        .values(
            "o_citizen",
            "o_service",
            "o_rule",
            "o_event",
            "o_status",
            "o_prefill",
            "o_created",
            "o_expires",
        )
    )
    sql, params = select.query.get_compiler(using="default").as_sql()

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO offers_offer (citizen_id, service_id, rule_id, event_id, "
                "status, prefill, created_at, expires_at) "
                f"{sql} ON CONFLICT (citizen_id, rule_id, event_id) DO NOTHING "
                "RETURNING id",
                params,
            )
            offer_ids = [row[0] for row in cursor.fetchall()]
        if offer_ids:
            notification_services.notify_offers_created(offer_ids)

    logger.info("offers created rule=%s count=%d", rule.pk, len(offer_ids))
    return offer_ids


def _next_application_number(offer: Offer) -> str:
    return f"{timezone.localdate():%Y%m%d}-{offer.pk:08d}"


@transaction.atomic
def accept_offer(
    citizen, offer_id: int, corrections: dict[str, str] | None = None
) -> Application:
    """The citizen confirms an offer: it becomes a submitted application.

    ``corrections`` may change the values of the service's correctable
    fields; any other key is ignored, so registry data stays as reported.
    """
    offer = (
        Offer.objects.select_for_update()
        .select_related("service")
        .get(pk=offer_id, citizen=citizen)
    )
    if offer.status != Offer.Status.OFFERED:
        raise OfferError(f"offer {offer.pk} is {offer.status}, not offered")
    if offer.expires_at <= timezone.now():
        raise OfferError(f"offer {offer.pk} has expired")

    offer.status = Offer.Status.CONFIRMED
    offer.decided_at = timezone.now()
    offer.save(update_fields=["status", "decided_at"])

    data = dict(offer.prefill)
    corrected = []
    for key in offer.service.correctable_fields:
        value = (corrections or {}).get(key)
        if value is not None and value.strip() and value.strip() != data.get(key):
            data[key] = value.strip()[:200]
            corrected.append(key)

    application = Application.objects.create(
        offer=offer,
        citizen=citizen,
        service=offer.service,
        number=_next_application_number(offer),
        data=data,
    )
    note = "Заявление подано по проактивному предложению"
    if corrected:
        note += "; исправлено гражданином: " + ", ".join(corrected)
    ApplicationStatusChange.objects.create(
        application=application, status=Application.Status.SUBMITTED, note=note
    )
    notification_services.notify(
        citizen,
        Notification.Kind.APPLICATION_SUBMITTED,
        application=application,
    )
    logger.info("offer accepted offer=%s application=%s", offer.pk, application.pk)
    return application


@transaction.atomic
def decline_offer(citizen, offer_id: int) -> Offer:
    offer = Offer.objects.select_for_update().get(pk=offer_id, citizen=citizen)
    if offer.status != Offer.Status.OFFERED:
        raise OfferError(f"offer {offer.pk} is {offer.status}, not offered")
    offer.status = Offer.Status.DECLINED
    offer.decided_at = timezone.now()
    offer.save(update_fields=["status", "decided_at"])
    logger.info("offer declined offer=%s", offer.pk)
    return offer


def withdraw_open_offers(citizen_ids: list[int], reason: str) -> int:
    """Withdraw every open offer of these citizens, set-based; return how
    many. The reason is kept on the offer. No notification is written here:
    a caller that must tell the citizen (consent revoked) writes it, and a
    death is never announced to the relatives."""
    count = Offer.objects.filter(
        citizen_id__in=citizen_ids, status=Offer.Status.OFFERED
    ).update(
        status=Offer.Status.WITHDRAWN, status_reason=reason, decided_at=timezone.now()
    )
    logger.info("offers withdrawn count=%d", count)
    return count
