"""Delivery of the outbox: the local SMS gateway told to fail, slow down or
time out, a real SMTP server, quiet hours and the daily cap."""

import datetime
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

import pytest
import time_machine

from events.services import evaluate_batch
from notifications import services
from notifications.models import DeliveryProfile, MessageTemplate, Notification
from offers.models import Offer
from tests.factories import CitizenFactory
from tests.helpers import BIRTHS_HEADER, birth

# Tests that set no time of day of their own run in an afternoon: quiet
# hours would otherwise hold their SMS back late in the evening.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("afternoon")]

UTC = datetime.UTC


@pytest.fixture
def offer_for(write_csv, run_import):
    """Import a second birth for ``citizen`` and evaluate: their offer,
    with its outbox rows written and not yet delivered."""

    def make(citizen, record_id="B1", service="maternity-capital"):
        # Maternity capital is offered once; a further offer for the same
        # citizen is the registration of a birth a hospital reported.
        fields = {}
        if service != "maternity-capital":
            fields = {"act_number": "", "act_date": ""}
        path = write_csv(
            f"{record_id}.csv",
            BIRTHS_HEADER,
            [birth(record_id, citizen.snils, **fields)],
        )
        summary = run_import("births", path)
        evaluate_batch(summary["batch_id"])
        return Offer.objects.get(
            citizen=citizen, event__record_id=record_id, service__code=service
        )

    return make


def row(offer, channel):
    return Notification.objects.get(offer=offer, channel=channel)


def test_an_offer_goes_out_on_every_channel_once(offer_for, sms_gateway, smtp_server):
    maria = CitizenFactory(consenting=True, email="maria@example.org")
    offer = offer_for(maria)

    services.dispatch_pending()
    services.dispatch_pending()  # a second run finds nothing to do

    assert row(offer, "cabinet").status == "sent"
    assert row(offer, "email").status == "sent"
    sms = row(offer, "sms")
    assert sms.status == "sent" and sms.gateway == "primary"
    assert [m["ref"] for m in sms_gateway.state.messages] == [str(sms.pk)]
    assert sms.provider_message_id == sms_gateway.state.messages[0]["id"]
    assert offer.short_code in sms_gateway.state.messages[0]["text"]

    [mail] = smtp_server.messages
    assert mail["to"] == ["maria@example.org"]
    types = [part.get_content_type() for part in mail["message"].walk()]
    assert "text/plain" in types and "text/html" in types
    assert mail["message"]["Message-ID"].startswith(
        f"<notification-{row(offer, 'email').pk}@"
    )


def test_retries_back_off_and_stop_at_the_limit_then_email_takes_over(
    offer_for, sms_gateway, smtp_server, settings
):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    settings.NOTIFY_RETRY_BASE_SECONDS = 60
    sms_gateway.control(mode="fail")
    maria = CitizenFactory(consenting=True, email="maria@example.org")
    start = datetime.datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # 13:00 in Moscow

    with time_machine.travel(start, tick=False):
        offer = offer_for(maria)
        # The email of the offer itself went already; the fallback must not
        # send it a second time.
        services.dispatch_pending()
        sms = row(offer, "sms")
        assert (sms.status, sms.attempts) == ("pending", 1)
        assert sms.not_before == start + datetime.timedelta(seconds=60)

    with time_machine.travel(start + datetime.timedelta(seconds=61), tick=False):
        services.dispatch_pending()
        sms.refresh_from_db()
        assert (sms.status, sms.attempts) == ("pending", 2)
        # Exponential: the second wait is twice the first.
        assert sms.not_before == start + datetime.timedelta(seconds=61 + 120)

    with time_machine.travel(start + datetime.timedelta(seconds=100), tick=False):
        assert services.dispatch_pending() == 0  # not due yet

    with time_machine.travel(start + datetime.timedelta(seconds=200), tick=False):
        services.dispatch_pending()
        sms.refresh_from_db()
        assert (sms.status, sms.attempts) == ("failed", 3)
        services.dispatch_pending()
        assert services.dispatch_pending() == 0

    assert sms_gateway.state.requests == 3
    assert sms_gateway.state.messages == []
    assert Notification.objects.filter(offer=offer, channel="email").count() == 1
    assert len(smtp_server.messages) == 1
    assert row(offer, "cabinet").status == "sent"


def test_sms_falls_back_to_email_when_it_fails_for_good(
    offer_for, sms_gateway, smtp_server, settings
):
    """A citizen whose offer went only by SMS hears of it by email when
    the SMS fails for good."""
    settings.NOTIFY_MAX_ATTEMPTS = 1
    sms_gateway.control(mode="fail")
    maria = CitizenFactory(consenting=True, email="maria@example.org")
    offer = offer_for(maria)
    Notification.objects.filter(offer=offer, channel="email").delete()

    services.dispatch_pending()

    assert row(offer, "sms").status == "failed"
    assert row(offer, "email").status == "sent"
    assert [m["to"] for m in smtp_server.messages] == [["maria@example.org"]]
    assert row(offer, "cabinet").status == "sent"


def test_an_unusable_phone_sends_the_notice_by_email(
    offer_for, sms_gateway, smtp_server
):
    maria = CitizenFactory(consenting=True, phone="+7123", email="maria@example.org")
    offer = offer_for(maria)
    Notification.objects.filter(offer=offer, channel="email").delete()

    services.dispatch_pending()

    assert row(offer, "sms").status == "undelivered"
    assert DeliveryProfile.objects.get(citizen=maria).phone_unusable_at is not None
    assert row(offer, "email").status == "sent"
    assert len(smtp_server.messages) == 1


def test_failover_to_the_backup_gateway_and_the_primary_loses_priority(
    offer_for, sms_gateway, backup_gateway
):
    sms_gateway.control(mode="fail")
    first = offer_for(CitizenFactory(consenting=True), "F1")
    services.dispatch_pending()

    assert row(first, "sms").status == "sent"
    assert row(first, "sms").gateway == "backup"
    assert sms_gateway.state.requests == 1 and backup_gateway.state.requests == 1

    # The primary works again, but stays behind the backup for a while.
    sms_gateway.control(mode="ok")
    second = offer_for(CitizenFactory(consenting=True), "F2")
    services.dispatch_pending()
    assert row(second, "sms").gateway == "backup"
    assert sms_gateway.state.requests == 1


def test_a_slow_gateway_loses_priority(
    offer_for, sms_gateway, backup_gateway, settings
):
    settings.SMS_GATEWAY_SLOW_SECONDS = 0.2
    sms_gateway.control(mode="slow", delay=0.4)
    first = offer_for(CitizenFactory(consenting=True), "S1")
    services.dispatch_pending()
    assert row(first, "sms").gateway == "primary"  # slow, but it answered

    second = offer_for(CitizenFactory(consenting=True), "S2")
    services.dispatch_pending()
    assert row(second, "sms").gateway == "backup"


def test_a_timeout_after_acceptance_is_unknown_and_never_resent(
    offer_for, sms_gateway, backup_gateway, settings
):
    settings.SMS_GATEWAY_TIMEOUT = 0.5
    sms_gateway.control(mode="timeout", delay=1.5)
    offer = offer_for(CitizenFactory(consenting=True))

    services.dispatch_pending()
    sms = row(offer, "sms")
    assert (sms.status, sms.gateway) == ("unknown", "primary")
    assert backup_gateway.state.messages == []  # not sent again elsewhere

    # The sweeper asks the gateways: the primary has it, so it is sent.
    sms_gateway.control(mode="ok")
    result = services.settle_unknown(grace_seconds=0)
    sms.refresh_from_db()
    assert result == {"sent": 1, "requeued": 0}
    assert sms.status == "sent"
    assert sms.provider_message_id == sms_gateway.state.messages[0]["id"]
    services.dispatch_pending()
    assert len(sms_gateway.state.messages) == 1
    assert backup_gateway.state.messages == []


def test_a_row_a_lost_worker_left_is_asked_about_then_sent_once(offer_for, sms_gateway):
    offer = offer_for(CitizenFactory(consenting=True))
    sms = row(offer, "sms")
    # A worker claimed it and died before any request went out.
    services.claim_pending(100)
    assert services.dispatch_pending() == 0

    services.sweep(lease_seconds=0, grace_seconds=0)
    services.dispatch_pending()

    sms.refresh_from_db()
    assert sms.status == "sent"
    assert [m["ref"] for m in sms_gateway.state.messages] == [str(sms.pk)]
    assert row(offer, "cabinet").status == "sent"


def test_quiet_hours_hold_sms_until_morning_in_each_time_zone(
    offer_for, sms_gateway, smtp_server, settings
):
    """12:00 UTC is 15:00 in Moscow and 22:00 in Vladivostok."""
    settings.NOTIFY_QUIET_HOURS_BY_DEFAULT = True  # the portal's default
    muscovite = CitizenFactory(consenting=True, region_code="77")
    vladivostok = CitizenFactory(consenting=True, region_code="25")
    noon = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    with time_machine.travel(noon, tick=False):
        moscow_offer = offer_for(muscovite, "Q1")
        far_offer = offer_for(vladivostok, "Q2")
        services.dispatch_pending()

    assert row(moscow_offer, "sms").status == "sent"
    waiting = row(far_offer, "sms")
    morning = datetime.datetime(2026, 12, 4, 8, 0, tzinfo=ZoneInfo("Asia/Vladivostok"))
    assert (waiting.status, waiting.not_before) == ("pending", morning)
    assert waiting.attempts == 0
    assert row(far_offer, "email").status == "sent"  # email does not wake anyone
    assert len(sms_gateway.state.messages) == 1

    with time_machine.travel(morning - datetime.timedelta(minutes=1), tick=False):
        assert services.dispatch_pending() == 0
    with time_machine.travel(morning + datetime.timedelta(minutes=1), tick=False):
        services.dispatch_pending()
    assert row(far_offer, "sms").status == "sent"
    assert len(sms_gateway.state.messages) == 2

    # 19:30 UTC: 22:30 in Moscow, 05:30 next morning in Vladivostok.
    evening = datetime.datetime(2026, 12, 4, 19, 30, tzinfo=UTC)
    with time_machine.travel(evening, tick=False):
        late_moscow = offer_for(muscovite, "Q3", "birth-registration")
        services.dispatch_pending()
    assert row(late_moscow, "sms").status == "pending"
    assert row(late_moscow, "sms").not_before == datetime.datetime(
        2026, 12, 5, 8, 0, tzinfo=ZoneInfo("Europe/Moscow")
    )


def test_the_daily_cap_stops_extra_notices_but_not_urgent_ones(
    offer_for, sms_gateway, smtp_server
):
    maria = CitizenFactory(consenting=True, email="maria@example.org")
    DeliveryProfile.objects.create(citizen=maria, daily_cap=1, quiet_hours=False)

    first = offer_for(maria, "C1")
    services.dispatch_pending()
    second = offer_for(maria, "C2", "birth-registration")
    services.dispatch_pending()

    # One notice a day: the first went by SMS and email (counted once).
    assert row(first, "sms").status == "sent" and row(first, "email").status == "sent"
    assert row(second, "sms").status == "skipped"
    assert row(second, "email").status == "skipped"
    assert row(second, "cabinet").status == "sent"

    # An urgent notice passes the cap.
    urgent = Notification.objects.create(
        citizen=maria, kind="deadline_reminder", channel="sms", object_key="deadline:1"
    )
    services.dispatch_pending()
    urgent.refresh_from_db()
    assert urgent.status == "sent"


def test_a_channel_the_citizen_turned_off_is_skipped(
    offer_for, sms_gateway, smtp_server
):
    maria = CitizenFactory(consenting=True)
    services.save_preferences(
        maria,
        disabled={"offers": ["sms"]},
        quiet_hours=False,
        quiet_start=datetime.time(22),
        quiet_end=datetime.time(8),
        daily_cap=5,
    )
    offer = offer_for(maria)
    services.dispatch_pending()

    assert row(offer, "sms").status == "skipped"
    assert sms_gateway.state.messages == []
    assert row(offer, "email").status == "sent"
    assert row(offer, "cabinet").status == "sent"


def test_an_address_the_smtp_server_refuses_becomes_unusable(
    offer_for, sms_gateway, smtp_server
):
    maria = CitizenFactory(consenting=True, email="bounce@example.org")
    first = offer_for(maria, "E1")
    services.dispatch_pending()
    assert row(first, "email").status == "undelivered"
    assert DeliveryProfile.objects.get(citizen=maria).email_unusable_at is not None

    second = offer_for(maria, "E2", "birth-registration")
    services.dispatch_pending()
    assert row(second, "email").status == "skipped"
    assert smtp_server.messages == []


def test_an_officials_template_overrides_the_file_template(
    offer_for, sms_gateway, smtp_server
):
    MessageTemplate.objects.create(
        kind="offer_created",
        channel="sms",
        body="{{ citizen.first_name }}, новое предложение. Код {{ offer.short_code }}",
    )
    maria = CitizenFactory(consenting=True, first_name="Мария")
    offer = offer_for(maria)
    services.dispatch_pending()

    assert sms_gateway.state.messages[0]["text"] == (
        f"Мария, новое предложение. Код {offer.short_code}"
    )


def test_dispatch_stops_claiming_when_its_time_budget_is_spent(
    offer_for, sms_gateway, smtp_server
):
    """Regression: a task that ran past its time limit was killed in the
    middle of a batch, leaving its rows "sending" until the sweeper came."""
    offer_for(CitizenFactory(consenting=True))

    assert services.dispatch_pending(batch_size=1, budget_seconds=0) == 1

    assert not Notification.objects.filter(status="sending").exists()
    assert Notification.objects.filter(status="pending").count() == 2


def test_a_batch_of_email_goes_over_several_connections_each_message_once(
    write_csv, run_import, smtp_server, settings
):
    settings.EMAIL_CONNECTIONS = 3
    citizens = [
        CitizenFactory(consenting=True, email=f"mother{n}@example.org")
        for n in range(60)
    ]
    path = write_csv(
        "many.csv",
        BIRTHS_HEADER,
        [birth(f"M{n}", c.snils) for n, c in enumerate(citizens)],
    )
    evaluate_batch(run_import("births", path)["batch_id"])

    assert services.dispatch_pending(channel="email") == 60

    received = sorted(address for m in smtp_server.messages for address in m["to"])
    assert received == sorted(c.email for c in citizens)
    assert len({m["peer"] for m in smtp_server.messages}) == 3
    assert not Notification.objects.filter(channel="email").exclude(status="sent")

    # Every message reads back as the notice stored for it.
    for mail in smtp_server.messages:
        message = mail["message"]
        notice = Notification.objects.get(
            provider_message_id=message["Message-ID"].strip("<>")
        )
        assert str(make_header(decode_header(message["Subject"]))) == notice.subject
        # The server hands over the message as it came: with CRLF.
        text, html = [
            part.get_payload(decode=True).decode().replace("\r\n", "\n")
            for part in message.walk()
            if part.get_content_maintype() == "text"
        ]
        assert text.strip() == notice.body
        assert f"/offers/{notice.offer_id}/" in html


def test_an_email_line_longer_than_smtp_allows_goes_as_base64(
    offer_for, smtp_server, settings
):
    line = "Очень длинная строка без переносов. " * 30  # over 998 bytes
    MessageTemplate.objects.create(
        kind="offer_created",
        channel="email",
        language=settings.LANGUAGE_CODE,
        subject="Тема",
        body=line,
    )
    offer = offer_for(CitizenFactory(consenting=True, email="maria@example.org"))

    services.dispatch_pending(channel="email")

    [mail] = smtp_server.messages
    [text] = [p for p in mail["message"].walk() if p.get_content_type() == "text/plain"]
    assert text["Content-Transfer-Encoding"] == "base64"
    assert text.get_payload(decode=True).decode() == line.strip()
    assert row(offer, "email").status == "sent"
