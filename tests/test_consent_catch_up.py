"""When a citizen gives consent, recent events within each rule's look-back
window are evaluated for them at once."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from consents.services import give_consent
from events.services import evaluate_citizen
from offers.models import Offer
from tests.conftest import wait_until
from tests.event_factories import CitizenFactory, birth_data, make_event

NOW = datetime.datetime(2027, 3, 1, 9, tzinfo=datetime.UTC)


@pytest.mark.django_db
def test_only_events_within_the_look_back_window_are_caught_up():
    with time_machine.travel(NOW, tick=False):
        mother = CitizenFactory()
        recent = make_event(
            mother, occurred_on=datetime.date(2027, 2, 10), **birth_data(birth_order=2)
        )
        make_event(
            mother, occurred_on=datetime.date(2026, 12, 1), **birth_data(birth_order=3)
        )
        give_consent(mother)

        assert evaluate_citizen(mother.pk) == 1
        assert evaluate_citizen(mother.pk) == 0

    assert list(Offer.objects.values_list("event", flat=True)) == [recent.pk]


@pytest.mark.django_db
def test_without_consent_nothing_is_caught_up():
    mother = CitizenFactory()
    make_event(mother, occurred_on=timezone.localdate(), **birth_data())
    assert evaluate_citizen(mother.pk) == 0


@pytest.mark.worker
def test_giving_consent_queues_the_evaluation_for_the_citizen(celery_worker):
    mother = CitizenFactory()
    make_event(
        mother,
        occurred_on=timezone.localdate() - datetime.timedelta(days=5),
        **birth_data(birth_order=2),
    )
    assert not Offer.objects.exists()

    give_consent(mother)

    offer = wait_until(
        lambda: Offer.objects.filter(citizen=mother).first(), what="catch-up offer"
    )
    # A birth since 2020 falls under the law as amended by 35-FZ.
    assert offer.rule.code == "maternity-capital-since-2020"
