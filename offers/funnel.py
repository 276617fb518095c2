"""The take-up funnel: how far proactive offers get, per rule, service and
channel, and who was held back before an offer and why.

Read-only and set-based: one statement for all offers' steps (grouped by
rule and by service at once), one for the channels, and one per rule for the
events it matches (a rule's conditions compile to its own ``Q``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q

from consents.models import active_consent_exists
from notifications.models import Notification

from .models import Application, Offer

STEPS = ("detected", "offers", "notified", "opened", "confirmed", "completed")
STEP_LABELS = {
    "detected": "событий выявлено",
    "offers": "предложений сделано",
    "notified": "уведомлено",
    "opened": "открыли",
    "confirmed": "подтвердили",
    "completed": "получили результат",
}
BAR_STEP, BAR_WIDTH = 22, 440  # the SVG chart: row height, longest bar
# Why an event that matched a rule made no offer, first reason that holds.
HELD_BACK = {
    "unknown": "нет в реестре населения",
    "deceased": "умер",
    "proactive_off": "проактивный режим выключен",
    "no_consent": "нет действующего согласия",
    "other": "прочее (правило не действовало при загрузке и т. п.)",
}

# The notices that announce a new offer: most are "offer created", a tax
# reminder is a "deadline reminder" (offers.services.ANNOUNCED_AS).
ANNOUNCING_KINDS = [
    Notification.Kind.OFFER_CREATED,
    Notification.Kind.DEADLINE_REMINDER,
]

_STEPS_SQL = """
WITH steps AS (
    SELECT o.id, o.rule_id, o.service_id, o.created_at, o.opened_at,
           CASE WHEN o.status = %(confirmed)s THEN o.decided_at END AS confirmed_at,
           (SELECT min(n.sent_at) FROM notifications_notification n
             WHERE n.offer_id = o.id AND n.kind = ANY(%(announced)s)
               AND n.status = %(sent)s) AS notified_at,
           (SELECT min(h.changed_at)
              FROM offers_applicationstatuschange h
              JOIN offers_application a ON a.id = h.application_id
             WHERE a.offer_id = o.id AND h.status = %(completed)s) AS completed_at
    FROM offers_offer o
)
SELECT GROUPING(rule_id) AS by_service, rule_id, service_id,
       count(*), count(notified_at), count(opened_at), count(confirmed_at),
       count(completed_at),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY notified_at - created_at),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY opened_at - created_at),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY confirmed_at - created_at),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY completed_at - created_at)
FROM steps
GROUP BY GROUPING SETS ((rule_id, service_id), (service_id))
"""

_CHANNELS_SQL = """
SELECT o.rule_id, n.channel, count(DISTINCT o.id),
       count(DISTINCT o.id) FILTER (WHERE o.opened_at IS NOT NULL),
       count(DISTINCT o.id) FILTER (WHERE o.status = %(confirmed)s),
       count(DISTINCT o.id) FILTER (WHERE a.status = %(completed)s)
FROM notifications_notification n
JOIN offers_offer o ON o.id = n.offer_id
LEFT JOIN offers_application a ON a.offer_id = o.id
WHERE n.kind = ANY(%(announced)s) AND n.status = %(sent)s
GROUP BY o.rule_id, n.channel
ORDER BY o.rule_id, n.channel
"""


@dataclass
class Row:
    """One line of the funnel: counts per step, medians from the offer."""

    label: str
    counts: dict[str, int] = field(default_factory=dict)
    medians: dict[str, datetime.timedelta | None] = field(default_factory=dict)
    held_back: dict[str, int] = field(default_factory=dict)

    def steps(self) -> list[dict]:
        top = max(self.counts.get("detected", 0), self.counts.get("offers", 0), 1)
        present = [key for key in STEPS if key in self.counts]
        return [
            {
                "key": key,
                "y": index * BAR_STEP,
                "width": round(BAR_WIDTH * self.counts.get(key, 0) / top),
                "label": STEP_LABELS[key],
                "count": self.counts.get(key, 0),
                "percent": round(100 * self.counts.get(key, 0) / top),
                "median": _humanize(self.medians.get(key)),
            }
            for index, key in enumerate(present)
        ]

    @property
    def chart_height(self) -> int:
        return BAR_STEP * len([key for key in STEPS if key in self.counts])

    def held_back_rows(self) -> list[dict]:
        return [
            {"key": key, "label": HELD_BACK[key], "count": count}
            for key, count in self.held_back.items()
        ]


def _humanize(value: datetime.timedelta | None) -> str:
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60)
    if minutes < 1:
        return "меньше минуты"
    if minutes < 60:
        return f"{minutes} мин"
    if minutes < 48 * 60:
        return f"{minutes // 60} ч {minutes % 60} мин"
    return f"{minutes // (24 * 60)} дн"


def _offer_steps() -> dict[tuple[str, int], tuple[dict, dict]]:
    params = {
        "confirmed": Offer.Status.CONFIRMED,
        "announced": ANNOUNCING_KINDS,
        "sent": Notification.Status.SENT,
        "completed": Application.Status.COMPLETED,
    }
    result = {}
    with connection.cursor() as cursor:
        cursor.execute(_STEPS_SQL, params)
        for row in cursor.fetchall():
            by_service, rule_id, service_id, *numbers = row
            counts = dict(zip(STEPS[1:], numbers[:5], strict=True))
            medians = dict(zip(STEPS[2:], numbers[5:], strict=True))
            key = ("service", service_id) if by_service else ("rule", rule_id)
            result[key] = (counts, medians)
    return result


def _channel_steps() -> dict[int, list[dict]]:
    params = {
        "confirmed": Offer.Status.CONFIRMED,
        "completed": Application.Status.COMPLETED,
        "announced": ANNOUNCING_KINDS,
        "sent": Notification.Status.SENT,
    }
    channels = dict(Notification.Channel.choices)
    result: dict[int, list[dict]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_CHANNELS_SQL, params)
        for (
            rule_id,
            channel,
            notified,
            opened,
            confirmed,
            completed,
        ) in cursor.fetchall():
            row = Row(
                str(channels.get(channel, channel)),
                {
                    "notified": notified,
                    "opened": opened,
                    "confirmed": confirmed,
                    "completed": completed,
                },
            )
            result.setdefault(rule_id, []).append(row)
    return result


def event_counts(rule) -> dict[str, int]:
    """Events the rule matches, and of those without an offer from it, why
    not: one aggregate statement. The reasons are exclusive, in the order
    the evaluation applies them, and reflect the citizens' state now."""
    from events.models import LifeEvent
    from events.rules import compile_conditions

    no_offer = ~Exists(Offer.objects.filter(rule=rule, event=OuterRef("pk")))
    alive = Q(citizen__isnull=False, citizen__death_date__isnull=True)
    reachable = alive & Q(citizen__proactive_mode=True)
    events = (
        LifeEvent.objects.filter(compile_conditions(rule.conditions))
        .filter(event_type=rule.event_type)
        .annotate(no_offer=no_offer, consenting=active_consent_exists("citizen_id"))
    )
    held = Q(no_offer=True)
    return events.aggregate(
        detected=Count("id"),
        unknown=Count("id", filter=held & Q(citizen__isnull=True)),
        deceased=Count(
            "id",
            filter=held & Q(citizen__isnull=False, citizen__death_date__isnull=False),
        ),
        proactive_off=Count(
            "id", filter=held & alive & Q(citizen__proactive_mode=False)
        ),
        no_consent=Count("id", filter=held & reachable & Q(consenting=False)),
        other=Count("id", filter=held & reachable & Q(consenting=True)),
    )


@dataclass
class Report:
    rules: list[dict]
    services: list[Row]


def build_report() -> Report:
    from events.models import TriggerRule

    steps = _offer_steps()
    channels = _channel_steps()
    services: dict[int, Row] = {}
    rules = []
    for rule in TriggerRule.objects.select_related("service").order_by(
        "service__title", "name"
    ):
        events = event_counts(rule)
        counts, medians = steps.get(("rule", rule.pk), ({}, {}))
        row = Row(
            rule.name,
            {"detected": events.pop("detected"), **_zero(counts)},
            medians,
            events,
        )
        rules.append({"rule": rule, "row": row, "channels": channels.get(rule.pk, [])})

        service = services.setdefault(
            rule.service_id,
            Row(rule.service.title, {"detected": 0}, {}, dict.fromkeys(HELD_BACK, 0)),
        )
        service.counts["detected"] += row.counts["detected"]
        for reason, count in events.items():
            service.held_back[reason] += count

    for service_id, service in services.items():
        counts, medians = steps.get(("service", service_id), ({}, {}))
        service.counts.update(_zero(counts))
        service.medians = medians
    return Report(rules=rules, services=list(services.values()))


def _zero(counts: dict) -> dict:
    return {key: counts.get(key, 0) for key in STEPS[1:]}
