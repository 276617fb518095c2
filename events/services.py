"""The verbs of the events app: importing dumps and evaluating rules."""

from __future__ import annotations

import logging
from pathlib import Path

from django.db.models import Q
from django.utils import timezone

from offers import services as offer_services

from .importer import ImportSummary, run_import
from .models import LifeEvent, TriggerRule

logger = logging.getLogger(__name__)


def import_registry(source: str, path: Path, file_format: str | None = None, progress=None) -> ImportSummary:
    """Load one registry dump; rules are evaluated for its events once the
    import has committed."""
    return run_import(source, Path(path), file_format, progress)


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
