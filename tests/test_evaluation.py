"""Rule evaluation over an import batch: who gets an offer, and who not."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import TriggerRule
from events.services import evaluate_batch
from notifications.models import Notification
from offers.models import Offer
from tests.factories import CitizenFactory
from tests.helpers import BIRTHS_HEADER, birth

pytestmark = pytest.mark.django_db


@pytest.fixture
def import_births(write_csv, run_import):
    def run(rows):
        return run_import("births", write_csv("births.csv", BIRTHS_HEADER, rows))

    return run


def test_a_second_child_offers_the_consenting_mother_maternity_capital(import_births):
    mother = CitizenFactory(consenting=True)
    summary = import_births([birth("B1", mother.snils, birth_order="2")])

    evaluate_batch(summary["batch_id"])

    offer = Offer.objects.get(citizen=mother)
    assert offer.service.code == "maternity-capital"
    assert offer.rule.code == "maternity-capital-since-2020"
    assert offer.prefill["applicant_last_name"] == mother.last_name
    assert offer.prefill["applicant_snils"] == mother.snils
    assert offer.prefill["child_first_name"] == "Фёдор"
    assert offer.prefill["birth_order"] == "2"


def test_a_first_child_born_before_2020_with_an_act_offers_nothing(import_births):
    mother = CitizenFactory(consenting=True)
    summary = import_births(
        [birth("B1", mother.snils, birth_order="1", child_birth_date="2019-06-01",
               act_date="2019-06-05")]
    )
    assert evaluate_batch(summary["batch_id"]) == 0
    assert not Offer.objects.exists()


def test_no_offer_without_consent_or_with_proactive_mode_off(import_births):
    no_consent = CitizenFactory()
    mode_off = CitizenFactory(consenting=True, proactive_mode=False)
    deceased = CitizenFactory(consenting=True, death_date="2026-10-20")
    summary = import_births(
        [
            birth("B1", no_consent.snils),
            birth("B2", mode_off.snils),
            birth("B3", deceased.snils),
        ]
    )
    assert evaluate_batch(summary["batch_id"]) == 0


def test_a_revoked_consent_stops_offers(import_births):
    mother = CitizenFactory(consenting=True)
    mother.consents.update(revoked_at="2026-01-01T00:00:00Z")
    summary = import_births([birth("B1", mother.snils)])
    assert evaluate_batch(summary["batch_id"]) == 0


def test_a_stillbirth_never_starts_an_offer(import_births):
    mother = CitizenFactory(consenting=True)
    summary = import_births([birth("B1", mother.snils, stillborn="да", act_number="")])
    assert evaluate_batch(summary["batch_id"]) == 0


def test_a_hospital_record_without_act_offers_both_parents_registration(import_births):
    mother = CitizenFactory(consenting=True)
    father = CitizenFactory(consenting=True, male=True)
    summary = import_births(
        [birth("B1", mother.snils, father_snils=father.snils, birth_order="1",
               act_number="", act_date="")]
    )

    evaluate_batch(summary["batch_id"])

    offers = Offer.objects.filter(service__code="birth-registration")
    assert {offer.citizen for offer in offers} == {mother, father}


def test_evaluating_a_batch_twice_makes_no_second_offer(import_births):
    mother = CitizenFactory(consenting=True)
    summary = import_births([birth("B1", mother.snils)])

    assert evaluate_batch(summary["batch_id"]) == 1
    assert evaluate_batch(summary["batch_id"]) == 0

    assert Offer.objects.count() == 1
    assert Notification.objects.filter(kind="offer_created").count() == 3


def test_new_offers_write_one_notification_per_channel_in_use(import_births):
    with_all = CitizenFactory(consenting=True)
    cabinet_only = CitizenFactory(consenting=True, email="", phone="")
    landline = CitizenFactory(consenting=True, email="", phone="+74951234567", phone_is_mobile=False)
    summary = import_births(
        [birth("B1", with_all.snils), birth("B2", cabinet_only.snils), birth("B3", landline.snils)]
    )

    evaluate_batch(summary["batch_id"])

    def channels(citizen):
        return set(Notification.objects.filter(citizen=citizen).values_list("channel", flat=True))

    assert channels(with_all) == {"cabinet", "email", "sms"}
    assert channels(cabinet_only) == {"cabinet"}
    assert channels(landline) == {"cabinet"}
    assert set(Notification.objects.values_list("status", flat=True)) == {"pending"}


def test_evaluation_is_set_based_not_a_loop_over_events(import_births):
    mothers = CitizenFactory.create_batch(30, consenting=True)
    summary = import_births([birth(f"B{i}", m.snils) for i, m in enumerate(mothers)])
    rules = TriggerRule.objects.filter(is_active=True).count()

    with CaptureQueriesContext(connection) as queries:
        made = evaluate_batch(summary["batch_id"])

    assert made == 30
    # Per rule: one INSERT ... SELECT of offers and one per channel of
    # notifications, whatever the number of events; plus a few fixed ones.
    assert len(queries) <= 2 + rules * 5


def test_an_inactive_or_expired_rule_offers_nothing(import_births):
    from events.services import approve_rule
    from tests.factories import UserFactory

    author, approver = UserFactory(username="author"), UserFactory(username="approver")
    old = TriggerRule.objects.get(code="maternity-capital-second-child")
    old.valid_until = "2020-01-01"
    old.changed_by = author
    old.save()
    approve_rule(old.pk, approver)
    new = TriggerRule.objects.get(code="maternity-capital-since-2020")
    new.is_active = False
    new.changed_by = author
    new.save()
    approve_rule(new.pk, approver)
    mother = CitizenFactory(consenting=True)
    summary = import_births([birth("B1", mother.snils)])
    assert evaluate_batch(summary["batch_id"]) == 0


def test_withdrawing_open_offers_keeps_the_reason(import_births):
    from offers.services import withdraw_open_offers

    mother = CitizenFactory(consenting=True)
    evaluate_batch(import_births([birth("B1", mother.snils)])["batch_id"])

    assert withdraw_open_offers([mother.pk], "Зарегистрирована смерть") == 1

    offer = Offer.objects.get()
    assert offer.status == Offer.Status.WITHDRAWN
    assert offer.status_reason == "Зарегистрирована смерть"
    assert withdraw_open_offers([mother.pk], "again") == 0
