"""Maternity capital's law change of 2020-01-01: the child's birth date picks
the version of the rule, and with it who has the right and the amount."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from events.models import TriggerRule
from events.services import evaluate_batch, run_offer_lifecycle
from offers import services
from offers.models import Offer, Service
from tests.applications import import_births, maternity_offer, submitted_application
from tests.event_factories import birth_data, make_event, make_rule
from tests.factories import CitizenFactory
from tests.helpers import PASSWORD, birth, official_login

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


# -- Once in a lifetime -----------------------------------------------------------
# 256-FZ, art. 3: the right to maternity capital is realised once, for one
# child. A further birth offers nothing while the citizen holds an open offer
# of it or an application for it that was not refused.


def capital_offers(citizen):
    return Offer.objects.filter(citizen=citizen, service__code="maternity-capital")


def second_child(write_csv, mother, record_id="B2"):
    """The civil registry reports one more child of ``mother``."""
    row = birth(record_id, mother.snils, birth_order="3", act_number="120269000002")
    import_births(write_csv, [row], f"{record_id}.csv")


def test_maternity_capital_is_a_service_granted_once():
    assert Service.objects.get(code="maternity-capital").granted_once is True
    assert Service.objects.get(code="birth-registration").granted_once is False


@pytest.mark.parametrize("decided", ["submitted", "approved", "completed"])
def test_no_new_offer_once_an_application_uses_the_right(write_csv, decided):
    """Regression: after the certificate was issued, the births of further
    children offered maternity capital again, one offer per child."""
    anna = CitizenFactory(consenting=True)
    application = submitted_application(write_csv, anna, "B1")
    if decided in ("approved", "completed"):
        services.approve_application(application.pk)
    if decided == "completed":
        services.complete_application(application.pk)

    import_births(
        write_csv,
        [
            birth("B2", anna.snils, birth_order="3", act_number="120269000002"),
            birth("B3", anna.snils, birth_order="4", act_number="120269000003"),
            birth("B4", anna.snils, birth_order="5", act_number="120269000004"),
        ],
        "B2-B4.csv",
    )

    assert list(capital_offers(anna).values_list("event__record_id", flat=True)) == [
        "B1"
    ]


def test_an_open_offer_for_one_child_keeps_another_from_a_second_offer(write_csv):
    anna = CitizenFactory(consenting=True)
    first = maternity_offer(write_csv, anna, "B1")

    second_child(write_csv, anna, "B2")

    first.refresh_from_db()
    assert list(capital_offers(anna)) == [first]
    assert first.is_open


def test_several_children_in_one_dump_offer_the_right_once_for_the_eldest(
    write_csv,
):
    anna = CitizenFactory(consenting=True)

    import_births(
        write_csv,
        [
            birth("B2", anna.snils, birth_order="3", child_birth_date="2026-10-02",
                  act_number="120269000002"),
            birth("B1", anna.snils, birth_order="2", child_birth_date="2024-05-01",
                  act_date="2024-05-03", act_number="120269000001"),
        ],
    )

    assert list(capital_offers(anna).values_list("event__record_id", flat=True)) == [
        "B1"
    ]


def test_a_refused_application_does_not_use_up_the_right(write_csv):
    """A refusal decides that application, not the right: the certificate was
    not issued, so a later child may be offered it."""
    anna = CitizenFactory(consenting=True)
    application = submitted_application(write_csv, anna, "B1")
    services.reject_application(application.pk, reason="нет сведений о гражданстве")

    second_child(write_csv, anna, "B2")

    assert sorted(capital_offers(anna).values_list("event__record_id", flat=True)) == [
        "B1",
        "B2",
    ]


def test_a_declined_or_expired_offer_does_not_use_up_the_right(write_csv):
    anna = CitizenFactory(consenting=True)
    first = maternity_offer(write_csv, anna, "B1")
    services.decline_offer(anna, first.pk)

    second_child(write_csv, anna, "B2")

    assert capital_offers(anna).filter(event__record_id="B2", status="offered").exists()


def test_a_declined_offer_is_not_made_again_while_another_child_is_offered():
    """Re-offers go through the same eligibility as first offers."""
    start = datetime.datetime(2027, 3, 1, 9, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        father = CitizenFactory(consenting=True, male=True)
        rule = make_rule(
            conditions=[{"field": "event.role", "op": "eq", "value": "father"}],
            offer_valid_days=30,
            reoffer_after_days=5,
            reoffer_limit=1,
        )
        declined = make_event(father, role="father", **birth_data())
        evaluate_batch(declined.batch_id)
        services.decline_offer(father, Offer.objects.get(event=declined).pk)
        later = make_event(father, role="father", **birth_data(birth_order=3))
        evaluate_batch(later.batch_id)

    with time_machine.travel(start + datetime.timedelta(days=6), tick=False):
        assert run_offer_lifecycle()["reoffered"] == 0

    assert sorted(
        Offer.objects.filter(rule=rule).values_list("event", "status", "attempt")
    ) == [(declined.pk, "declined", 1), (later.pk, "offered", 1)]


def test_officials_see_and_set_granted_once_in_admin(client, django_user_model):
    official = django_user_model.objects.create_superuser(
        "official", "official@example.org", PASSWORD
    )
    official_login(client, official)
    service = Service.objects.get(code="maternity-capital")
    url = reverse("admin:offers_service_change", args=[service.pk])

    page = client.get(url).content.decode()
    listing = client.get(reverse("admin:offers_service_changelist")).content.decode()

    assert "Предоставляется гражданину один раз" in page
    assert re.search(r'<input[^>]*name="granted_once"[^>]*checked', page)
    assert "?granted_once__exact=1" in listing
