"""What each source's records must hold, and how their values normalize.

``validate(source, raw)`` turns a raw record into the normalized data stored
for it, or returns the list of problems, each naming its column.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from json.encoder import encode_basestring
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


# Parsers of values that repeat across a file (dates, codes, small numbers):
# their results are remembered per import, so each distinct text is parsed
# once. Values that are unique per record (SNILS, INN, phones) are not.
_REPEATING = {
    values.parse_date,
    values.parse_sex,
    values.parse_positive_int,
    values.parse_bool,
    values.parse_year,
    _region,
}
# The remembered results are dropped when there are more than this many, so
# memory stays flat whatever the file holds.
_MEMO_LIMIT = 65_536


def _repeating(parse: Parser) -> Parser:
    """A parser whose results are remembered (see ``_REPEATING``)."""
    _REPEATING.add(parse)
    return parse


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
            _repeating(
                values.choice(values.DISABILITY_GROUPS, "группа инвалидности")
            ),
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
            "status",
            True,
            _repeating(values.choice(values.PAYMENT_STATUSES, "статус выплаты")),
        ),
    ),
    Source.TAX: (
        Column("record_id", True),
        Column("inn", True, values.parse_inn),
        Column(
            "tax_type", True, _repeating(values.choice(values.TAX_TYPES, "вид налога"))
        ),
        Column("amount", True, values.parse_amount),
        Column("due_on", True, values.parse_date),
        Column("period_year", True, values.parse_year),
    ),
}

# Values kept as JSON numbers or booleans; every other empty value is "".
_TYPED = {"birth_order", "period_year", "stillborn", "phone_is_mobile"}


def required_columns(source: str) -> tuple[str, ...]:
    return tuple(column.name for column in SCHEMAS[source] if column.required)


def known_columns(source: str) -> tuple[str, ...]:
    return tuple(column.name for column in SCHEMAS[source])


def foreign_dump(source: str, columns) -> tuple[str, list[str]] | None:
    """(other source, its telling columns) when a header shows a dump of
    another source: it has every column the other source requires, and some
    of those are columns that ``source`` does not know. A population dump
    carries every column of a deaths dump (its ``death_date`` included), so
    the required columns alone cannot tell them apart; its ``sex`` does."""
    present = set(columns)
    known = set(known_columns(source))
    for other in SCHEMAS:
        if other == source:
            continue
        required = required_columns(other)
        telling = [name for name in required if name not in known]
        if telling and present.issuperset(required):
            return other, telling
    return None


def header_problem(source: str, columns: list[str], what: str) -> str | None:
    """What is wrong with the column names of a dump given as ``source``
    (``what``: "столбцов" of a CSV, "полей" of JSON Lines), or None."""
    foreign = foreign_dump(source, columns)
    if foreign:
        other, telling = foreign
        return (
            f"это выгрузка источника {other}, а не {source}: в ней есть "
            f"{', '.join(telling)}"
        )
    missing = [name for name in required_columns(source) if name not in columns]
    if missing:
        return f"нет обязательных {what}: {', '.join(missing)}"
    return None


def _plausibility(source: str, data: dict[str, Any], today: str) -> list:
    """Checks across the values of one record. Dates are ISO text here,
    which compares as the dates do."""
    problems = []
    if source == Source.POPULATION:
        born = data["birth_date"]
        if born > today:
            problems.append(("birth_date", "дата рождения в будущем"))
        death = data["death_date"]
        if death and death < born:
            problems.append(("death_date", "дата смерти раньше даты рождения"))
        if death and death > today:
            problems.append(("death_date", "дата смерти в будущем"))
    elif source == Source.BIRTHS:
        if data["child_birth_date"] > today:
            problems.append(("child_birth_date", "дата рождения ребёнка в будущем"))
        if data["act_date"] and data["act_date"] < data["child_birth_date"]:
            problems.append(("act_date", "дата записи акта раньше рождения ребёнка"))
        if data["father_snils"] and data["father_snils"] == data["mother_snils"]:
            problems.append(("father_snils", "СНИЛС отца совпадает со СНИЛС матери"))
    elif source == Source.DISABILITY:
        if data["established_on"] > today:
            problems.append(
                ("established_on", "дата установления инвалидности в будущем")
            )
        if data["valid_until"] and data["valid_until"] < data["established_on"]:
            problems.append(
                ("valid_until", "срок инвалидности кончается раньше, чем начат")
            )
    elif source == Source.DEATHS:
        if data["death_date"] > today:
            problems.append(("death_date", "дата смерти в будущем"))
        if data["death_date"] < data["birth_date"]:
            problems.append(("death_date", "дата смерти раньше даты рождения"))
    return problems


def _json_value(value: Any) -> str:
    """One value as ``json.dumps`` writes it (``ensure_ascii=False``)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return repr(value)
    return encode_basestring(value)


class Checker:
    """Validates the records of one source during one import and writes
    each valid one as its canonical JSON text.

    The text is exactly ``json.dumps(data, ensure_ascii=False,
    sort_keys=True)``: the content hash of every stored record is taken over
    it, so a record sent again must give the same text as when it was first
    stored. It is filled into a template of the sorted keys instead, value
    by value as each is checked, and the parsers of repeating values are
    asked once per distinct text: this loop runs once per record of files
    with millions of them."""

    def __init__(self, source: str, today: datetime.date):
        self.source = source
        self.today = today.isoformat()
        columns = SCHEMAS[source]
        keys = sorted(
            [c.name for c in columns]
            + (["phone_is_mobile"] if source == Source.POPULATION else [])
        )
        self.size = len(keys)
        self.template = "{" + ", ".join(f'"{key}": %s' for key in keys) + "}"
        # An empty optional value is "" (text) or null (a number), a missing
        # stillborn flag false (born alive).
        empty = {name: "null" if name in _TYPED else '""' for name in keys}
        empty["stillborn"] = "false"
        self.plan = tuple(
            (
                c.name,
                c.required,
                c.parse,
                {} if c.parse in _REPEATING else None,
                keys.index(c.name),
                empty[c.name],
            )
            for c in columns
        )
        self.mobile_slot = (
            keys.index("phone_is_mobile") if source == Source.POPULATION else None
        )

    def check(self, raw: RawRecord) -> tuple[str | None, list]:
        """(canonical JSON text, []) or (None, [(column, reason), ...])."""
        problems = list(raw.problems) if raw.problems else []
        fields = raw.fields
        if problems and not fields:
            return None, problems  # the reader could not even find the fields
        # A column the reader already explained is not reported twice.
        explained = {column for column, _ in problems} if problems else ()
        parts = [""] * self.size
        data: dict[str, Any] = {}
        encode = encode_basestring
        for name, required, parse, memo, slot, empty in self.plan:
            text = fields.get(name)
            if not text:
                if required and name not in explained:
                    problems.append((name, "обязательное поле не заполнено"))
                data[name] = ""
                parts[slot] = empty
            elif parse is None:
                data[name] = text
                parts[slot] = encode(text)
            elif memo is not None and text in memo:
                data[name], parts[slot] = memo[text]
            else:
                try:
                    value = parse(text)
                except ValueError as error:
                    problems.append((name, str(error)))
                    continue
                if type(value) is datetime.date:
                    value = value.isoformat()
                elif type(value) is tuple:  # a phone: number, takes SMS
                    parts[self.mobile_slot] = "true" if value[1] else "false"
                    value = value[0]
                data[name] = value
                parts[slot] = _json_value(value)
                if memo is not None:
                    if len(memo) >= _MEMO_LIMIT:
                        memo.clear()
                    memo[text] = value, parts[slot]
        if problems:
            return None, problems

        problems = _plausibility(self.source, data, self.today)
        if problems:
            return None, problems
        if self.mobile_slot is not None and not data["phone"]:
            parts[self.mobile_slot] = "false"
        return self.template % tuple(parts), []


def validate(
    source: str, raw: RawRecord, today: datetime.date | None = None
) -> tuple[dict[str, Any] | None, list]:
    """(normalized data, []) or (None, [(column, reason), ...]); the data is
    what ``Checker`` stores, as a dict. ``today`` (for "in the future"
    checks) defaults to the local date."""
    text, problems = Checker(source, today or timezone.localdate()).check(raw)
    return (json.loads(text) if text is not None else None), problems
