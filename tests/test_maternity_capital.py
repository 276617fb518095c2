"""Maternity capital's law change of 2020-01-01: the child's birth date picks
the version of the rule, and with it who has the right and the amount."""

import pytest

from events.models import TriggerRule
from offers.models import Offer
from tests.applications import import_births
from tests.factories import CitizenFactory
from tests.helpers import birth

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("born", "order", "rule", "amount"),
    [
        ("2019-12-31", "2", "maternity-capital-second-child", "453026.00"),
        ("2019-12-31", "1", None, None),
        ("2020-01-01", "1", "maternity-capital-since-2020", "466617.00"),
        ("2020-01-01", "2", "maternity-capital-since-2020", "616617.00"),
        ("2026-10-01", "3", "maternity-capital-since-2020", "616617.00"),
    ],
)
def test_the_birth_date_decides_the_version_of_the_rule(
    write_csv, born, order, rule, amount
):
    mother = CitizenFactory(consenting=True)

    import_births(
        write_csv,
        [
            birth(
                "B1",
                mother.snils,
                birth_order=order,
                child_birth_date=born,
                act_date=born,
            )
        ],
    )

    offers = Offer.objects.filter(citizen=mother, service__code="maternity-capital")
    assert [(o.rule.code, o.prefill["capital_amount"]) for o in offers] == (
        [(rule, amount)] if rule else []
    )


def test_both_versions_are_in_force_and_describe_their_amount():
    old = TriggerRule.objects.get(code="maternity-capital-second-child")
    new = TriggerRule.objects.get(code="maternity-capital-since-2020")

    assert old.is_active and new.is_active
    assert new.valid_from.isoformat() == "2020-01-01"
    assert "453 026" in old.description
    assert "466 617" in new.description and "первого ребёнка" in new.description
    old.full_clean()
    new.full_clean()


def test_a_late_report_of_a_birth_before_2020_is_judged_by_the_old_law(write_csv):
    """The rule in force today still applies the law of the birth date."""
    mother = CitizenFactory(consenting=True)
    import_births(
        write_csv,
        [
            birth(
                "B1",
                mother.snils,
                birth_order="2",
                child_birth_date="2018-03-10",
                act_date="2026-11-01",
            )
        ],
    )
    offer = Offer.objects.get(citizen=mother)
    assert offer.rule.code == "maternity-capital-second-child"
    assert offer.prefill["capital_amount"] == "453026.00"
