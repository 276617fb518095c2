"""Why the citizen sees an offer, in plain Russian: which registry record
and which version of which rule made it (invariant 6 of DESIGN.md)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from events.models import REGISTRY_NAMES

from .models import Offer


def _event_phrase(event) -> str:
    return {
        "birth": _("о рождении ребёнка"),
        "disability": _("об установлении инвалидности"),
        "death": _("о смерти"),
        "payment": _("о социальной выплате"),
        "tax_notice": _("о налоговом уведомлении"),
    }.get(event.event_type, _("о событии"))


def _record_sentence(event) -> str:
    """Which registry told what, and its record's number. An age milestone
    is the portal's own reading of the birth date in the population
    registry: it has no record number of a registry's to show."""
    day = date_format(event.occurred_on, "d.m.Y")
    registry = REGISTRY_NAMES.get(event.source, event.get_source_display())
    if event.event_type == "age_milestone":
        age = int(event.data.get("age", 0))
        return ngettext(
            "Источник — %(registry)s: %(day)s Вам исполнился %(age)d год.",
            "Источник — %(registry)s: %(day)s Вам исполнилось %(age)d лет.",
            age,
        ) % {"registry": registry, "day": day, "age": age}
    return _(
        "Источник — %(registry)s: сведения %(what)s, запись № %(record)s от %(day)s."
    ) % {
        "registry": registry,
        "what": _event_phrase(event),
        "record": event.record_id,
        "day": day,
    }


def why(offer: Offer) -> str:
    """A few sentences for the cabinet's "why am I seeing this"."""
    parts = [_record_sentence(offer.event)]

    version = offer.rule_version
    if version is None:
        parts.append(
            _("По правилу «%(rule)s» это даёт Вам право на услугу.")
            % {"rule": offer.rule.name}
        )
    else:
        parts.append(
            _(
                "По правилу «%(rule)s» (версия %(number)s, утверждена %(day)s) "
                "это даёт Вам право на услугу."
            )
            % {
                "rule": version.name,
                "number": version.number,
                "day": date_format(timezone.localtime(version.approved_at), "d.m.Y"),
            }
        )
        if version.trigger_date_field:
            parts.append(
                ngettext(
                    "Мы напоминаем о сроке за %(days)d день до него.",
                    "Мы напоминаем о сроке за %(days)d дней до него.",
                    version.days_before,
                )
                % {"days": version.days_before}
            )
    if offer.attempt > 1:
        parts.append(
            _(
                "Прошлое предложение осталось без ответа или Вы от него "
                "отказались; правило разрешает предложить услугу ещё раз."
            )
        )
    return " ".join(parts)
