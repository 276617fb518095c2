"""Every operator and computed field of the condition language, matched by
PostgreSQL against known events; and the messages for invalid rules."""

import datetime

import pytest

from events.models import LifeEvent
from events.rules import RuleError, compile_conditions
from tests.event_factories import CitizenFactory, birth_data, make_event

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 3)


def matching(conditions, event_type=None):
    q = compile_conditions(conditions, today=TODAY, event_type=event_type)
    return set(LifeEvent.objects.filter(q).values_list("record_id", flat=True))


@pytest.fixture
def events():
    young = CitizenFactory(birth_date=datetime.date(2000, 6, 1), region_code="39")
    older = CitizenFactory(birth_date=datetime.date(1980, 1, 15), region_code="77")
    return {
        "first": make_event(
            young, occurred_on=datetime.date(2026, 10, 1), **birth_data(birth_order=1)
        ),
        "second": make_event(
            older,
            occurred_on=datetime.date(2026, 11, 20),
            **birth_data(birth_order=2, act_number=""),
        ),
        "third": make_event(
            older,
            role="father",
            occurred_on=datetime.date(2026, 12, 1),
            **birth_data(birth_order=3, stillborn=True),
        ),
        "tax": make_event(
            older,
            "tax_notice",
            "self",
            datetime.date(2026, 12, 10),
            inn="",
            tax_type="property",
            amount="1500.50",
            due_on="2026-12-10",
            period_year=2025,
        ),
        "disability": make_event(
            young,
            "disability",
            "self",
            datetime.date(2025, 1, 1),
            group="2",
            established_on="2025-01-01",
            valid_until="2027-01-01",
            next_examination="",
        ),
    }


def names(events, *keys):
    return {events[key].record_id for key in keys}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "event.birth_order", "op": "eq", "value": 2}, ["second"]),
        ({"field": "event.birth_order", "op": "ne", "value": 2}, ["first", "third"]),
        ({"field": "event.birth_order", "op": "gt", "value": 2}, ["third"]),
        ({"field": "event.birth_order", "op": "gte", "value": 2}, ["second", "third"]),
        ({"field": "event.birth_order", "op": "lt", "value": 2}, ["first"]),
        ({"field": "event.birth_order", "op": "lte", "value": 2}, ["first", "second"]),
        (
            {"field": "event.birth_order", "op": "in", "value": [1, 3]},
            ["first", "third"],
        ),
        ({"field": "event.birth_order", "op": "not_in", "value": [1, 3]}, ["second"]),
        (
            {"field": "event.birth_order", "op": "between", "value": [2, 3]},
            ["second", "third"],
        ),
        # A key the event does not carry counts as empty.
        ({"field": "event.act_number", "op": "empty"}, ["second", "tax", "disability"]),
        ({"field": "event.act_number", "op": "not_empty"}, ["first", "third"]),
        ({"field": "event.stillborn", "op": "eq", "value": True}, ["third"]),
        ({"field": "event.stillborn", "op": "ne", "value": True}, ["first", "second"]),
        ({"field": "event.role", "op": "eq", "value": "father"}, ["third"]),
        (
            {
                "field": "event.occurred_on",
                "op": "between",
                "value": ["2026-11-01", "2026-11-30"],
            },
            ["second"],
        ),
        ({"field": "event.amount", "op": "gt", "value": "1500"}, ["tax"]),
        ({"field": "event.amount", "op": "lt", "value": 1500}, []),
        ({"field": "event.period_year", "op": "eq", "value": 2025}, ["tax"]),
        ({"field": "event.group", "op": "in", "value": ["1", "2"]}, ["disability"]),
        ({"field": "event.valid_until", "op": "not_empty"}, ["disability"]),
        (
            {"field": "event.valid_until", "op": "gte", "value": "2026-12-31"},
            ["disability"],
        ),
        (
            {"field": "citizen.region_code", "op": "eq", "value": "39"},
            ["first", "disability"],
        ),
        # Born 2000-06-01: 26 on 2026-10-01 (first) and 24 on 2025-01-01.
        (
            {"field": "citizen.age_on_event", "op": "lt", "value": 30},
            ["first", "disability"],
        ),
        (
            {"field": "citizen.age_on_event", "op": "between", "value": [40, 50]},
            ["second", "third", "tax"],
        ),
        ({"field": "citizen.age", "op": "eq", "value": 26}, ["first", "disability"]),
        # Days counted from 2026-12-03.
        (
            {
                "field": "days_since:event.occurred_on",
                "op": "between",
                "value": [0, 14],
            },
            ["second", "third"],
        ),
        ({"field": "days_until:event.due_on", "op": "lte", "value": 7}, ["tax"]),
        ({"field": "days_until:event.valid_until", "op": "gt", "value": 365}, []),
        (
            {
                "field": "days_until:event.valid_until",
                "op": "between",
                "value": [1, 60],
            },
            ["disability"],
        ),
    ],
)
def test_every_operator_and_field_matches_in_the_database(events, condition, expected):
    assert matching([condition]) == names(events, *expected)


def test_conditions_all_hold_together(events):
    conditions = [
        {"field": "event.role", "op": "eq", "value": "mother"},
        {"field": "event.birth_order", "op": "gte", "value": 2},
    ]
    assert matching(conditions) == names(events, "second")


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        (
            [{"field": "event.birth_order", "op": "not_in", "value": 2}],
            "непустой список",
        ),
        (
            [{"field": "event.birth_order", "op": "between", "value": [1]}],
            "двух значений",
        ),
        (
            [{"field": "event.birth_order", "op": "between", "value": [3, 1]}],
            "больше конца",
        ),
        ([{"field": "event.amount", "op": "gt", "value": "много"}], "число"),
        ([{"field": "event.amount", "op": "gt", "value": 1.5}], "число"),
        (
            [{"field": "days_until:event.role", "op": "lt", "value": 3}],
            "неизвестное поле",
        ),
        (
            [{"field": "days_since:event.occurred_on", "op": "lt", "value": "3"}],
            "целое число",
        ),
        (
            [{"field": "citizen.age_on_event", "op": "gte", "value": 18.5}],
            "целое число",
        ),
        ([{"field": "event.stillborn", "op": "in", "value": [True]}], "только eq и ne"),
        (
            [{"field": "event.stillborn", "op": "between", "value": [False, True]}],
            "только eq и ne",
        ),
        ([{}, {"field": "event.role", "op": "eq", "value": 1}], r"условие 1.*None"),
        (
            [
                {"field": "event.role", "op": "eq", "value": "m"},
                {"field": "event.role", "op": "eq", "value": 1},
            ],
            r"условие 2 \(event\.role\)",
        ),
    ],
)
def test_invalid_conditions_name_the_condition_and_the_fault(conditions, message):
    with pytest.raises(RuleError, match=message):
        compile_conditions(conditions, today=TODAY)


def test_a_field_the_event_type_does_not_carry_is_refused():
    with pytest.raises(RuleError, match="только у событий tax_notice"):
        compile_conditions(
            [{"field": "event.due_on", "op": "not_empty"}], event_type="birth"
        )


def test_text_in_a_rule_is_a_value_never_sql(events):
    hostile = "x'); DROP TABLE events_lifeevent; --"
    assert (
        matching([{"field": "event.act_number", "op": "eq", "value": hostile}]) == set()
    )
    assert LifeEvent.objects.count() == 5
