"""What each source's records must hold, and how their values normalize.

``validate(source, raw)`` turns a raw record into the normalized data stored
for it, or returns the list of problems, each naming its column.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from . import values
from .models import Source
from .parsers import RawRecord

Parser = Callable[[str], Any]


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    parse: Parser | None = None  # None: text, stored trimmed


def _passport_series(text: str) -> str:
    return values.parse_digits(text, 4, "серия паспорта")


def _passport_number(text: str) -> str:
    return values.parse_digits(text, 6, "номер паспорта")


def _region(text: str) -> str:
    return values.parse_digits(text, 2, "код региона")


def _email(text: str) -> str:
    try:
        validate_email(text)
    except ValidationError:
        raise ValueError(f"адрес электронной почты недействителен: {text!r}") from None
    return text


SCHEMAS: dict[str, tuple[Column, ...]] = {
    Source.POPULATION: (
        Column("record_id", True),
        Column("snils", True, values.parse_snils),
        Column("last_name", True),
        Column("first_name", True),
        Column("middle_name", False),
        Column("birth_date", True, values.parse_date),
        Column("sex", True, values.parse_sex),
        Column("inn", False, values.parse_inn),
        Column("passport_series", False, _passport_series),
        Column("passport_number", False, _passport_number),
        Column("passport_issued_on", False, values.parse_date),
        Column("address", False),
        Column("region_code", False, _region),
        Column("phone", False, values.parse_phone),
        Column("email", False, _email),
        Column("death_date", False, values.parse_date),
    ),
    Source.BIRTHS: (
        Column("record_id", True),
        Column("child_last_name", True),
        Column("child_first_name", True),
        Column("child_middle_name", False),
        Column("child_birth_date", True, values.parse_date),
        Column("child_sex", True, values.parse_sex),
        Column("child_snils", False, values.parse_snils),
        Column("mother_snils", True, values.parse_snils),
        Column("father_snils", False, values.parse_snils),
        Column("birth_order", True, values.parse_positive_int),
        Column("place_of_birth", False),
        Column("act_number", False),
        Column("act_date", False, values.parse_date),
        Column("stillborn", False, values.parse_bool),
    ),
    Source.DISABILITY: (
        Column("record_id", True),
        Column("snils", True, values.parse_snils),
        Column(
            "group",
            True,
            values.choice(values.DISABILITY_GROUPS, "группа инвалидности"),
        ),
        Column("established_on", True, values.parse_date),
        Column("valid_until", False, values.parse_date),
        Column("next_examination", False, values.parse_date),
        Column("cause", False),
        Column("office", False),
    ),
    Source.DEATHS: (
        Column("record_id", True),
        Column("snils", False, values.parse_snils),
        Column("last_name", True),
        Column("first_name", True),
        Column("middle_name", False),
        Column("birth_date", True, values.parse_date),
        Column("passport_series", False, _passport_series),
        Column("passport_number", False, _passport_number),
        Column("death_date", True, values.parse_date),
    ),
    Source.PAYMENTS: (
        Column("record_id", True),
        Column("snils", True, values.parse_snils),
        Column("payment_type", True),
        Column("amount", True, values.parse_amount),
        Column("scheduled_on", True, values.parse_date),
        Column(
            "status", True, values.choice(values.PAYMENT_STATUSES, "статус выплаты")
        ),
    ),
    Source.TAX: (
        Column("record_id", True),
        Column("inn", True, values.parse_inn),
        Column("tax_type", True, values.choice(values.TAX_TYPES, "вид налога")),
        Column("amount", True, values.parse_amount),
        Column("due_on", True, values.parse_date),
        Column("period_year", True, values.parse_year),
    ),
}

# Parsed once: (name, required, parser) of each source, for the hot loop.
_PLAN = {
    source: tuple((c.name, c.required, c.parse) for c in columns)
    for source, columns in SCHEMAS.items()
}
# Values kept as JSON numbers or booleans; every other empty value is "".
_TYPED = {"birth_order", "period_year", "stillborn", "phone_is_mobile"}


def required_columns(source: str) -> tuple[str, ...]:
    return tuple(column.name for column in SCHEMAS[source] if column.required)


def _plausibility(
    source: str, data: dict[str, Any], today: datetime.date
) -> list[tuple[str, str]]:
    problems = []
    if source == Source.POPULATION:
        born = data["birth_date"]
        if born > today:
            problems.append(("birth_date", "дата рождения в будущем"))
        death = data.get("death_date")
        if death and death < born:
            problems.append(("death_date", "дата смерти раньше даты рождения"))
        if death and death > today:
            problems.append(("death_date", "дата смерти в будущем"))
    elif source == Source.BIRTHS:
        if data["child_birth_date"] > today:
            problems.append(("child_birth_date", "дата рождения ребёнка в будущем"))
        if data.get("act_date") and data["act_date"] < data["child_birth_date"]:
            problems.append(("act_date", "дата записи акта раньше рождения ребёнка"))
        if data.get("father_snils") and data["father_snils"] == data["mother_snils"]:
            problems.append(("father_snils", "СНИЛС отца совпадает со СНИЛС матери"))
    elif source == Source.DISABILITY:
        if data["established_on"] > today:
            problems.append(
                ("established_on", "дата установления инвалидности в будущем")
            )
        if data.get("valid_until") and data["valid_until"] < data["established_on"]:
            problems.append(
                ("valid_until", "срок инвалидности кончается раньше, чем начат")
            )
    elif source == Source.DEATHS:
        if data["death_date"] > today:
            problems.append(("death_date", "дата смерти в будущем"))
        if data["death_date"] < data["birth_date"]:
            problems.append(("death_date", "дата смерти раньше даты рождения"))
    return problems


def validate(
    source: str, raw: RawRecord, today: datetime.date | None = None
) -> tuple[dict[str, Any] | None, list]:
    """(normalized data, []) or (None, [(column, reason), ...]).

    ``today`` (for "in the future" checks) is asked once per import by the
    importer: asking the time zone for every row costs a fifth of the run."""
    problems = list(raw.problems)
    if problems and not raw.fields:
        return None, problems  # the reader could not even find the fields
    data: dict[str, Any] = {}
    fields = raw.fields
    # A column the reader already explained is not reported twice.
    explained = {column for column, _ in problems} if problems else ()
    for name, required, parse in _PLAN[source]:
        text = fields.get(name)
        if not text:
            if required and name not in explained:
                problems.append((name, "обязательное поле не заполнено"))
            data[name] = None
            continue
        if parse is None:
            data[name] = text
            continue
        try:
            data[name] = parse(text)
        except ValueError as error:
            problems.append((name, str(error)))

    if problems:
        return None, problems
    problems = _plausibility(source, data, today or timezone.localdate())
    if problems:
        return None, problems
    return _to_json(source, data), []


def _to_json(source: str, data: dict[str, Any]) -> dict[str, Any]:
    """Dates as ISO text, empty optional values as "" (text) or null."""
    date = datetime.date
    result: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            value = None if key in _TYPED else ""
        elif type(value) is date:
            value = value.isoformat()
        result[key] = value
    if source == Source.POPULATION:
        phone = result.pop("phone")
        result["phone"], result["phone_is_mobile"] = phone if phone else ("", False)
    if source == Source.BIRTHS:
        result["stillborn"] = bool(result["stillborn"])
    return result
