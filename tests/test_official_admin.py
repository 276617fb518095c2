"""What officials may change in admin, and what they may not: a citizen's
identity and contacts come from the registries and from the citizen, and
are never edited by hand."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cabinet.models import Citizen
from notifications import inbound
from notifications.models import PushSubscription
from offers.models import Application, Offer, Service
from offers.services import accept_offer
from tests.factories import CitizenFactory
from tests.helpers import login

pytestmark = pytest.mark.django_db

OFFICIALS_PHONE = "+79990000000"


@pytest.fixture
def anna():
    return CitizenFactory(
        with_account=True,
        consenting=True,
        first_name="Анна",
        last_name="Смирнова",
        phone="+79161234567",
        phone_is_mobile=True,
        phone_verified_at=timezone.now(),
    )


def citizen_form(citizen, **changes):
    """The citizen's change form as the admin page posts it."""
    verified = timezone.localtime(citizen.phone_verified_at)
    data = {
        "user": citizen.user_id or "",
        "snils": citizen.snils,
        "last_name": citizen.last_name,
        "first_name": citizen.first_name,
        "middle_name": citizen.middle_name,
        "birth_date": citizen.birth_date.isoformat(),
        "sex": citizen.sex,
        "inn": citizen.inn,
        "passport_series": citizen.passport_series,
        "passport_number": citizen.passport_number,
        "passport_issued_on": "",
        "address": citizen.address,
        "region_code": citizen.region_code,
        "phone": citizen.phone,
        "phone_is_mobile": "on",
        "phone_verified_at_0": verified.date().isoformat(),
        "phone_verified_at_1": verified.strftime("%H:%M:%S"),
        "email": citizen.email,
        "death_date": "",
        "proactive_mode": "on",
        "_save": "Сохранить",
    }
    return {**data, **changes}


def test_an_official_cannot_change_a_citizen_s_phone_or_name(
    admin_client, anna, offer_for
):
    """Regression: an official changed a citizen's phone in admin; the
    verification stayed, the cabinet called the new number «Подтверждён
    Вами по SMS», and «ДА <code>» from it confirmed the citizen's offer.
    The surname edited there showed as the population registry's."""
    offer = offer_for(anna)
    before = Citizen.objects.values().get(pk=anna.pk)
    url = reverse("admin:cabinet_citizen_change", args=[anna.pk])

    page = admin_client.get(url)
    response = admin_client.post(
        url, citizen_form(anna, phone=OFFICIALS_PHONE, last_name="Подменова")
    )

    assert page.status_code == 200
    assert 'name="phone"' not in page.content.decode()
    assert 'name="last_name"' not in page.content.decode()
    assert response.status_code == 403
    assert Citizen.objects.values().get(pk=anna.pk) == before

    assert inbound.handle_reply(OFFICIALS_PHONE, f"ДА {offer.short_code}") == (
        inbound.UNKNOWN_NUMBER
    )
    offer.refresh_from_db()
    assert offer.status == Offer.Status.OFFERED

    profile = login(Client(), anna).get(reverse("cabinet:profile")).content.decode()
    assert OFFICIALS_PHONE not in profile and "Подменова" not in profile


def test_citizens_and_their_push_subscriptions_are_not_made_or_removed_by_hand(
    admin_client, anna
):
    subscription = PushSubscription.objects.create(
        citizen=anna, endpoint="https://push.example/anna", p256dh="k", auth="a"
    )

    refused = [
        admin_client.post(reverse("admin:cabinet_citizen_add"), citizen_form(anna)),
        admin_client.post(
            reverse("admin:cabinet_citizen_delete", args=[anna.pk]), {"post": "yes"}
        ),
        admin_client.post(
            reverse("admin:notifications_pushsubscription_add"),
            {"citizen": anna.pk, "endpoint": "https://push.example/official",
             "p256dh": "k", "auth": "a"},
        ),
        admin_client.post(
            reverse(
                "admin:notifications_pushsubscription_change", args=[subscription.pk]
            ),
            {"citizen": anna.pk, "endpoint": "https://push.example/official",
             "p256dh": "k", "auth": "a"},
        ),
    ]

    assert [response.status_code for response in refused] == [403] * 4
    assert Citizen.objects.filter(pk=anna.pk).exists()
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        "https://push.example/anna"
    ]


# The demo's official: staff with the officials' permissions ---------------

DEMO_PASSWORD = "demo-password-2026"


@pytest.fixture
def demo_official(tmp_path, django_user_model):
    """The official the demo makes (over an earlier demo's superuser of the
    same name), signed in to the admin with a code from the codes file."""
    django_user_model.objects.create_superuser("official", password="old")
    accounts = tmp_path / "accounts.json"
    accounts.write_text("[]")
    codes = tmp_path / "codes.txt"
    call_command(
        "create_demo_accounts",
        str(accounts),
        "--codes-file",
        str(codes),
        stdout=io.StringIO(),
    )
    official = django_user_model.objects.get(username="official")
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "official",
            "password": DEMO_PASSWORD,
            "otp_device": official.staticdevice_set.get().persistent_id,
            "otp_token": codes.read_text().split()[1],
        },
    )
    assert response.status_code == 302
    return official, client


def test_the_demo_official_is_staff_in_the_officials_group(demo_official):
    official, _client = demo_official

    assert official.is_staff and not official.is_superuser
    assert list(official.groups.values_list("name", flat=True)) == [
        "Сотрудники ведомств"
    ]


def test_the_demo_official_cannot_manage_accounts_devices_consents_or_notices(
    demo_official, anna
):
    """Regression: the demo's official was a superuser: it could edit users
    and grant superuser, add second-factor devices, create a consent on a
    citizen's behalf, bulk-delete consents and write notifications."""
    official, client = demo_official
    consent = anna.consents.get()
    user_change = reverse("admin:auth_user_change", args=[official.pk])

    responses = {
        "users": client.get(reverse("admin:auth_user_changelist")),
        "own account": client.get(user_change),
        "grant superuser": client.post(
            user_change,
            {"username": "official", "is_staff": "on", "is_superuser": "on"},
        ),
        "groups": client.get(reverse("admin:auth_group_changelist")),
        "backup codes": client.get(reverse("admin:otp_static_staticdevice_add")),
        "authenticator": client.get(reverse("admin:otp_totp_totpdevice_add")),
        "consent add": client.post(
            reverse("admin:consents_consent_add"),
            {"citizen": anna.pk, "purpose": "proactive", "text_version": "1"},
        ),
        "consent delete": client.post(
            reverse("admin:consents_consent_delete", args=[consent.pk]),
            {"post": "yes"},
        ),
        "notification add": client.post(
            reverse("admin:notifications_notification_add"),
            {"citizen": anna.pk, "kind": "offer_created", "channel": "sms"},
        ),
    }
    bulk_delete = client.post(
        reverse("admin:consents_consent_changelist"),
        {"action": "delete_selected", "_selected_action": [consent.pk], "post": "yes"},
    )

    assert {name: r.status_code for name, r in responses.items()} == {
        name: 403 for name in responses
    }
    official.refresh_from_db()
    assert not official.is_superuser
    assert anna.consents.get() == consent
    assert bulk_delete.status_code == 200
    assert not anna.notifications.filter(kind="offer_created", channel="sms").exists()


def test_the_demo_official_does_the_official_s_work(demo_official, anna, offer_for):
    official, client = demo_official
    offer = offer_for(anna)
    application = accept_offer(anna, offer.pk)

    pages = [
        reverse("admin:offers_application_changelist"),
        reverse("admin:offers_application_change", args=[application.pk]),
        reverse("admin:offers_service_changelist"),
        reverse("admin:offers_service_change", args=[offer.service_id]),
        reverse("admin:events_triggerrule_changelist"),
        reverse("admin:events_triggerrule_add"),
        reverse("admin:events_triggerrule_change", args=[offer.rule_id]),
        reverse("admin:offers_takeupfunnel_changelist"),
        reverse("admin:notifications_messagetemplate_changelist"),
        reverse("admin:notifications_problemnotification_changelist"),
        reverse("admin:offers_bankdetails_changelist"),
        reverse("admin:events_unmatcheddeath_changelist"),
        reverse("admin:cabinet_citizen_change", args=[anna.pk]),
        reverse("admin:consents_consent_changelist"),
    ]
    assert {url: client.get(url).status_code for url in pages} == {
        url: 200 for url in pages
    }

    for action, data in (("approve", {"note": ""}), ("complete", {"note": ""})):
        url = reverse("admin:offers_application_act", args=[application.pk, action])
        assert client.post(url, data).status_code == 302
    application.refresh_from_db()
    assert application.status == Application.Status.COMPLETED
    assert application.history.last().actor == official

    service_url = reverse("admin:offers_service_change", args=[offer.service_id])
    form = client.get(service_url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, bool)
    }
    data.update(
        prefill_fields=json.dumps(form.initial["prefill_fields"]),
        correctable_fields=json.dumps(form.initial["correctable_fields"]),
        required_documents=json.dumps(form.initial["required_documents"]),
        is_active="on",
        processing_days=20,
    )
    assert client.post(service_url, data).status_code == 302
    assert Service.objects.get(pk=offer.service_id).processing_days == 20


def test_nobody_adds_or_deletes_consents_or_writes_notifications_in_admin(
    admin_client, anna
):
    consent = anna.consents.get()

    refused = [
        admin_client.get(reverse("admin:consents_consent_add")),
        admin_client.post(
            reverse("admin:consents_consent_delete", args=[consent.pk]),
            {"post": "yes"},
        ),
        admin_client.get(reverse("admin:notifications_notification_add")),
    ]

    assert [response.status_code for response in refused] == [403] * 3
    assert anna.consents.get() == consent
