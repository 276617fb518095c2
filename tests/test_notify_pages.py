"""The citizen's notification settings and the officials' admin pages."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from notifications.models import DeliveryProfile, MessageTemplate, Notification
from tests.factories import CitizenFactory
from tests.helpers import PASSWORD, login, official_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def maria(client):
    citizen = CitizenFactory(with_account=True, first_name="Мария")
    login(client, citizen)
    return citizen


def test_the_preferences_page_needs_a_logged_in_citizen(client):
    response = client.get(reverse("notifications:preferences"))
    assert response.status_code == 302
    assert reverse("cabinet:login") in response["Location"]


def test_the_preferences_page_shows_the_defaults(client, maria):
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert "Настройки уведомлений" in page
    assert 'value="22:00"' in page and 'value="08:00"' in page
    assert 'name="offers__sms" id="id_offers__sms" checked' in page
    assert "/sw.js" in page


def test_a_citizen_turns_a_channel_off_and_sets_quiet_hours(client, maria):
    data = {
        "quiet_hours": "on",
        "quiet_start": "21:30",
        "quiet_end": "09:00",
        "daily_cap": "3",
    }
    for topic in ("offers", "applications", "payments", "deadlines", "consent"):
        for channel in ("sms", "email", "push"):
            if (topic, channel) != ("payments", "sms"):
                data[f"{topic}__{channel}"] = "on"

    response = client.post(reverse("notifications:preferences"), data)

    assert response.status_code == 302
    profile = DeliveryProfile.objects.get(citizen=maria)
    assert profile.disabled == {"payments": ["sms"]}
    assert (profile.quiet_start, profile.quiet_end) == (
        datetime.time(21, 30),
        datetime.time(9, 0),
    )
    assert profile.daily_cap == 3


def test_bad_preferences_are_refused_with_the_field_named(client, maria):
    response = client.post(
        reverse("notifications:preferences"),
        {"quiet_start": "25:99", "quiet_end": "08:00", "daily_cap": "0"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"quiet_start", "daily_cap"}
    assert not DeliveryProfile.objects.exists()


def test_a_browser_subscribes_to_push(client, maria):
    response = client.post(
        reverse("notifications:push-subscribe"),
        {
            "endpoint": "https://push.example/abc",
            "keys": {"p256dh": "BPk", "auth": "x"},
        },
        content_type="application/json",
    )
    assert response.status_code == 200
    assert maria.push_subscriptions.get().endpoint == "https://push.example/abc"


def test_the_service_worker_is_served_from_the_site_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    assert "showNotification" in response.content.decode()


@pytest.fixture
def official(client):
    user = get_user_model().objects.create_superuser(
        "chief", "c@example.org", PASSWORD
    )
    official_login(client, user)
    return user


def test_a_template_shows_its_preview_and_sms_part_count(client, official):
    template = MessageTemplate.objects.create(
        kind="offer_created",
        channel="sms",
        body="{{ citizen.first_name }}, Вам доступна услуга "
        "«{{ offer.service.title }}». "
        "Ответьте ДА {{ offer.short_code }}",
    )
    page = client.get(
        reverse("admin:notifications_messagetemplate_change", args=[template.pk])
    ).content.decode()

    assert "Мария, Вам доступна услуга «Материнский (семейный) капитал». " in page
    assert "Ответьте ДА 123456" in page
    assert "2 (79 знаков, UCS2)" in page


def test_the_monitoring_view_lists_failures_and_retries_them(client, official):
    maria = CitizenFactory()
    failed = Notification.objects.create(
        citizen=maria,
        kind="offer_created",
        channel="sms",
        object_key="offer:1",
        status="failed",
        attempts=5,
    )
    Notification.objects.create(
        citizen=maria,
        kind="offer_created",
        channel="email",
        object_key="offer:1",
        status="delivered",
    )
    url = reverse("admin:notifications_problemnotification_changelist")

    page = client.get(url).content.decode()
    assert "delivery-figures" in page
    assert f"?id={failed.pk}" not in page and f"/{failed.pk}/change/" in page
    assert client.get(url).context["cl"].result_count == 1

    client.post(url, {"action": "retry", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
