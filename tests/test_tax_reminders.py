"""Tax notices: a reminder 14 days before the due date, once, from the
import to the citizen's channels, with time frozen; a notice the tax
office corrects to nothing left to pay stops the reminder."""

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from events.models import RuleVersion
from events.services import evaluate_batch, run_daily_triggers, run_offer_lifecycle
from notifications import services as notification_services
from notifications.models import DeliveryProfile, Notification
from offers.models import Offer
from tests.factories import CitizenFactory
from tests.helpers import TAX_HEADER, login

pytestmark = pytest.mark.django_db

INN = "500100732259"


def at(*args):
    """A frozen instant, UTC; noon-ish in Moscow, outside quiet hours."""
    return time_machine.travel(
        datetime.datetime(*args, tzinfo=datetime.UTC), tick=False
    )


@pytest.fixture
def import_tax(write_csv, run_import):
    files = iter(range(1, 100))

    def run(amount="1 234", due_on="20.12.2026", record_id="TAX-1"):
        row = {
            "record_id": record_id,
            "inn": INN,
            "tax_type": "property",
            "amount": amount,
            "due_on": due_on,
            "period_year": "2025",
        }
        path = write_csv(
            f"tax-{next(files)}.csv", TAX_HEADER, [[row[k] for k in TAX_HEADER]]
        )
        summary = run_import("tax", path)
        evaluate_batch(summary["batch_id"])
        return summary

    return run


@pytest.fixture
def vera():
    with at(2026, 12, 1, 9):
        return CitizenFactory(
            with_account=True, consenting=True, first_name="Вера", inn=INN
        )


def reminders(kind="deadline_reminder"):
    return Notification.objects.filter(kind=kind, offer__rule__code="tax-due-soon")


def tax_offer():
    return Offer.objects.get(rule__code="tax-due-soon")


def test_the_reminder_comes_14_days_before_the_due_date_once(
    import_tax, vera, sms_gateway
):
    with at(2026, 12, 1, 9):  # 19 days before
        import_tax()
    assert not Offer.objects.exists()

    with at(2026, 12, 5, 9):  # 15 days before
        run_daily_triggers()
    assert not Offer.objects.exists()

    with at(2026, 12, 6, 9):  # 14 days before, in Moscow
        run_daily_triggers()
        run_daily_triggers()  # the next hourly run changes nothing
        notification_services.dispatch_pending()
    assert sorted(reminders().values_list("channel", "status")) == [
        ("cabinet", "sent"),
        ("email", "sent"),
        ("sms", "sent"),
    ]
    text = reminders().get(channel="cabinet").body.replace("\u00a0", " ")
    assert "до 20.12.2026 нужно уплатить налог" in text
    assert "Налог на имущество физических лиц за 2025 год, 1 234,00 ₽" in text
    assert [m["text"] for m in sms_gateway.state.messages] == [
        "Вера, срок уплаты налога 20.12.2026. Подробнее в кабинете"
    ]
    assert sms_gateway.state.messages[0]["parts"] == 1

    with at(2026, 12, 7, 9):
        run_daily_triggers()
    assert Offer.objects.count() == 1 and reminders().count() == 3

    # Three days before the offer runs out: one more reminder, once.
    with at(2026, 12, 17, 10):
        run_offer_lifecycle()
        run_offer_lifecycle()
    assert reminders("offer_reminder").filter(channel="cabinet").count() == 1
    assert (
        "Срок уплаты налога скоро истекает"
        in (
            notification_services.render(
                reminders("offer_reminder").get(channel="cabinet")
            )[1]
        )
    )


def test_the_citizen_sees_the_tax_amount_and_due_date(import_tax, vera):
    with at(2026, 12, 6, 9):
        import_tax()
        offer = tax_offer()
        client = login(Client(), vera)
        page = client.get(reverse("cabinet:offer-detail", args=[offer.pk]))
        payments = client.get(reverse("cabinet:payments"))

    text = page.content.decode()
    assert "Налог на имущество физических лиц" in text
    # The cabinet may show the values raw or formatted; both say the same.
    assert any(v in text for v in ("1234.00", "1\u00a0234,00", "1 234,00"))
    assert any(v in text for v in ("2026-12-20", "20.12.2026")) and "2025" in text
    listing = payments.content.decode()
    assert "Налог на имущество физических лиц" in listing
    assert "1\u00a0234,00" in listing and "20.12.2026" in listing


@pytest.mark.parametrize(
    ("days", "words"),
    [(14, "за 14 дней"), (3, "за 3 дня"), (21, "за 21 день"), (1, "за 1 день")],
)
def test_the_offer_says_how_many_days_ahead_in_the_form_of_the_count(
    import_tax, vera, days, words
):
    """Regression: "Мы напоминаем о сроке за 3 дней до него": the Russian
    text had two forms of the noun, one for 1 and one for the rest."""
    with at(2026, 12, 6, 9):
        import_tax()
        offer = tax_offer()
        RuleVersion.objects.filter(pk=offer.rule_version_id).update(days_before=days)
        client = login(Client(), vera)
        page = client.get(reverse("cabinet:offer-detail", args=[offer.pk]))

    assert f"Мы напоминаем о сроке {words} до него." in page.content.decode()


def test_a_notice_corrected_to_nothing_to_pay_stops_the_reminder(import_tax, vera):
    with at(2026, 12, 6, 9):
        import_tax()
    offer = tax_offer()
    assert offer.is_open

    with at(2026, 12, 8, 9):
        summary = import_tax(amount="0")
    assert summary["updated"] == 1
    offer.refresh_from_db()
    assert offer.status == "withdrawn"
    assert "оснований для предложения больше нет" in offer.status_reason
    withdrawn = Notification.objects.get(
        kind="offer_withdrawn", offer=offer, channel="cabinet"
    )
    assert (
        "Напоминание об уплате налога до 20.12.2026 снято"
        in (notification_services.render(withdrawn)[1])
    )

    with at(2026, 12, 17, 10):
        run_offer_lifecycle()
        run_daily_triggers()
    assert not reminders("offer_reminder").exists()
    assert Offer.objects.count() == 1


def test_a_notice_with_nothing_to_pay_never_reminds(import_tax, vera):
    with at(2026, 12, 1, 9):
        import_tax()
    with at(2026, 12, 3, 9):
        import_tax(amount="0,00")
    with at(2026, 12, 6, 9):
        run_daily_triggers()
    assert not Offer.objects.exists()


def test_a_correction_that_keeps_something_to_pay_keeps_the_reminder(import_tax, vera):
    with at(2026, 12, 6, 9):
        import_tax()
    with at(2026, 12, 8, 9):
        import_tax(amount="1 000")
    assert tax_offer().is_open


def test_without_consent_there_is_no_reminder_but_the_tax_is_shown(import_tax):
    with at(2026, 12, 6, 9):
        citizen = CitizenFactory(with_account=True, inn=INN)
        import_tax()
        run_daily_triggers()
        page = login(Client(), citizen).get(reverse("cabinet:payments"))
    assert not Offer.objects.exists()
    assert "Налог на имущество физических лиц" in page.content.decode()


def test_the_reminder_is_a_deadline_the_daily_cap_never_drops(
    import_tax, vera, sms_gateway, write_csv, run_import
):
    """Regression: announced as a new offer, the tax reminder was dropped by
    the daily cap on a day the citizen had had five payment notices."""
    from tests.helpers import PAYMENTS_HEADER

    DeliveryProfile.objects.create(citizen=vera, daily_cap=2)
    rows = [
        [f"P{n}", vera.snils, "pension", "100", "2026-12-05", "credited"]
        for n in range(3)
    ]
    with at(2026, 12, 6, 9):
        summary = run_import("payments", write_csv("p.csv", PAYMENTS_HEADER, rows))
        evaluate_batch(summary["batch_id"])
        notification_services.dispatch_pending()
        import_tax()
        notification_services.dispatch_pending()

    payment_sms = Notification.objects.filter(kind="payment_notice", channel="sms")
    assert sorted(payment_sms.values_list("status", flat=True)) == [
        "sent",
        "sent",
        "skipped",
    ]
    assert reminders().get(channel="sms").status == "sent"


def test_the_reminder_follows_the_deadlines_topic_not_the_offers_one(
    import_tax, vera, sms_gateway
):
    DeliveryProfile.objects.create(
        citizen=vera, disabled={"offers": ["sms", "email"], "deadlines": ["email"]}
    )
    with at(2026, 12, 6, 9):
        import_tax()
        notification_services.dispatch_pending()

    assert reminders().get(channel="sms").status == "sent"
    assert reminders().get(channel="email").status == "skipped"


def test_the_funnel_counts_a_delivered_tax_reminder_as_notified(
    import_tax, vera, sms_gateway
):
    from offers import funnel

    with at(2026, 12, 6, 9):
        import_tax()
        notification_services.dispatch_pending()
        report = funnel.build_report()

    item = next(i for i in report.rules if i["rule"].code == "tax-due-soon")
    assert item["row"].counts["offers"] == 1
    assert item["row"].counts["notified"] == 1
    assert {c.label for c in item["channels"]} == {
        "личный кабинет",
        "электронная почта",
        "SMS",
    }
