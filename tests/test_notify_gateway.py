"""The gateway's side: SMS parts, receipts, replies, email bounces, push."""

import base64
import datetime
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse
from django.utils import timezone

from events.services import evaluate_batch
from notifications import services
from notifications.models import DeliveryProfile, Notification, PushSubscription
from notifications.sms_parts import sms_length
from offers.models import Application, Offer
from tests.conftest import wait_until
from tests.factories import CitizenFactory
from tests.helpers import BIRTHS_HEADER, birth

# Tests that set no time of day of their own run in an afternoon: quiet
# hours would otherwise hold their SMS back late in the evening.
pytestmark = pytest.mark.usefixtures("afternoon")

CYRILLIC = "Ж"


@pytest.mark.parametrize(("length", "parts"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_cyrillic_sms_parts(length, parts):
    result = sms_length(CYRILLIC * length)
    assert (result.encoding, result.units, result.parts) == ("ucs2", length, parts)


@pytest.mark.parametrize(("length", "parts"), [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm7_sms_parts(length, parts):
    assert sms_length("a" * length) == type(sms_length("a"))("gsm7", length, parts)


def test_gsm7_extension_characters_take_two_septets():
    assert sms_length("€" * 80).units == 160
    assert sms_length("€" * 81).parts == 2


def test_one_cyrillic_letter_makes_the_whole_text_ucs2():
    assert sms_length("a" * 69 + "ы").parts == 1
    assert sms_length("a" * 70 + "ы").parts == 2


# Receipts ------------------------------------------------------------------


@pytest.fixture
def offer_for(write_csv, run_import):
    def make(citizen, record_id="R1"):
        path = write_csv(
            f"{record_id}.csv", BIRTHS_HEADER, [birth(record_id, citizen.snils)]
        )
        summary = run_import("births", path)
        evaluate_batch(summary["batch_id"])
        return Offer.objects.get(citizen=citizen, event__record_id=record_id)

    return make


def post_receipts(client, receipts, token="primary-token"):
    return client.post(
        reverse("notifications:gateway-receipts"),
        {"receipts": receipts},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.django_db
def test_receipts_move_forward_only_and_duplicates_are_ignored(
    client, offer_for, sms_gateway, caplog
):
    caplog.set_level(logging.INFO, logger="notifications.services")
    offer = offer_for(CitizenFactory(consenting=True))
    services.dispatch_pending()
    sms = Notification.objects.get(offer=offer, channel="sms")
    ref = str(sms.pk)

    assert post_receipts(client, [{"ref": ref, "status": "delivered"}]).json() == {
        "applied": 1
    }
    # Out of order: an earlier stage after the final one changes nothing.
    late = post_receipts(
        client,
        [
            {"ref": ref, "status": "accepted"},
            {"ref": ref, "status": "undelivered"},
            {"ref": ref, "status": "delivered"},
        ],
    )
    assert late.json() == {"ignored": 3}
    sms.refresh_from_db()
    assert sms.status == "delivered"
    assert "receipt ignored" in caplog.text


@pytest.mark.django_db
def test_a_receipt_settles_an_unknown_sms(client, offer_for, sms_gateway):
    offer = offer_for(CitizenFactory(consenting=True))
    Notification.objects.filter(offer=offer, channel="sms").update(status="unknown")
    sms = Notification.objects.get(offer=offer, channel="sms")

    post_receipts(client, [{"ref": str(sms.pk), "status": "delivered", "id": "gw-1"}])

    sms.refresh_from_db()
    assert (sms.status, sms.provider_message_id) == ("delivered", "gw-1")


@pytest.mark.django_db
def test_an_undelivered_receipt_sends_the_notice_by_email(
    client, offer_for, sms_gateway
):
    offer = offer_for(CitizenFactory(consenting=True))
    Notification.objects.filter(offer=offer, channel="email").delete()
    Notification.objects.filter(offer=offer, channel="sms").update(status="sent")
    sms = Notification.objects.get(offer=offer, channel="sms")

    post_receipts(client, [{"ref": str(sms.pk), "status": "undelivered"}])

    assert Notification.objects.get(offer=offer, channel="email").status == "pending"


@pytest.mark.django_db
def test_a_gateway_cannot_settle_another_gateways_message(
    client, offer_for, backup_gateway
):
    offer = offer_for(CitizenFactory(consenting=True))
    services.dispatch_pending()
    sms = Notification.objects.get(offer=offer, channel="sms")
    assert sms.gateway == "primary"

    post_receipts(
        client, [{"ref": str(sms.pk), "status": "undelivered"}], token="backup-token"
    )

    sms.refresh_from_db()
    assert sms.status == "sent"


@pytest.mark.django_db
def test_receipts_need_the_gateways_token(client, sms_gateway):
    assert post_receipts(client, [], token="wrong").status_code == 401
    response = client.post(
        reverse("notifications:gateway-receipts"),
        "not json",
        content_type="application/json",
        headers={"Authorization": "Bearer primary-token"},
    )
    assert response.status_code == 400


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_gateway_posts_receipts_to_the_portal(live_server, offer_for, settings):
    """End to end over HTTP: the local gateway calls the receipts endpoint
    of a running portal."""
    from notifications.gateway import GatewayServer

    server = GatewayServer(
        name="primary",
        token="primary-token",
        portal_url=live_server.url,
        receipt_delay=0.1,
    ).start()
    settings.SMS_GATEWAYS = [
        {"name": "primary", "url": server.url, "token": "primary-token", "weight": 1}
    ]
    try:
        offer = offer_for(CitizenFactory(consenting=True))
        services.dispatch_pending()
        sms = Notification.objects.get(offer=offer, channel="sms")
        wait_until(
            lambda: Notification.objects.get(pk=sms.pk).status == "delivered",
            seconds=15,
            what="the delivery receipt",
        )
    finally:
        server.stop()


# Replies -------------------------------------------------------------------


def reply(client, phone, text, token="primary-token"):
    return client.post(
        reverse("notifications:gateway-inbound"),
        {"id": "in-1", "from": phone, "text": text},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def verified_maria():
    return CitizenFactory(
        consenting=True, phone="+79161112233", phone_verified_at=timezone.now()
    )


@pytest.mark.django_db
def test_yes_with_the_code_from_the_verified_phone_confirms_the_offer(
    client, offer_for, sms_gateway, verified_maria
):
    offer = offer_for(verified_maria)

    answer = reply(client, "+79161112233", f"да {offer.short_code}").json()["reply"]

    offer.refresh_from_db()
    assert offer.status == "confirmed"
    application = Application.objects.get(offer=offer)
    assert application.number in answer


@pytest.mark.django_db
def test_no_with_the_code_declines_the_offer(
    client, offer_for, sms_gateway, verified_maria
):
    offer = offer_for(verified_maria)
    reply(client, "+79161112233", f"{offer.short_code} НЕТ")
    offer.refresh_from_db()
    assert offer.status == "declined"


@pytest.mark.django_db
def test_stop_turns_proactive_offers_off(client, sms_gateway, verified_maria):
    answer = reply(client, "+79161112233", "Стоп").json()["reply"]
    verified_maria.refresh_from_db()
    assert verified_maria.proactive_mode is False
    assert "отключены" in answer


@pytest.mark.django_db
def test_anything_else_gets_a_short_help(
    client, offer_for, sms_gateway, verified_maria
):
    offer = offer_for(verified_maria)
    answer = reply(client, "+79161112233", "а что это?").json()["reply"]
    assert "ДА" in answer and sms_length(answer).parts == 1
    offer.refresh_from_db()
    assert offer.status == "offered"


@pytest.mark.django_db
def test_a_reply_from_another_number_changes_nothing(
    client, offer_for, sms_gateway, verified_maria
):
    offer = offer_for(verified_maria)
    # Same code, another phone; and the right phone but not verified.
    reply(client, "+79990000000", f"ДА {offer.short_code}")
    CitizenFactory(phone="+79995554433")
    reply(client, "+79995554433", "СТОП")

    offer.refresh_from_db()
    verified_maria.refresh_from_db()
    assert offer.status == "offered" and verified_maria.proactive_mode is True
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_replies_need_the_gateways_token(client, verified_maria):
    assert reply(client, "+79161112233", "СТОП", token="nope").status_code == 401
    verified_maria.refresh_from_db()
    assert verified_maria.proactive_mode is True


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reply_through_the_local_gateway_confirms_the_offer(
    live_server, offer_for, settings
):
    from notifications.gateway import GatewayServer

    server = GatewayServer(
        name="primary", token="primary-token", portal_url=live_server.url
    ).start()
    settings.SMS_GATEWAYS = [
        {"name": "primary", "url": server.url, "token": "primary-token", "weight": 1}
    ]
    try:
        maria = CitizenFactory(
            consenting=True, phone="+79161112233", phone_verified_at=timezone.now()
        )
        offer = offer_for(maria)
        answer = server.reply("+79161112233", f"ДА {offer.short_code}")
        offer.refresh_from_db()
        assert offer.status == "confirmed"
        # The portal's answer went back to the phone through the gateway.
        assert server.state.messages[-1]["text"] == answer["reply"]
    finally:
        server.stop()


# Email bounces ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_hard_bounce_marks_the_address_unusable(client):
    maria = CitizenFactory(email="maria@example.org")
    sent = Notification.objects.create(
        citizen=maria,
        kind="offer_created",
        channel="email",
        object_key="offer:1",
        status="sent",
        provider_message_id="notification-1@localhost",
    )
    url = reverse("notifications:email-bounces")
    body = {
        "bounces": [
            {
                "email": "maria@example.org",
                "type": "hard",
                "message_id": "<notification-1@localhost>",
            },
            {"email": "other@example.org", "type": "soft"},
        ]
    }

    denied = client.post(url, body, content_type="application/json")
    assert denied.status_code == 401
    assert not DeliveryProfile.objects.exists()

    response = client.post(
        url,
        body,
        content_type="application/json",
        headers={"Authorization": "Bearer local-bounce-token"},
    )
    assert response.json() == {"hard": 1, "soft": 1}
    assert DeliveryProfile.objects.get(citizen=maria).email_unusable_at is not None
    sent.refresh_from_db()
    assert sent.status == "undelivered"


# Web Push ------------------------------------------------------------------


class PushService:
    """A browser vendor's push service, played by a local HTTP server: it
    records each encrypted request and answers with the status it is told."""

    def __init__(self):
        self.requests = []
        self.answer = 201
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service.requests.append({"headers": self.headers, "body": body})
                self.send_response(service.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.server.shutdown()


def browser_keys():
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )

    def encode(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return encode(public), encode(b"0123456789abcdef")


@pytest.mark.django_db
def test_push_goes_to_the_push_service_encrypted_with_vapid(
    push_service, settings, tmp_path
):
    settings.VAPID_PRIVATE_KEY_FILE = str(tmp_path / "vapid.pem")
    from notifications.backends import push

    push.vapid.cache_clear()
    maria = CitizenFactory()
    p256dh, auth = browser_keys()
    services.subscribe_push(maria, push_service.url + "/push/abc", p256dh, auth)
    notice = Notification.objects.create(
        citizen=maria,
        kind="application_status",
        channel="push",
        object_key="application:9",
    )
    # No application row behind the key: the general texts are used.
    services.dispatch_pending()

    notice.refresh_from_db()
    assert notice.status == "sent"
    [request] = push_service.requests
    assert request["headers"].get("Content-Encoding") == "aes128gcm"
    assert request["headers"].get("Authorization").startswith("vapid t=")
    assert "Мария".encode() not in request["body"]  # encrypted
    push.vapid.cache_clear()


@pytest.mark.django_db
def test_an_expired_push_subscription_is_dropped(push_service, settings, tmp_path):
    settings.VAPID_PRIVATE_KEY_FILE = str(tmp_path / "vapid.pem")
    from notifications.backends import push

    push.vapid.cache_clear()
    push_service.answer = 410
    maria = CitizenFactory()
    p256dh, auth = browser_keys()
    services.subscribe_push(maria, push_service.url + "/push/gone", p256dh, auth)
    notice = Notification.objects.create(
        citizen=maria,
        kind="consent_expiring",
        channel="push",
        object_key="consent:1",
    )

    services.dispatch_pending()

    assert not PushSubscription.objects.exists()
    notice.refresh_from_db()
    assert notice.status == "skipped"
    push.vapid.cache_clear()


def test_gateway_log_lists_what_it_received(sms_gateway):
    """The local gateway's own list, as the demo banner links to it."""
    import urllib.request

    sms_gateway._accept({"ref": "1", "to": "+79161234567", "text": "Привет"})
    with urllib.request.urlopen(sms_gateway.url + "/") as page:
        assert "Привет" in page.read().decode()
    with urllib.request.urlopen(sms_gateway.url + "/api/v1/log") as log:
        assert json.loads(log.read())["messages"][0]["encoding"] == "ucs2"


def test_gateway_list_shows_the_portals_time_and_says_which(sms_gateway):
    """Regression: the list showed UTC times while the portal speaks
    Moscow time. 21:30 UTC is already the next day in Moscow."""
    import urllib.request

    evening = datetime.datetime(2026, 12, 3, 21, 30, tzinfo=datetime.UTC)
    with time_machine.travel(evening, tick=False):
        sms_gateway._accept({"ref": "1", "to": "+79161234567", "text": "Привет"})
        with urllib.request.urlopen(sms_gateway.url + "/") as page:
            text = page.read().decode()

    assert "время (Europe/Moscow, UTC+03:00)" in text
    assert "<td>04.12 00:30:00</td>" in text
    assert "21:30:00" not in text


@pytest.mark.django_db
def test_a_gateway_that_takes_one_message_a_request_gets_them_one_by_one(
    write_csv, run_import, settings
):
    from notifications.gateway import GatewayServer
    from tests.conftest import _clear_gateway_penalties

    server = GatewayServer(name="single", token="single-token", batch=1).start()
    gateway = {"name": "single", "url": server.url, "token": "single-token"}
    settings.SMS_GATEWAYS = [gateway]
    settings.NOTIFY_RETRY_BASE_SECONDS = 0
    _clear_gateway_penalties()
    citizens = [CitizenFactory(consenting=True) for _ in range(3)]
    path = write_csv(
        "three.csv",
        BIRTHS_HEADER,
        [birth(f"S{n}", c.snils) for n, c in enumerate(citizens)],
    )
    evaluate_batch(run_import("births", path)["batch_id"])
    try:
        # Sent all at once, the gateway refuses the request: nothing goes.
        services.dispatch_pending(channel="sms", max_batches=1)
        assert server.state.messages == []
        assert set(
            Notification.objects.filter(channel="sms").values_list("status", flat=True)
        ) == {"pending"}

        # Told its limit, the client sends one message a request.
        settings.SMS_GATEWAYS = [{**gateway, "batch": 1}]
        services.dispatch_pending(channel="sms")
    finally:
        server.stop()

    assert server.state.requests == 3
    assert sorted(m["ref"] for m in server.state.messages) == sorted(
        str(pk)
        for pk in Notification.objects.filter(channel="sms").values_list(
            "pk", flat=True
        )
    )
    assert set(
        Notification.objects.filter(channel="sms").values_list("status", flat=True)
    ) == {"sent"}


@pytest.mark.django_db
def test_receipts_of_direct_messages_do_not_hold_back_the_batch(
    client, offer_for, sms_gateway
):
    """A phone code is sent directly (ref "direct-..."): its receipt is
    skipped, and the outbox receipts beside it still apply."""
    offer = offer_for(CitizenFactory(consenting=True))
    services.dispatch_pending()
    sms = Notification.objects.get(offer=offer, channel="sms")

    response = post_receipts(
        client,
        [
            {"ref": "direct-0f3c", "status": "delivered"},
            {"ref": str(sms.pk), "status": "delivered"},
        ],
    )

    assert response.status_code == 200
    assert response.json()["skipped"] == 1
    sms.refresh_from_db()
    assert sms.status == "delivered"
