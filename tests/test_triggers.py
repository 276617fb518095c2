"""Time triggers (days before a date an event carries, in the citizen's own
time zone) and age triggers from the population, with time frozen."""

import datetime

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from events.models import ImportBatch, LifeEvent
from events.services import generate_age_milestones, run_daily_triggers
from offers.models import Offer
from tests.event_factories import CitizenFactory, make_event

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def at(*args):
    return time_machine.travel(datetime.datetime(*args, tzinfo=UTC), tick=False)


def tax_notice(citizen, due_on="2027-03-20"):
    return make_event(
        citizen,
        "tax_notice",
        "self",
        datetime.date.fromisoformat(due_on),
        inn="500100732259",
        tax_type="property",
        amount="1500.00",
        due_on=due_on,
        period_year=2026,
    )


def tax_offers():
    return Offer.objects.filter(rule__code="tax-due-soon")


def test_a_time_trigger_fires_once_by_the_citizens_own_date_and_catches_up():
    with at(2027, 3, 1, 9):
        kaliningrad = CitizenFactory(consenting=True, region_code="39")  # UTC+2
        vladivostok = CitizenFactory(consenting=True, region_code="25")  # UTC+10
        tax_notice(kaliningrad)
        tax_notice(vladivostok)

    # 20:00 UTC on 5 March: already 6 March (14 days before) in Vladivostok,
    # still 5 March in Kaliningrad. Two beat runs make one offer.
    with at(2027, 3, 5, 20):
        run_daily_triggers()
        run_daily_triggers()
    assert list(tax_offers().values_list("citizen", flat=True)) == [vladivostok.pk]

    # The beat was down on 6 and 7 March: 8 March catches Kaliningrad up,
    # and Vladivostok's offer is not made again.
    with at(2027, 3, 8, 12):
        run_daily_triggers()
    assert sorted(tax_offers().values_list("citizen", "attempt")) == sorted(
        [(vladivostok.pk, 1), (kaliningrad.pk, 1)]
    )


def test_a_date_already_passed_does_not_fire():
    with at(2027, 3, 25, 9):
        citizen = CitizenFactory(consenting=True)
        tax_notice(citizen, due_on="2027-03-20")
        run_daily_triggers()
    assert not tax_offers().exists()


def test_disability_reexamination_fires_thirty_days_before_the_date():
    with at(2027, 1, 1, 9):
        citizen = CitizenFactory(consenting=True)
        make_event(
            citizen,
            "disability",
            "self",
            datetime.date(2025, 2, 1),
            group="2",
            established_on="2025-02-01",
            valid_until="2027-03-01",
            next_examination="2027-02-15",
            cause="",
            office="",
        )
        run_daily_triggers()
        assert not Offer.objects.exists()
    with at(2027, 1, 16, 9):
        run_daily_triggers()
    assert Offer.objects.get().rule.code == "disability-reexamination-soon"


def test_the_database_refuses_a_second_first_offer():
    with at(2027, 3, 10, 9):
        citizen = CitizenFactory(consenting=True)
        tax_notice(citizen)
        run_daily_triggers()
    offer = tax_offers().get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Offer.objects.create(
            citizen=offer.citizen,
            service=offer.service,
            rule=offer.rule,
            event=offer.event,
            expires_at=offer.expires_at,
            attempt=1,
            status=Offer.Status.EXPIRED,
        )


# -- Age triggers ------------------------------------------------------------------


def age_events():
    return LifeEvent.objects.filter(event_type="age_milestone")


def test_age_milestones_come_once_from_birth_dates_and_offer_the_passport():
    turns_20 = CitizenFactory(consenting=True, birth_date=datetime.date(2007, 3, 6))
    turns_45 = CitizenFactory(consenting=True, birth_date=datetime.date(1982, 3, 6))
    turns_7 = CitizenFactory(birth_date=datetime.date(2020, 3, 6))
    CitizenFactory(birth_date=datetime.date(2007, 3, 20))  # not yet
    CitizenFactory(
        birth_date=datetime.date(2007, 3, 6), death_date=datetime.date(2026, 1, 1)
    )

    with at(2027, 3, 6, 9):
        run_daily_triggers()
        run_daily_triggers()

    assert sorted(age_events().values_list("citizen", "data__age", "role")) == sorted(
        [(turns_20.pk, 20, "self"), (turns_45.pk, 45, "self"), (turns_7.pk, 7, "self")]
    )
    passport = Offer.objects.filter(rule__code="passport-replacement-20-45")
    assert sorted(passport.values_list("citizen", flat=True)) == sorted(
        [turns_20.pk, turns_45.pk]
    )
    assert ImportBatch.objects.filter(file_format="age-milestones").count() == 1


def test_a_missed_birthday_is_caught_up_within_the_week():
    caught = CitizenFactory(birth_date=datetime.date(2007, 3, 3))
    CitizenFactory(birth_date=datetime.date(2007, 2, 20))  # too long ago
    with at(2027, 3, 6, 9):
        generate_age_milestones()
    assert list(age_events().values_list("citizen", "occurred_on")) == [
        (caught.pk, datetime.date(2027, 3, 3))
    ]


def test_a_birthday_counts_on_the_citizens_own_date():
    kamchatka = CitizenFactory(region_code="41", birth_date=datetime.date(2007, 3, 7))
    CitizenFactory(region_code="39", birth_date=datetime.date(2007, 3, 7))
    # 14:00 UTC on 6 March is already 7 March on Kamchatka (UTC+12).
    with at(2027, 3, 6, 14):
        generate_age_milestones()
    assert list(age_events().values_list("citizen", flat=True)) == [kamchatka.pk]


def test_age_milestones_take_the_same_statements_for_any_number_of_citizens():
    def queries_for(count, year):
        for _ in range(count):
            CitizenFactory(birth_date=datetime.date(year, 3, 6))
        with at(year + 20, 3, 6, 9), CaptureQueriesContext(connection) as queries:
            generate_age_milestones()
        return len(queries)

    assert queries_for(2, 2000) == queries_for(20, 2001)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_beat_processes_at_once_make_each_offer_once():
    """Two runs in parallel, each on its own database connection."""
    import threading

    from django.db import connections

    with at(2027, 3, 10, 9):
        for _ in range(5):
            tax_notice(CitizenFactory(consenting=True))
        CitizenFactory(consenting=True, birth_date=datetime.date(2007, 3, 10))

        errors = []

        def beat():
            try:
                run_daily_triggers()
            except Exception as error:  # surfaced below
                errors.append(error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=beat) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert tax_offers().count() == 5
    assert age_events().count() == 1
    assert Offer.objects.filter(rule__code="passport-replacement-20-45").count() == 1


def test_every_beat_entry_names_a_registered_task():
    from django.conf import settings

    from proactive_portal.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


def test_a_time_trigger_offers_a_service_granted_once_once():
    """Time triggers share the eligibility of every offer: a service granted
    once is offered for one of the citizen's events, the earliest."""
    from offers.models import Service

    Service.objects.filter(code="tax-payment").update(granted_once=True)
    with at(2027, 3, 1, 9):
        citizen = CitizenFactory(consenting=True)
        first = tax_notice(citizen, due_on="2027-03-18")
        tax_notice(citizen, due_on="2027-03-20")

    with at(2027, 3, 8, 12):
        run_daily_triggers()
        run_daily_triggers()

    assert list(tax_offers().values_list("event", flat=True)) == [first.pk]
