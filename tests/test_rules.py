"""The condition language of trigger rules and its compilation to Q."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from events.models import LifeEvent, TriggerRule
from events.rules import RuleError, compile_conditions
from offers.models import Service


@pytest.mark.parametrize(
    ("condition", "sql_fragment"),
    [
        ({"field": "event.birth_order", "op": "gte", "value": 2}, ">="),
        ({"field": "event.birth_order", "op": "lt", "value": 3}, "<"),
        ({"field": "event.role", "op": "eq", "value": "mother"}, "mother"),
        ({"field": "event.role", "op": "ne", "value": "father"}, "NOT"),
        ({"field": "event.role", "op": "in", "value": ["mother", "father"]}, "IN"),
        ({"field": "event.act_number", "op": "empty"}, "IS NULL"),
        ({"field": "event.act_number", "op": "not_empty"}, "NOT"),
        ({"field": "event.occurred_on", "op": "gte", "value": "2020-01-01"}, "2020-01-01"),
        ({"field": "citizen.region_code", "op": "eq", "value": "77"}, "region_code"),
    ],
)
def test_every_operator_compiles_to_sql(condition, sql_fragment):
    query = LifeEvent.objects.filter(compile_conditions([condition])).query
    assert sql_fragment in str(query)


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"field": "event.role"}, "список"),
        (["event.role = mother"], "объект"),
        ([{"field": "event.colour", "op": "eq", "value": 1}], "неизвестное поле"),
        ([{"field": "event.role", "op": "like", "value": "m"}], "неизвестная операция"),
        ([{"field": "event.birth_order", "op": "gte", "value": "два"}], "целое число"),
        ([{"field": "event.birth_order", "op": "gte", "value": True}], "целое число"),
        ([{"field": "event.role", "op": "in", "value": []}], "непустой список"),
        ([{"field": "event.role", "op": "eq"}], "не задано значение"),
        ([{"field": "event.act_number", "op": "empty", "value": ""}], "не нужно"),
        ([{"field": "event.stillborn", "op": "gt", "value": False}], "только eq и ne"),
        ([{"field": "event.occurred_on", "op": "eq", "value": "31.02.2020"}], "дата"),
        ([{"field": "event.role", "op": "eq", "value": "x", "sql": "1"}], "лишние ключи"),
    ],
)
def test_invalid_rules_are_refused_with_the_place_named(conditions, message):
    with pytest.raises(RuleError, match=message):
        compile_conditions(conditions)


def test_an_invalid_rule_is_not_saved(db):
    service = Service.objects.get(code="maternity-capital")
    rule = TriggerRule(
        name="Неверное правило",
        code="broken",
        event_type="birth",
        service=service,
        conditions=[{"field": "event.birth_order", "op": "gte", "value": "второй"}],
    )
    with pytest.raises(ValidationError) as error:
        rule.save()
    assert "conditions" in error.value.message_dict
    assert not TriggerRule.objects.filter(code="broken").exists()


def test_a_rule_ending_before_it_starts_is_refused(db):
    rule = TriggerRule(
        name="Даты наоборот",
        code="dates",
        event_type="birth",
        service=Service.objects.get(code="maternity-capital"),
        valid_from=datetime.date(2025, 1, 1),
        valid_until=datetime.date(2024, 1, 1),
    )
    with pytest.raises(ValidationError):
        rule.save()


def test_the_shipped_rules_exist_and_are_active(db):
    codes = set(TriggerRule.objects.filter(is_active=True).values_list("code", flat=True))
    assert {"maternity-capital-second-child", "birth-registration-without-act"} <= codes
