"""The verbs of the events app: importing dumps, approving rules and
evaluating them (on import, daily for time and age triggers, on consent)."""

from __future__ import annotations

import datetime
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from cabinet.models import Citizen, ProfileChange
from consents.models import active_consent_exists
from offers import payments
from offers import services as offer_services
from offers.models import Offer

from .importer import ImportSummary, run_import
from .models import (
    ImportBatch,
    LifeEvent,
    RuleVersion,
    Source,
    TriggerRule,
    UnmatchedDeath,
)
from .regions import local_date_sql
from .rules import compile_conditions

logger = logging.getLogger(__name__)

# Ages at which the population's birth dates make an age_milestone event:
# a child turns 7 (school) and 18 (adult), the passport is replaced at 20
# and 45.
AGE_MILESTONES = (7, 18, 20, 45)
# A birthday missed by the daily run (the beat was down) is still caught up
# within this many days.
AGE_CATCH_UP_DAYS = 7


class RuleApprovalError(Exception):
    """The change cannot be approved; the message is for the official."""


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


# -- Rules and their versions -------------------------------------------------


def rules_in_force(on_date: datetime.date | None = None) -> QuerySet[RuleVersion]:
    """The approved versions in force on ``on_date``: read at each
    evaluation, so an approved change or a disabled rule counts at once."""
    today = on_date or timezone.localdate()
    current = TriggerRule.objects.filter(current_version__isnull=False).values(
        "current_version"
    )
    return (
        RuleVersion.objects.filter(pk__in=current, is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .select_related("service")
        .order_by("rule_id")
    )


@transaction.atomic
def approve_rule(rule_id: int, approver) -> RuleVersion:
    """A second official approves the rule as it stands now: it becomes a
    new version, in force from the next evaluation. The author of the
    change may not approve it."""
    rule = TriggerRule.objects.select_for_update().get(pk=rule_id)
    if rule.changed_by_id is None:
        raise RuleApprovalError(
            "Автор изменения не записан: сохраните правило в админке ещё раз."
        )
    if rule.changed_by_id == approver.pk:
        raise RuleApprovalError(
            "Изменение правила утверждает другой сотрудник, не его автор."
        )
    if not rule.has_pending_change:
        raise RuleApprovalError("В правиле нет изменений, ждущих утверждения.")

    number = (rule.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    history = rule.history.order_by("-history_id").first()
    version = RuleVersion.objects.create(
        rule=rule,
        number=number,
        author_id=rule.changed_by_id,
        approved_by=approver,
        approved_at=timezone.now(),
        history_id=history.history_id if history else None,
        **rule.snapshot(),
    )
    # An update, not save(): approval is recorded in the version, not as
    # one more edit of the rule.
    TriggerRule.objects.filter(pk=rule.pk).update(current_version=version)
    logger.info(
        "rule approved rule=%s version=%s author=%s approver=%s",
        rule.pk,
        version.number,
        rule.changed_by_id,
        approver.pk,
    )
    return version


# -- Evaluation -----------------------------------------------------------------


def evaluate_batch(batch_id, *, now: datetime.datetime | None = None) -> int:
    """Evaluate every rule in force over the events of one import batch.

    One INSERT ... SELECT per rule (``offers.services.create_offers``), never
    a loop over events. Returns how many offers were made.
    """
    now = now or timezone.now()
    events = LifeEvent.objects.filter(batch_id=batch_id)
    types = set(events.values_list("event_type", flat=True).distinct())
    # A corrected record may no longer give the right it gave. The batch's
    # own count is checked first: most batches correct nothing.
    corrected = events.filter(registry_record__version__gt=1)
    any_corrected = (
        ImportBatch.objects.filter(pk=batch_id, updated__gt=0).exists()
        and corrected.exists()
    )
    made = 0
    for version in rules_in_force(timezone.localdate(now)).filter(event_type__in=types):
        if any_corrected:
            offer_services.withdraw_unmet_offers(version, corrected, now=now)
        made += len(offer_services.create_offers(version, events, now=now))
    if LifeEvent.Type.PAYMENT in types:
        payments.notify_payments(batch_id, now=now)
    if LifeEvent.Type.BIRTH in types:
        # A civil registry's act record closes the registration offers of
        # a birth the parents registered in person.
        from offers.registration import withdraw_registered_births

        withdraw_registered_births(batch_id)
    logger.info("batch evaluated batch=%s offers=%d", batch_id, made)
    return made


def evaluate_time_triggers(*, now: datetime.datetime | None = None) -> int:
    """Fire every time trigger whose date is within its days in the
    citizen's own local date. Run hourly by beat: each (rule, event) fires
    once (the offer's unique attempt), and a missed day is caught up while
    the date has not passed."""
    now = now or timezone.now()
    made = 0
    for version in rules_in_force(timezone.localdate(now)).exclude(
        trigger_date_field=""
    ):
        events = LifeEvent.objects.filter(event_type=version.event_type)
        made += len(offer_services.create_offers(version, events, now=now))
    logger.info("time triggers evaluated offers=%d", made)
    return made


_AGE_SQL = """
WITH due AS (
    SELECT c.id AS citizen_id, c.snils, a.age,
           (c.birth_date + make_interval(years => a.age))::date AS birthday,
           {local_date} AS local_today
    FROM cabinet_citizen c
    CROSS JOIN unnest(%(ages)s::int[]) AS a(age)
    WHERE c.death_date IS NULL
      AND c.birth_date
          BETWEEN (%(earliest)s::date - make_interval(years => a.age))::date
              AND (%(latest)s::date - make_interval(years => a.age))::date
), reached AS (
    SELECT * FROM due
    WHERE birthday <= local_today
      AND birthday > local_today - %(catch_up)s::int
), records AS (
    INSERT INTO events_registryrecord (
        source, record_id, content_hash, data, version, batch_id,
        created_at, updated_at)
    SELECT %(source)s, 'age:' || citizen_id || ':' || age,
           md5('age:' || citizen_id || ':' || age),
           jsonb_build_object('citizen_id', citizen_id, 'age', age,
                              'birthday', birthday),
           1, %(batch)s, %(now)s, %(now)s
    FROM reached
    ON CONFLICT (source, record_id) DO NOTHING
    RETURNING id, record_id, data
)
INSERT INTO events_lifeevent (
    event_type, role, source, record_id, subject_snils, citizen_id,
    occurred_on, data, registry_record_id, batch_id, created_at, updated_at)
SELECT %(event_type)s, %(role)s, %(source)s, r.record_id, c.snils, c.id,
       (r.data ->> 'birthday')::date,
       jsonb_build_object('age', (r.data ->> 'age')::int,
                          'birth_date', c.birth_date),
       r.id, %(batch)s, %(now)s, %(now)s
FROM records r
JOIN cabinet_citizen c ON c.id = (r.data ->> 'citizen_id')::bigint
ON CONFLICT DO NOTHING
"""


def generate_age_milestones(*, now: datetime.datetime | None = None) -> str | None:
    """Make age_milestone events (role self) for every living citizen who
    reached one of ``AGE_MILESTONES`` on their own local date, in one
    statement over the population; each milestone once (its record id).

    The events form a batch of their own, evaluated like an import; returns
    its id, or None when nobody reached a milestone.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            source=Source.POPULATION,
            file_format="age-milestones",
            file_name=f"age milestones {today.isoformat()}",
            file_sha256=hashlib.sha256(f"age:{now.isoformat()}".encode()).hexdigest(),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                _AGE_SQL.format(local_date=local_date_sql("c.region_code")),
                {
                    "ages": list(AGE_MILESTONES),
                    # A day of margin each side: local dates run from UTC-1
                    # (none in Russia) to UTC+12.
                    "earliest": today - datetime.timedelta(days=AGE_CATCH_UP_DAYS + 1),
                    "latest": today + datetime.timedelta(days=1),
                    "catch_up": AGE_CATCH_UP_DAYS,
                    "source": Source.POPULATION,
                    "event_type": LifeEvent.Type.AGE_MILESTONE,
                    "role": LifeEvent.Role.SELF,
                    "batch": batch.pk,
                    "now": now,
                },
            )
            made = cursor.rowcount
        if not made:
            batch.delete()
            return None
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.COMPLETED,
            stored=made,
            read=made,
            finished_at=now,
        )
    logger.info("age milestones batch=%s events=%d", batch.pk, made)
    return str(batch.pk)


def run_daily_triggers(*, now: datetime.datetime | None = None) -> int:
    """Age milestones, then time triggers; safe to run any number of times."""
    now = now or timezone.now()
    made = 0
    batch_id = generate_age_milestones(now=now)
    if batch_id:
        made += evaluate_batch(batch_id, now=now)
    made += evaluate_time_triggers(now=now)
    return made


def evaluate_citizen(citizen_id: int, *, now: datetime.datetime | None = None) -> int:
    """Evaluate a citizen's recent events at once (after they give consent):
    the events of each rule's look-back window, and for time triggers the
    events whose date is still ahead."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    made = 0
    for version in rules_in_force(today):
        events = LifeEvent.objects.filter(citizen_id=citizen_id)
        if not version.trigger_date_field:
            since = today - datetime.timedelta(days=version.lookback_days)
            events = events.filter(occurred_on__gte=since)
        made += len(offer_services.create_offers(version, events, now=now))
    logger.info("citizen evaluated citizen=%s offers=%d", citizen_id, made)
    return made


def run_offer_lifecycle(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Expire what is due, remind before expiry, make offers again."""
    now = now or timezone.now()
    expired = offer_services.expire_offers(now=now)
    reminded = len(offer_services.send_reminders(now=now))
    again = 0
    for version in rules_in_force(timezone.localdate(now)).exclude(
        reoffer_after_days__isnull=True
    ):
        again += len(offer_services.reoffer(version, now=now))
    return {"expired": expired, "reminded": reminded, "reoffered": again}


# -- Dry run --------------------------------------------------------------------

HELD_BACK = {
    "unknown": "гражданин не найден в реестре населения",
    "deceased": "гражданин умер",
    "no_consent": "нет согласия на проактивную обработку",
    "proactive_off": "проактивный режим выключен",
    "opted_out": "гражданин отказался от этой услуги",
    "already_offered": "предложение уже сделано",
    "right_in_use": "услуга даётся один раз: уже есть предложение или заявление",
}


@dataclass
class DryRun:
    events: int = 0
    citizens: int = 0
    offers_events: int = 0
    offers_citizens: int = 0
    held_back: dict[str, dict[str, int]] = field(default_factory=dict)
    sample: list[dict[str, str]] = field(default_factory=list)


def _mask_name(citizen) -> str:
    initials = " ".join(
        f"{part[0]}." for part in (citizen.first_name, citizen.middle_name) if part
    )
    return f"{citizen.last_name[:1]}{'*' * 5} {initials}".strip()


def _mask_snils(snils: str) -> str:
    return f"***-***-*** {snils[-2:]}"


def dry_run(
    rule: TriggerRule, *, now: datetime.datetime | None = None, sample_size: int = 5
) -> DryRun:
    """What ``rule`` (saved or not) would do on the data loaded now: events
    and distinct citizens it reaches, those held back and why, and a small
    masked sample of those who would get an offer. Reads only."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    events = LifeEvent.objects.filter(
        compile_conditions(rule.conditions, today=today), event_type=rule.event_type
    )
    if rule.trigger_date_field:
        events = offer_services.within_time_window(rule, events, now)

    already = (
        Exists(Offer.objects.filter(rule_id=rule.pk, event_id=OuterRef("pk")))
        if rule.pk
        else Value(False)
    )
    # A service granted once (maternity capital): evaluation skips citizens
    # who hold its right already (offers.services.right_in_use).
    in_use = (
        offer_services.right_in_use(rule.service_id)
        if rule.service_id and rule.service.granted_once
        else Value(False)
    )
    reason = Case(
        When(citizen__isnull=True, then=Value("unknown")),
        When(citizen__death_date__isnull=False, then=Value("deceased")),
        When(~active_consent_exists("citizen_id"), then=Value("no_consent")),
        When(citizen__proactive_mode=False, then=Value("proactive_off")),
        When(offer_services.opted_out(rule.service_id), then=Value("opted_out")),
        When(already, then=Value("already_offered")),
        When(in_use, then=Value("right_in_use")),
        default=Value("offer"),
    )
    rows = (
        events.annotate(_reason=reason)
        .order_by()
        .values("_reason")
        .annotate(n=Count("id"), citizens=Count("citizen_id", distinct=True))
    )

    report = DryRun()
    for row in rows:
        report.events += row["n"]
        if row["_reason"] == "offer":
            report.offers_events = row["n"]
            report.offers_citizens = row["citizens"]
        else:
            report.held_back[row["_reason"]] = {
                "label": HELD_BACK[row["_reason"]],
                "events": row["n"],
                "citizens": row["citizens"],
            }
    report.citizens = events.exclude(citizen__isnull=True).aggregate(
        n=Count("citizen_id", distinct=True)
    )["n"]

    sample = (
        events.alias(_reason=reason)
        .filter(_reason="offer")
        .select_related("citizen")
        .order_by("-occurred_on", "pk")[:sample_size]
    )
    report.sample = [
        {
            "citizen": _mask_name(event.citizen),
            "snils": _mask_snils(event.citizen.snils),
            "occurred_on": event.occurred_on.strftime("%d.%m.%Y"),
            "record": f"{event.source}:{event.record_id}",
        }
        for event in sample
    ]
    return report
