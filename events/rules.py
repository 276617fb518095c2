"""The condition language of trigger rules, compiled to a Django ``Q``.

A rule's conditions are a list of objects, all of which must hold::

    [
        {"field": "event.birth_order", "op": "gte", "value": 2},
        {"field": "event.role", "op": "eq", "value": "mother"},
        {"field": "citizen.age_on_event", "op": "between", "value": [18, 35]},
        {"field": "days_until:event.due_on", "op": "lte", "value": 14}
    ]

Only the fields and operators listed here exist; nothing from the rule text
is ever evaluated as code. Every field is a Django expression over
``LifeEvent`` (and its citizen), so PostgreSQL computes ages and day
differences itself. See docs/rules.md for the language.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import (
    BooleanField,
    DateField,
    DecimalField,
    Expression,
    F,
    Func,
    IntegerField,
    Q,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, NullIf
from django.db.models import lookups
from django.utils import timezone


class RuleError(ValueError):
    """A rule's conditions are malformed; the message names the place."""


# An expression is built for the day of evaluation ("today"), since ages
# and day differences depend on it.
Builder = Callable[[datetime.date], Expression]


@dataclass(frozen=True)
class Field:
    build: Builder
    kind: str  # "int", "str", "bool", "date" or "decimal"
    label: str
    # Event types that carry the field; empty means every event.
    event_types: tuple[str, ...] = ()


def _data(key: str, kind: str) -> Builder:
    """A key of ``LifeEvent.data``, typed. Registries write "" for empty."""
    output = {
        "int": IntegerField(),
        "bool": BooleanField(),
        "date": DateField(),
        "decimal": DecimalField(max_digits=16, decimal_places=2),
    }.get(kind)

    def build(today: datetime.date) -> Expression:
        text = KT(f"data__{key}")
        if output is None:
            return text
        return Cast(NullIf(text, Value("")), output)

    return build


def _column(name: str) -> Builder:
    return lambda today: F(name)


class _Age(Func):
    """Whole years between two dates: ``date_part('year', age(a, b))``."""

    template = "date_part('year', age(%(expressions)s))::int"
    output_field = IntegerField()


class _DayDifference(Func):
    """``a - b`` of two dates, in days (PostgreSQL's date minus date)."""

    template = "(%(expressions)s)"
    arg_joiner = " - "
    output_field = IntegerField()


def _today(today: datetime.date) -> Value:
    return Value(today, output_field=DateField())


BIRTH = ("birth",)
DISABILITY = ("disability",)
PAYMENT = ("payment",)
TAX = ("tax_notice",)
MONEY = ("payment", "tax_notice")
AGE = ("age_milestone",)

FIELDS: dict[str, Field] = {
    # Every event.
    "event.role": Field(
        _column("role"), "str", "роль в событии (mother, father, self)"
    ),
    "event.occurred_on": Field(_column("occurred_on"), "date", "дата события"),
    "event.source": Field(_column("source"), "str", "источник сведений"),
    # Births.
    "event.birth_order": Field(
        _data("birth_order", "int"), "int", "очерёдность рождения", BIRTH
    ),
    "event.stillborn": Field(
        _data("stillborn", "bool"), "bool", "мертворождение", BIRTH
    ),
    "event.act_number": Field(
        _data("act_number", "str"), "str", "номер записи акта", BIRTH
    ),
    "event.act_date": Field(
        _data("act_date", "date"), "date", "дата записи акта", BIRTH
    ),
    "event.child_sex": Field(_data("child_sex", "str"), "str", "пол ребёнка", BIRTH),
    "event.child_birth_date": Field(
        _data("child_birth_date", "date"), "date", "дата рождения ребёнка", BIRTH
    ),
    "event.place_of_birth": Field(
        _data("place_of_birth", "str"), "str", "место рождения", BIRTH
    ),
    # Disability.
    "event.group": Field(
        _data("group", "str"), "str", "группа инвалидности (1, 2, 3, child)", DISABILITY
    ),
    "event.established_on": Field(
        _data("established_on", "date"), "date", "дата установления", DISABILITY
    ),
    "event.valid_until": Field(
        _data("valid_until", "date"), "date", "инвалидность установлена до", DISABILITY
    ),
    "event.next_examination": Field(
        _data("next_examination", "date"),
        "date",
        "дата переосвидетельствования",
        DISABILITY,
    ),
    # The date a re-examination is due: the one ФГИС ФРИ names, otherwise
    # the end of the term, since the expertise must take place before it.
    "event.reexamination_due": Field(
        lambda today: Coalesce(
            _data("next_examination", "date")(today),
            _data("valid_until", "date")(today),
        ),
        "date",
        "срок переосвидетельствования (дата МСЭ, иначе конец срока инвалидности)",
        DISABILITY,
    ),
    "event.cause": Field(
        _data("cause", "str"), "str", "причина инвалидности", DISABILITY
    ),
    # Payments and tax notices.
    "event.payment_type": Field(
        _data("payment_type", "str"), "str", "вид выплаты", PAYMENT
    ),
    "event.status": Field(_data("status", "str"), "str", "состояние выплаты", PAYMENT),
    "event.scheduled_on": Field(
        _data("scheduled_on", "date"), "date", "дата выплаты", PAYMENT
    ),
    "event.amount": Field(_data("amount", "decimal"), "decimal", "сумма, руб.", MONEY),
    "event.tax_type": Field(_data("tax_type", "str"), "str", "вид налога", TAX),
    "event.due_on": Field(_data("due_on", "date"), "date", "срок уплаты", TAX),
    "event.period_year": Field(
        _data("period_year", "int"), "int", "налоговый период (год)", TAX
    ),
    # Age milestones (computed daily from the population's birth dates).
    "event.age": Field(_data("age", "int"), "int", "исполнившийся возраст", AGE),
    # The citizen.
    "citizen.sex": Field(_column("citizen__sex"), "str", "пол гражданина"),
    "citizen.region_code": Field(_column("citizen__region_code"), "str", "код региона"),
    "citizen.birth_date": Field(
        _column("citizen__birth_date"), "date", "дата рождения гражданина"
    ),
    "citizen.age_on_event": Field(
        lambda today: _Age(F("occurred_on"), F("citizen__birth_date")),
        "int",
        "возраст гражданина на дату события",
    ),
    "citizen.age": Field(
        lambda today: _Age(_today(today), F("citizen__birth_date")),
        "int",
        "возраст гражданина сегодня",
    ),
}

# Date fields a time trigger may count down to, and "days since/until" use.
DATE_FIELDS = tuple(name for name, field in FIELDS.items() if field.kind == "date")
DAYS_SINCE = "days_since:"
DAYS_UNTIL = "days_until:"

COMPARISONS = {
    "eq": lookups.Exact,
    "gt": lookups.GreaterThan,
    "gte": lookups.GreaterThanOrEqual,
    "lt": lookups.LessThan,
    "lte": lookups.LessThanOrEqual,
}
OPERATORS = (*COMPARISONS, "ne", "in", "not_in", "between", "empty", "not_empty")

_EXPECTED = {
    "int": "целое число",
    "str": "строка",
    "bool": "true или false",
    "date": "дата ГГГГ-ММ-ДД",
    "decimal": 'число (сумма), например 1500 или "1500.50"',
}


def _days_field(name: str) -> Field | None:
    """``days_since:event.x`` / ``days_until:event.x`` over a date field."""
    for prefix, label in (
        (DAYS_SINCE, "дней прошло с"),
        (DAYS_UNTIL, "дней осталось до"),
    ):
        if not name.startswith(prefix):
            continue
        base = FIELDS.get(name[len(prefix) :])
        if base is None or base.kind != "date":
            return None
        since = prefix == DAYS_SINCE

        def build(today: datetime.date, base: Field = base, since: bool = since):
            date = base.build(today)
            pair = (_today(today), date) if since else (date, _today(today))
            return _DayDifference(*pair)

        return Field(build, "int", f"{label}: {base.label}", base.event_types)
    return None


def resolve_field(name: Any) -> Field | None:
    if not isinstance(name, str):
        return None
    return FIELDS.get(name) or _days_field(name)


def _coerce(value: Any, field: Field, where: str) -> Any:
    kind = field.kind
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    if kind == "decimal" and not isinstance(value, bool | float):
        try:
            return Decimal(str(value)) if isinstance(value, int | str) else None
        except InvalidOperation:
            pass
    raise RuleError(
        f"{where}: значение {value!r} не подходит, нужно: {_EXPECTED[kind]}"
    )


def _empty(field: Field, expression: Expression) -> Q:
    empty = Q(lookups.IsNull(expression, True))
    if field.kind == "str":
        empty |= Q(lookups.Exact(expression, ""))
    return empty


def _compile_one(
    condition: Any, index: int, today: datetime.date, event_type: str | None
) -> Q:
    where = f"условие {index + 1}"
    if not isinstance(condition, dict):
        raise RuleError(f"{where}: ожидается объект с полями field, op, value")

    name = condition.get("field")
    field = resolve_field(name)
    if field is None:
        known = ", ".join(sorted(FIELDS))
        raise RuleError(
            f"{where}: неизвестное поле {name!r}; допустимы: {known}, а также "
            f"{DAYS_SINCE}<поле-дата> и {DAYS_UNTIL}<поле-дата>"
        )
    where = f"{where} ({name})"
    if event_type and field.event_types and event_type not in field.event_types:
        raise RuleError(
            f"{where}: это поле есть только у событий {', '.join(field.event_types)}, "
            f"а правило реагирует на {event_type}"
        )

    op = condition.get("op")
    if op not in OPERATORS:
        raise RuleError(
            f"{where}: неизвестная операция {op!r}; допустимы: {', '.join(OPERATORS)}"
        )

    extra = set(condition) - {"field", "op", "value"}
    if extra:
        raise RuleError(f"{where}: лишние ключи {', '.join(sorted(extra))}")

    expression = field.build(today)
    if op in ("empty", "not_empty"):
        if "value" in condition:
            raise RuleError(f"{where}: операции {op} значение не нужно")
        empty = _empty(field, expression)
        return empty if op == "empty" else ~empty

    if "value" not in condition:
        raise RuleError(f"{where}: не задано значение")
    value = condition["value"]

    if field.kind == "bool" and op not in ("eq", "ne"):
        raise RuleError(f"{where}: для да/нет годятся только eq и ne")

    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise RuleError(f"{where}: для {op} нужен непустой список значений")
        values = [_coerce(item, field, where) for item in value]
        matched = Q(lookups.In(expression, values))
        return matched if op == "in" else ~matched

    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise RuleError(
                f"{where}: для between нужен список из двух значений [от, до]"
            )
        low, high = (_coerce(item, field, where) for item in value)
        if low > high:
            raise RuleError(f"{where}: начало диапазона {value[0]!r} больше конца")
        return Q(lookups.GreaterThanOrEqual(expression, low)) & Q(
            lookups.LessThanOrEqual(expression, high)
        )

    value = _coerce(value, field, where)
    if op == "ne":
        return ~Q(lookups.Exact(expression, value))
    return Q(COMPARISONS[op](expression, value))


def compile_conditions(
    conditions: Any,
    *,
    today: datetime.date | None = None,
    event_type: str | None = None,
) -> Q:
    """Validate ``conditions`` and return the ``Q`` they mean on LifeEvent.

    ``today`` is the day ages and day counts are taken on (the local date
    by default); ``event_type``, when given, refuses fields that events of
    that type do not carry.
    """
    if not isinstance(conditions, list):
        raise RuleError("условия: ожидается список условий")
    today = today or timezone.localdate()
    compiled = Q()
    for index, condition in enumerate(conditions):
        compiled &= _compile_one(condition, index, today, event_type)
    return compiled


def date_expression(name: str, today: datetime.date | None = None) -> Expression:
    """The expression of a date field, for time triggers."""
    field = FIELDS[name]
    if field.kind != "date":
        raise RuleError(f"{name}: это не дата")
    return field.build(today or timezone.localdate())
