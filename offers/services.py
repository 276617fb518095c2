"""The verbs of offers and applications. Each is atomic and writes the
notifications it causes in the same transaction."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import (
    DateField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import JSONObject
from django.utils import timezone

from consents.models import active_consent_exists
from notifications import services as notification_services
from notifications.models import Notification

from .models import Application, ApplicationStatusChange, Offer, ServiceOptOut
from .prefill import PREFILL_FIELDS

logger = logging.getLogger(__name__)


class OfferError(Exception):
    """The offer cannot make this transition."""


# The lifecycle: which state may go to which. Everything else is refused.
TRANSITIONS: dict[str, set[str]] = {
    Offer.Status.OFFERED: {
        Offer.Status.REMINDED,
        Offer.Status.CONFIRMED,
        Offer.Status.DECLINED,
        Offer.Status.EXPIRED,
        Offer.Status.WITHDRAWN,
    },
    Offer.Status.REMINDED: {
        Offer.Status.CONFIRMED,
        Offer.Status.DECLINED,
        Offer.Status.EXPIRED,
        Offer.Status.WITHDRAWN,
    },
    Offer.Status.CONFIRMED: set(),
    Offer.Status.DECLINED: set(),
    Offer.Status.EXPIRED: set(),
    Offer.Status.WITHDRAWN: set(),
}

EXPIRED_REASON = "Срок подтверждения истёк"


def _check_transition(offer: Offer, target: str) -> None:
    if target not in TRANSITIONS[offer.status]:
        raise OfferError(f"offer {offer.pk} is {offer.status}, cannot become {target}")


def eligible_events(version, events: QuerySet, now=None) -> QuerySet:
    """Events of ``events`` that the rule version may offer its service for:
    the conditions hold, the person is known, alive, in proactive mode, holds
    an active consent and has not opted out of the service; for a time
    trigger, the date it counts down to is within ``days_before`` days of
    the citizen's own local date."""
    from events.rules import compile_conditions

    now = now or timezone.now()
    today = timezone.localdate(now)
    selected = (
        events.filter(
            compile_conditions(version.conditions, today=today),
            event_type=version.event_type,
            citizen__isnull=False,
            citizen__proactive_mode=True,
            citizen__death_date__isnull=True,
        )
        .filter(active_consent_exists("citizen_id"))
        .exclude(opted_out(version.service_id))
    )
    if version.trigger_date_field:
        selected = within_time_window(version, selected, now)
    return selected


def within_time_window(version, events: QuerySet, now) -> QuerySet:
    """Events whose date the time trigger counts down to lies between the
    citizen's own local date and ``days_before`` days after it."""
    from events.regions import local_date_expression
    from events.rules import date_expression

    return events.alias(
        _trigger_on=date_expression(
            version.trigger_date_field, timezone.localdate(now)
        ),
        _local_today=local_date_expression(now),
    ).filter(
        _trigger_on__gte=F("_local_today"),
        _trigger_on__lte=ExpressionWrapper(
            F("_local_today") + version.days_before, output_field=DateField()
        ),
    )


def opted_out(service_id: int) -> Exists:
    """True for rows whose citizen opted out of the service."""
    return Exists(
        ServiceOptOut.objects.filter(
            citizen_id=OuterRef("citizen_id"), service_id=service_id
        )
    )


def _insert_offers(version, select: QuerySet, attempt, now) -> list[int]:
    """INSERT ... SELECT of offers from a LifeEvent queryset; conflicts with
    either unique constraint of Offer are skipped."""
    service = version.service
    prefill = JSONObject(
        **{
            key: PREFILL_FIELDS[key].expression
            for key in service.prefill_fields
            if key in PREFILL_FIELDS
        }
    )
    select = (
        select.order_by()
        .annotate(
            o_citizen=F("citizen_id"),
            o_service=Value(service.pk, output_field=IntegerField()),
            o_rule=Value(version.rule_id, output_field=IntegerField()),
            o_version=Value(version.pk, output_field=IntegerField()),
            o_attempt=attempt,
            o_event=F("id"),
            o_status=Value(Offer.Status.OFFERED),
            o_prefill=prefill,
            o_created=Value(now, output_field=DateTimeField()),
            o_expires=Value(
                now + timedelta(days=version.offer_valid_days),
                output_field=DateTimeField(),
            ),
        )
        .values(
            "o_citizen",
            "o_service",
            "o_rule",
            "o_version",
            "o_attempt",
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
                "INSERT INTO offers_offer (citizen_id, service_id, rule_id, "
                "rule_version_id, attempt, event_id, status, prefill, created_at, "
                f"expires_at) {sql} ON CONFLICT DO NOTHING RETURNING id",
                params,
            )
            offer_ids = [row[0] for row in cursor.fetchall()]
        if offer_ids:
            notification_services.notify_offers_created(offer_ids)
    return offer_ids


def create_offers(version, events: QuerySet, *, now=None) -> list[int]:
    """Offer the version's service for every eligible event, in one statement.

    The SELECT is built by the ORM (conditions compiled to ``Q``), then
    wrapped in INSERT ... ON CONFLICT DO NOTHING: the unique constraint on
    (citizen, rule, event, attempt) makes a repeated evaluation harmless,
    and the partial one keeps a single open offer. Returns the ids of the
    offers made now; their notifications are written in the same
    transaction.
    """
    now = now or timezone.now()
    offer_ids = _insert_offers(
        version,
        eligible_events(version, events, now),
        Value(1, output_field=IntegerField()),
        now,
    )
    logger.info(
        "offers created rule=%s version=%s count=%d",
        version.rule_id,
        version.pk,
        len(offer_ids),
    )
    return offer_ids


def reoffer(version, *, now=None) -> list[int]:
    """Make declined or expired offers of the rule again, set-based, once
    the version's interval has passed and while attempts stay within its
    limit (the first offer plus ``reoffer_limit`` more)."""
    from events.models import LifeEvent

    if not version.reoffer_after_days or not version.reoffer_limit:
        return []
    now = now or timezone.now()
    latest = Offer.objects.filter(
        rule_id=version.rule_id,
        event_id=OuterRef("pk"),
        citizen_id=OuterRef("citizen_id"),
    ).order_by("-attempt")
    events = (
        LifeEvent.objects.filter(
            Exists(
                Offer.objects.filter(
                    rule_id=version.rule_id,
                    event_id=OuterRef("pk"),
                    status__in=[Offer.Status.DECLINED, Offer.Status.EXPIRED],
                )
            )
        )
        .alias(
            prev_attempt=Subquery(latest.values("attempt")[:1]),
            prev_status=Subquery(latest.values("status")[:1]),
            prev_decided=Subquery(latest.values("decided_at")[:1]),
        )
        .filter(
            prev_status__in=[Offer.Status.DECLINED, Offer.Status.EXPIRED],
            prev_decided__lte=now - timedelta(days=version.reoffer_after_days),
            prev_attempt__lte=version.reoffer_limit,
        )
    )
    offer_ids = _insert_offers(
        version,
        eligible_events(version, events, now),
        ExpressionWrapper(F("prev_attempt") + 1, output_field=IntegerField()),
        now,
    )
    logger.info("offers made again rule=%s count=%d", version.rule_id, len(offer_ids))
    return offer_ids


def _locked(offer_id: int, citizen=None) -> Offer:
    offers = Offer.objects.select_for_update(of=("self",)).select_related(
        "service", "citizen", "rule_version"
    )
    if citizen is not None:
        offers = offers.filter(citizen=citizen)
    return offers.get(pk=offer_id)


@transaction.atomic
def remind_offer(offer_id: int) -> Offer:
    """Remind the citizen of one open offer before it expires."""
    offer = _locked(offer_id)
    _check_transition(offer, Offer.Status.REMINDED)
    offer.status = Offer.Status.REMINDED
    offer.reminded_at = timezone.now()
    offer.save(update_fields=["status", "reminded_at"])
    notification_services.notify(
        offer.citizen, Notification.Kind.OFFER_REMINDER, offer=offer
    )
    logger.info("offer reminded offer=%s", offer.pk)
    return offer


def send_reminders(*, now=None) -> list[int]:
    """Remind, set-based, every offer within its version's reminder period
    before expiry; their notifications in the same transaction."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE offers_offer o SET status = %(reminded)s, reminded_at = %(now)s
            FROM events_ruleversion v
            WHERE v.id = o.rule_version_id AND o.status = %(offered)s
              AND v.reminder_days_before > 0
              AND o.expires_at > %(now)s
              AND o.expires_at - make_interval(days => v.reminder_days_before)
                  <= %(now)s
            RETURNING o.id
            """,
            {
                "reminded": Offer.Status.REMINDED,
                "offered": Offer.Status.OFFERED,
                "now": now,
            },
        )
        offer_ids = [row[0] for row in cursor.fetchall()]
        if offer_ids:
            notification_services.notify_offers(
                Notification.Kind.OFFER_REMINDER, offer_ids
            )
    logger.info("offers reminded count=%d", len(offer_ids))
    return offer_ids


@transaction.atomic
def expire_offer(offer_id: int) -> Offer:
    """One open offer whose time is up becomes expired."""
    offer = _locked(offer_id)
    _check_transition(offer, Offer.Status.EXPIRED)
    now = timezone.now()
    if offer.expires_at > now:
        raise OfferError(f"offer {offer.pk} is open until {offer.expires_at}")
    offer.status = Offer.Status.EXPIRED
    offer.status_reason = EXPIRED_REASON
    offer.decided_at = now
    offer.save(update_fields=["status", "status_reason", "decided_at"])
    logger.info("offer expired offer=%s", offer.pk)
    return offer


def expire_offers(*, now=None) -> int:
    """Expire, set-based, every open offer whose time is up. The cabinet
    shows the state; no message is sent for an offer left unanswered."""
    now = now or timezone.now()
    count = Offer.objects.filter(status__in=Offer.OPEN, expires_at__lte=now).update(
        status=Offer.Status.EXPIRED, status_reason=EXPIRED_REASON, decided_at=now
    )
    logger.info("offers expired count=%d", count)
    return count


@transaction.atomic
def withdraw_offer(offer_id: int, reason: str) -> Offer:
    """Withdraw one open offer and tell the citizen why."""
    offer = _locked(offer_id)
    _check_transition(offer, Offer.Status.WITHDRAWN)
    offer.status = Offer.Status.WITHDRAWN
    offer.status_reason = reason
    offer.decided_at = timezone.now()
    offer.save(update_fields=["status", "status_reason", "decided_at"])
    notification_services.notify(
        offer.citizen, Notification.Kind.OFFER_WITHDRAWN, offer=offer
    )
    logger.info("offer withdrawn offer=%s", offer.pk)
    return offer


def _next_application_number(offer: Offer) -> str:
    return f"{timezone.localdate():%Y%m%d}-{offer.pk:08d}"


@transaction.atomic
def accept_offer(citizen, offer_id: int) -> Application:
    """The citizen confirms an offer: it becomes a submitted application."""
    offer = _locked(offer_id, citizen)
    _check_transition(offer, Offer.Status.CONFIRMED)
    if offer.expires_at <= timezone.now():
        raise OfferError(f"offer {offer.pk} has expired")

    offer.status = Offer.Status.CONFIRMED
    offer.decided_at = timezone.now()
    offer.save(update_fields=["status", "decided_at"])

    application = Application.objects.create(
        offer=offer,
        citizen=citizen,
        service=offer.service,
        number=_next_application_number(offer),
        data=offer.prefill,
    )
    ApplicationStatusChange.objects.create(
        application=application,
        status=Application.Status.SUBMITTED,
        note="Заявление подано по проактивному предложению",
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
    offer = _locked(offer_id, citizen)
    _check_transition(offer, Offer.Status.DECLINED)
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
        citizen_id__in=citizen_ids, status__in=Offer.OPEN
    ).update(
        status=Offer.Status.WITHDRAWN, status_reason=reason, decided_at=timezone.now()
    )
    logger.info("offers withdrawn count=%d", count)
    return count
