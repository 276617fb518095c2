"""Giving and revoking consent. Both are atomic and leave the evidence."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from .models import Consent

logger = logging.getLogger(__name__)

CURRENT_TEXT_VERSION = "2026-1"
VALIDITY_CHOICES_DAYS = (91, 365, 3 * 365)
DEFAULT_VALIDITY_DAYS = 365


@transaction.atomic
def give_consent(
    citizen,
    *,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    ip_address: str | None = None,
    user_agent: str = "",
    text_version: str = CURRENT_TEXT_VERSION,
) -> Consent:
    if validity_days not in VALIDITY_CHOICES_DAYS:
        raise ValueError(f"validity of {validity_days} days is not offered")
    now = timezone.now()
    consent = Consent.objects.create(
        citizen=citizen,
        purpose=Consent.Purpose.PROACTIVE,
        text_version=text_version,
        given_at=now,
        valid_until=now + timedelta(days=validity_days),
        ip_address=ip_address,
        user_agent=user_agent[:1000],
    )
    # Recent events are evaluated for the citizen at once. By task name, so
    # that consents does not import events (which asks consents).
    citizen_id = citizen.pk
    transaction.on_commit(
        lambda: current_app.send_task("events.evaluate_citizen", args=[citizen_id])
    )
    logger.info("consent given consent=%s citizen=%s", consent.pk, citizen.pk)
    return consent


def has_active_consent(citizen) -> bool:
    return Consent.objects.filter(
        citizen=citizen,
        purpose=Consent.Purpose.PROACTIVE,
        revoked_at__isnull=True,
        valid_until__gt=timezone.now(),
    ).exists()


class ConsentError(Exception):
    """The consent cannot make this transition."""


@transaction.atomic
def revoke_consent(citizen, consent_id: int) -> Consent:
    """Mark the citizen's consent revoked now. Evaluation checks for an
    active consent in the same statement that makes offers, so no new
    automatic work starts after this commits. What happens to open offers
    is the caller's business (cabinet.services.revoke_proactive_consent)."""
    consent = Consent.objects.select_for_update().get(pk=consent_id, citizen=citizen)
    if consent.revoked_at is not None:
        raise ConsentError(f"consent {consent.pk} is already revoked")
    consent.revoked_at = timezone.now()
    consent.save(update_fields=["revoked_at"])
    logger.info("consent revoked consent=%s citizen=%s", consent.pk, citizen.pk)
    return consent


REMINDER_DAYS_BEFORE = 30


def remind_expiring_consents() -> int:
    """Write a consent_expiring notification for each active consent that
    ends within 30 days and is not followed by a newer one; return how many
    consents were reminded about. The outbox's unique key (kind, consent,
    channel) makes a repeated run harmless."""
    from notifications import services as notification_services
    from notifications.models import Notification

    now = timezone.now()
    expiring = (
        Consent.objects.filter(
            purpose=Consent.Purpose.PROACTIVE,
            revoked_at__isnull=True,
            valid_until__gt=now,
            valid_until__lte=now + timedelta(days=REMINDER_DAYS_BEFORE),
        )
        .exclude(
            Exists(
                Consent.objects.filter(
                    citizen_id=OuterRef("citizen_id"),
                    purpose=Consent.Purpose.PROACTIVE,
                    revoked_at__isnull=True,
                    valid_until__gt=now + timedelta(days=REMINDER_DAYS_BEFORE),
                )
            )
        )
        .exclude(
            Exists(
                Notification.objects.filter(
                    kind=Notification.Kind.CONSENT_EXPIRING,
                    object_key=Concat(
                        Value("consent:"), Cast(OuterRef("pk"), CharField())
                    ),
                )
            )
        )
        .select_related("citizen")
        .distinct()
    )
    count = 0
    for consent in expiring:
        with transaction.atomic():
            notification_services.notify(
                consent.citizen,
                Notification.Kind.CONSENT_EXPIRING,
                object_key=f"consent:{consent.pk}",
            )
        count += 1
    if count:
        logger.info("consent reminders written count=%d", count)
    return count
