"""The verbs of the events app: importing dumps and evaluating rules."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cabinet.models import Citizen, ProfileChange
from offers import services as offer_services

from .importer import ImportSummary, run_import
from .models import LifeEvent, TriggerRule, UnmatchedDeath

logger = logging.getLogger(__name__)


def import_registry(
    source: str,
    path: Path,
    file_format: str | None = None,
    progress=None,
    dry_run: bool = False,
    force: bool = False,
) -> ImportSummary:
    """Load one registry dump; rules are evaluated for its events once the
    import has committed."""
    return run_import(source, Path(path), file_format, progress, dry_run, force)


@transaction.atomic
def resolve_unmatched_death(unmatched: UnmatchedDeath, citizen, official: str) -> None:
    """An official links a death record nobody could match to a citizen: the
    death is applied as a matched one (death date, open offers withdrawn
    without a word to anyone)."""
    from .importer import WITHDRAW_REASON_DEATH

    unmatched = UnmatchedDeath.objects.select_for_update().get(pk=unmatched.pk)
    if unmatched.resolved_at is not None:
        raise ValueError("запись уже разобрана")
    record = unmatched.registry_record
    death_date = datetime.date.fromisoformat(record.data["death_date"])
    LifeEvent.objects.filter(source=record.source, record_id=record.record_id).update(
        citizen=citizen, subject_snils=citizen.snils
    )
    if citizen.death_date != death_date:
        ProfileChange.objects.create(
            citizen=citizen,
            field="death_date",
            old_value=citizen.death_date.isoformat() if citizen.death_date else "",
            new_value=death_date.isoformat(),
            source=record.source,
            record_id=record.record_id,
            batch=unmatched.batch,
        )
        Citizen.objects.filter(pk=citizen.pk).update(death_date=death_date)
    offer_services.withdraw_open_offers([citizen.pk], WITHDRAW_REASON_DEATH)
    unmatched.citizen = citizen
    unmatched.resolved_at = timezone.now()
    unmatched.resolved_by = official
    unmatched.save(update_fields=["citizen", "resolved_at", "resolved_by"])
    logger.info("unmatched death resolved id=%s citizen=%s", unmatched.pk, citizen.pk)


def rules_in_force(on_date=None):
    today = on_date or timezone.localdate()
    return (
        TriggerRule.objects.filter(is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .select_related("service")
    )


def evaluate_batch(batch_id: str) -> int:
    """Evaluate every rule in force over the events of one import batch.

    One INSERT ... SELECT per rule (``offers.services.create_offers``), never
    a loop over events. Returns how many offers were made.
    """
    events = LifeEvent.objects.filter(batch_id=batch_id)
    types = set(events.values_list("event_type", flat=True).distinct())
    made = 0
    for rule in rules_in_force().filter(event_type__in=types):
        made += len(offer_services.create_offers(rule, events))
    logger.info("batch evaluated batch=%s offers=%d", batch_id, made)
    return made
