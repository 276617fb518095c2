"""The condition language of trigger rules, compiled to a Django ``Q``.

A rule's conditions are a list of objects, all of which must hold::

    [
        {"field": "event.birth_order", "op": "gte", "value": 2},
        {"field": "event.role", "op": "eq", "value": "mother"},
        {"field": "event.stillborn", "op": "eq", "value": false}
    ]

Only the fields and operators listed here exist; nothing from the rule text
is ever evaluated as code. The compiled ``Q`` applies to ``LifeEvent``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Q


class RuleError(ValueError):
    """A rule's conditions are malformed; the message names the place."""


@dataclass(frozen=True)
class Field:
    lookup: str
    kind: str  # "int", "str", "bool" or "date"
    label: str


FIELDS: dict[str, Field] = {
    "event.role": Field("role", "str", "роль в событии (mother, father)"),
    "event.occurred_on": Field("occurred_on", "date", "дата события"),
    "event.birth_order": Field("data__birth_order", "int", "очерёдность рождения"),
    "event.stillborn": Field("data__stillborn", "bool", "мертворождение"),
    "event.act_number": Field("data__act_number", "str", "номер записи акта"),
    "event.child_sex": Field("data__child_sex", "str", "пол ребёнка"),
    "citizen.sex": Field("citizen__sex", "str", "пол гражданина"),
    "citizen.region_code": Field("citizen__region_code", "str", "код региона"),
}

COMPARISONS = {"eq": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}
OPERATORS = (*COMPARISONS, "ne", "in", "empty", "not_empty")


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
    expected = {
        "int": "целое число",
        "str": "строка",
        "bool": "true или false",
        "date": "дата ГГГГ-ММ-ДД",
    }[kind]
    raise RuleError(f"{where}: значение {value!r} не подходит, нужно: {expected}")


def _compile_one(condition: Any, index: int) -> Q:
    where = f"условие {index + 1}"
    if not isinstance(condition, dict):
        raise RuleError(f"{where}: ожидается объект с полями field, op, value")

    name = condition.get("field")
    if name not in FIELDS:
        known = ", ".join(sorted(FIELDS))
        raise RuleError(f"{where}: неизвестное поле {name!r}; допустимы: {known}")
    field = FIELDS[name]
    where = f"{where} ({name})"

    op = condition.get("op")
    if op not in OPERATORS:
        raise RuleError(
            f"{where}: неизвестная операция {op!r}; допустимы: {', '.join(OPERATORS)}"
        )

    extra = set(condition) - {"field", "op", "value"}
    if extra:
        raise RuleError(f"{where}: лишние ключи {', '.join(sorted(extra))}")

    if op in ("empty", "not_empty"):
        if "value" in condition:
            raise RuleError(f"{where}: операции {op} значение не нужно")
        empty = Q(**{f"{field.lookup}__isnull": True})
        if field.kind == "str":
            empty |= Q(**{field.lookup: ""})
        return empty if op == "empty" else ~empty

    if "value" not in condition:
        raise RuleError(f"{where}: не задано значение")
    value = condition["value"]

    if op == "in":
        if not isinstance(value, list) or not value:
            raise RuleError(f"{where}: для in нужен непустой список значений")
        values = [_coerce(item, field, where) for item in value]
        return Q(**{f"{field.lookup}__in": values})

    value = _coerce(value, field, where)
    if op == "ne":
        return ~Q(**{field.lookup: value})
    if op != "eq" and field.kind == "bool":
        raise RuleError(f"{where}: для да/нет годятся только eq и ne")
    return Q(**{f"{field.lookup}{COMPARISONS[op]}": value})


def compile_conditions(conditions: Any) -> Q:
    """Validate ``conditions`` and return the ``Q`` they mean on LifeEvent."""
    if not isinstance(conditions, list):
        raise RuleError("условия: ожидается список условий")
    compiled = Q()
    for index, condition in enumerate(conditions):
        compiled &= _compile_one(condition, index)
    return compiled
