"""Why the citizen sees an offer, in plain Russian: which registry record
and which version of which rule made it (invariant 6 of DESIGN.md)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import Offer


def _event_phrase(event) -> str:
    if event.event_type == "age_milestone":
        age = int(event.data.get("age", 0))
        return ngettext(
            "о том, что Вам исполнился %(age)d год",
            "о том, что Вам исполнилось %(age)d лет",
            age,
        ) % {"age": age}
    return {
        "birth": _("о рождении ребёнка"),
        "disability": _("об установлении инвалидности"),
        "death": _("о смерти"),
        "payment": _("о социальной выплате"),
        "tax_notice": _("о налоговом уведомлении"),
    }.get(event.event_type, _("о событии"))


def why(offer: Offer) -> str:
    """A few sentences for the cabinet's "why am I seeing this"."""
    event = offer.event
    parts = [
        _("Реестр «%(source)s» сообщил %(what)s: запись № %(record)s от %(day)s.")
        % {
            "source": event.get_source_display(),
            "what": _event_phrase(event),
            "record": event.record_id,
            "day": date_format(event.occurred_on, "d.m.Y"),
        }
    ]

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
