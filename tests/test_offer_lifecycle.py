"""The offer lifecycle: each transition through its service function, with
its notifications; every refused transition; reminders, expiry and offers
made again up to the rule's limit, with time frozen."""

import datetime

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from events.services import evaluate_batch, run_offer_lifecycle
from notifications.models import Notification
from notifications.services import render
from offers import services
from offers.explain import why
from offers.models import Offer
from tests.helpers import login
from tests.event_factories import CitizenFactory, birth_data, make_event, make_rule

pytestmark = pytest.mark.django_db

START = datetime.datetime(2027, 3, 1, 9, tzinfo=datetime.UTC)


def at(moment):
    return time_machine.travel(moment, tick=False)


def days(n):
    return START + datetime.timedelta(days=n)


@pytest.fixture
def offer():
    """A father's offer of a rule open 10 days, reminded 3 days before the
    end, offered again 5 days after a decline or expiry, at most once."""
    with at(START):
        citizen = CitizenFactory(consenting=True, with_account=True)
        rule = make_rule(
            conditions=[{"field": "event.role", "op": "eq", "value": "father"}],
            offer_valid_days=10,
            reminder_days_before=3,
            reoffer_after_days=5,
            reoffer_limit=1,
        )
        event = make_event(citizen, role="father", **birth_data())
        evaluate_batch(event.batch_id)
    return Offer.objects.get(rule=rule)


def kinds(offer):
    return sorted(
        Notification.objects.filter(offer=offer).values_list("kind", "channel")
    )


def test_an_offer_is_made_with_its_version_attempt_and_notifications(offer):
    assert offer.status == Offer.Status.OFFERED
    assert offer.attempt == 1
    assert offer.rule_version == offer.rule.current_version
    assert offer.expires_at == days(10)
    assert ("offer_created", "cabinet") in kinds(offer)


def test_offered_to_reminded_writes_a_reminder_on_every_channel(offer):
    services.remind_offer(offer.pk)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.REMINDED
    reminders = Notification.objects.filter(offer=offer, kind="offer_reminder")
    assert sorted(reminders.values_list("channel", flat=True)) == [
        "cabinet",
        "email",
        "sms",
    ]
    for notification in reminders:
        subject, text, _ = render(notification)
        assert "ждёт" in subject and text


def test_a_reminded_offer_can_still_be_confirmed(offer):
    services.remind_offer(offer.pk)
    application = services.accept_offer(offer.citizen, offer.pk)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CONFIRMED
    assert application.offer == offer


def test_offered_to_declined(offer):
    services.decline_offer(offer.citizen, offer.pk)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED and offer.decided_at


def test_offered_to_withdrawn_says_why_and_tells_the_citizen(offer):
    services.withdraw_offer(offer.pk, "Реестр исправил запись о рождении")
    offer.refresh_from_db()
    assert offer.status == Offer.Status.WITHDRAWN
    assert offer.status_reason == "Реестр исправил запись о рождении"
    withdrawn = Notification.objects.get(
        offer=offer, kind="offer_withdrawn", channel="email"
    )
    subject, text, html = render(withdrawn)
    assert "Реестр исправил запись о рождении" in text and "отозвано" in subject


def test_an_offer_expires_only_when_its_time_is_up(offer):
    with at(days(9)), pytest.raises(services.OfferError, match="open until"):
        services.expire_offer(offer.pk)
    with at(days(10)):
        services.expire_offer(offer.pk)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.EXPIRED
    assert offer.status_reason == services.EXPIRED_REASON


def set_status(offer, status):
    Offer.objects.filter(pk=offer.pk).update(status=status)
    offer.refresh_from_db()


VERBS = {
    "remind": lambda o: services.remind_offer(o.pk),
    "confirm": lambda o: services.accept_offer(o.citizen, o.pk),
    "decline": lambda o: services.decline_offer(o.citizen, o.pk),
    "expire": lambda o: services.expire_offer(o.pk),
    "withdraw": lambda o: services.withdraw_offer(o.pk, "причина"),
}
CLOSED = ["confirmed", "declined", "expired", "withdrawn"]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("status", CLOSED)
def test_a_closed_offer_refuses_every_transition(offer, status, verb):
    set_status(offer, status)
    notifications = Notification.objects.count()
    with at(days(30)), pytest.raises(services.OfferError):
        VERBS[verb](offer)
    offer.refresh_from_db()
    assert offer.status == status
    assert Notification.objects.count() == notifications


def test_a_reminded_offer_is_not_reminded_again(offer):
    services.remind_offer(offer.pk)
    with pytest.raises(services.OfferError):
        services.remind_offer(offer.pk)


def test_an_expired_offer_cannot_be_confirmed_even_before_the_sweep(offer):
    with at(days(11)), pytest.raises(services.OfferError, match="expired"):
        services.accept_offer(offer.citizen, offer.pk)


def test_another_citizen_cannot_decide_an_offer(offer):
    stranger = CitizenFactory()
    with pytest.raises(Offer.DoesNotExist):
        services.decline_offer(stranger, offer.pk)


# -- The beat: reminders, expiry, offers made again -----------------------------------


def test_the_beat_reminds_before_expiry_then_expires_then_offers_again_once(offer):
    with at(days(6)):
        assert run_offer_lifecycle()["reminded"] == 0
    with at(
        days(
            7,
        )
    ):
        assert run_offer_lifecycle() == {"expired": 0, "reminded": 1, "reoffered": 0}
        assert run_offer_lifecycle()["reminded"] == 0
    assert Notification.objects.filter(offer=offer, kind="offer_reminder").count() == 3

    with at(days(10)):
        assert run_offer_lifecycle()["expired"] == 1
    # The interval is 5 days after expiry.
    with at(days(14)):
        assert run_offer_lifecycle()["reoffered"] == 0
    with at(days(15)):
        assert run_offer_lifecycle()["reoffered"] == 1
        assert run_offer_lifecycle()["reoffered"] == 0

    second = Offer.objects.get(rule=offer.rule, attempt=2)
    assert second.status == Offer.Status.OFFERED
    assert second.rule_version == offer.rule_version
    assert "ещё раз" in why(second)

    # Declined again: the limit (one more offer) is reached.
    services.decline_offer(second.citizen, second.pk)
    with at(days(40)):
        assert run_offer_lifecycle()["reoffered"] == 0
    assert Offer.objects.filter(rule=offer.rule).count() == 2


def test_a_confirmed_offer_is_never_made_again(offer):
    services.accept_offer(offer.citizen, offer.pk)
    with at(days(40)):
        assert run_offer_lifecycle()["reoffered"] == 0


def test_the_database_keeps_one_open_offer_per_rule_and_event(offer):
    with pytest.raises(IntegrityError), transaction.atomic():
        Offer.objects.create(
            citizen=offer.citizen,
            service=offer.service,
            rule=offer.rule,
            event=offer.event,
            expires_at=offer.expires_at,
            attempt=2,
        )


# -- Why am I seeing this ------------------------------------------------------------


def test_the_cabinet_explains_which_record_and_rule_version_made_the_offer(
    client, offer
):
    text = why(offer)
    assert offer.event.record_id in text
    assert "Тестовое правило" in text and "версия 1" in text
    assert text.startswith("Источник — ЕГР ЗАГС / роддом: сведения о рождении ребёнка")
    with translation.override("en"):
        english = why(offer)
    assert english.startswith(
        "Source: Civil registry / maternity hospital, which reported the birth"
    )
    assert "Under the rule “Тестовое правило” (version 1" in english

    login(client, offer.citizen)
    page = client.get(reverse("cabinet:offer-detail", args=[offer.pk])).content.decode()
    assert f"запись № {offer.event.record_id}" in page
