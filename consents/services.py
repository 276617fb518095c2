"""Giving and revoking consent. Both are atomic and leave the evidence."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.db import transaction
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
