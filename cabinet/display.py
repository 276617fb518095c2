"""How a pre-filled value reads on the citizen's pages.

Offers and applications keep values as the registries and the law give
them (ISO dates, "616617.00", "M", eleven SNILS digits); the pages show
them the way a person writes them, in the page's language. The stored
value is not changed: the correction inputs and the agency get it as it is.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from django.utils import formats
from django.utils.translation import gettext_noop

from events.values import format_snils

from .models import Citizen

# Service titles live in the database (offers.Service.title, in Russian);
# listed here so makemessages puts them in the catalogue and the pages can
# show them in English (the ``translated`` filter, service_title()). A new
# service adds its title here.
SERVICE_TITLES = [
    gettext_noop("Материнский (семейный) капитал"),
    gettext_noop("Государственная регистрация рождения"),
    gettext_noop("Замена паспорта гражданина РФ при достижении 20 и 45 лет"),
    gettext_noop("Уплата налога по налоговому уведомлению"),
    gettext_noop("Запись на переосвидетельствование (МСЭ)"),
    gettext_noop("Пенсия по инвалидности"),
]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")


def display_value(key: str, value) -> str:
    """``value`` of the pre-fill field ``key`` as the page shows it."""
    text = "" if value is None else str(value)
    if not text:
        return ""
    if key.endswith(("_date", "_on", "_until")) and _ISO_DATE.match(text):
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            return text
        return formats.date_format(day, "SHORT_DATE_FORMAT")
    if "snils" in key and text.isdigit() and len(text) == 11:
        return format_snils(text)
    if key == "sex" or key.endswith("_sex"):
        return str(dict(Citizen.Sex.choices).get(text.upper(), text))
    if "amount" in key and _AMOUNT.match(text):
        try:
            amount = Decimal(text)
        except InvalidOperation:
            return text
        number = formats.number_format(
            amount, decimal_pos=2, use_l10n=True, force_grouping=True
        )
        return f"{number}\u00a0₽"
    return text


def display_rows(rows: list[dict]) -> list[dict]:
    """offers.prefill.rows_for's rows, each with its ``display`` text."""
    for row in rows:
        row["display"] = display_value(row["key"], row["value"])
    return rows


def service_title(service) -> str:
    from django.utils.translation import gettext

    return gettext(service.title)
