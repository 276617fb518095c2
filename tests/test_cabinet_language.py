"""Defects a fresh user found in the cabinet's languages, error pages and
one-time code messages; each test failed before its fix."""

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from notifications.models import Notification
from offers import services as offer_services
from tests.factories import CitizenFactory, UserFactory, second_factor_code
from tests.helpers import PASSWORD, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna():
    return CitizenFactory(with_account=True, consenting=True, first_name="Анна")


def in_english(client):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_english_pages_translate_statuses_channels_and_service_names(
    client, anna, offer_for
):
    offer = offer_for(anna)
    application = offer_services.accept_offer(anna, offer.pk)
    Notification.objects.create(
        citizen=anna,
        kind=Notification.Kind.PAYMENT_NOTICE,
        channel=Notification.Channel.CABINET,
        object_key="lang-1",
        status=Notification.Status.SENT,
        body="Выплата",
    )
    in_english(login(client, anna))

    page = client.get(reverse("cabinet:application-detail", args=[application.pk]))
    text = page.content.decode()
    assert "Maternity (family) capital" in text
    assert ">submitted<" in text

    inbox = client.get(reverse("cabinet:notifications")).content.decode()
    assert "personal account" in inbox and "личный кабинет" not in inbox

    dashboard = client.get(reverse("cabinet:dashboard")).content.decode()
    assert "Maternity (family) capital" in dashboard


def test_the_notification_preferences_page_speaks_english(client, anna):
    in_english(login(client, anna))
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert "Tick where to tell you" in page
    assert "Отметьте" not in page and "Тема" not in page


def test_the_demo_banner_link_is_translated(client, anna, settings):
    settings.PORTAL_DEMO = True
    settings.SMS_LOCAL_GATEWAY_URL = "http://127.0.0.1:9/"
    in_english(login(client, anna))
    page = client.get(reverse("cabinet:dashboard")).content.decode()
    assert "SMS gateway messages" in page


def test_a_missing_page_is_shown_in_the_portals_layout(client):
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    text = page.content.decode()
    assert "Страница не найдена" in text and "Проактивный портал госуслуг" in text

    english = in_english(client).get("/no-such-page/").content.decode()
    assert "Page not found" in english


def test_another_citizens_offer_answers_the_portals_404(client, anna, offer_for):
    offer = offer_for(anna)
    other = CitizenFactory(with_account=True, consenting=True)
    login(client, other)
    page = client.get(reverse("cabinet:offer-detail", args=[offer.pk]))
    assert page.status_code == 404
    assert "Страница не найдена" in page.content.decode()


def test_a_server_error_is_shown_in_the_portals_layout():
    request = RequestFactory().get("/")
    response = server_error(request)
    text = response.content.decode()
    assert response.status_code == 500
    assert "Ошибка на портале" in text and "Проактивный портал госуслуг" in text


def test_the_admin_login_speaks_russian_about_one_time_codes(client):
    """Regression: django-otp's English messages on the Russian admin."""
    official = UserFactory(username="official-ru", is_staff=True)
    second_factor_code(official)
    device = official.staticdevice_set.get()

    page = client.get("/admin/login/").content.decode()
    assert "Одноразовый код:" in page and "OTP Token:" not in page

    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "official-ru",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": "wrong-code",
        },
    )
    text = response.content.decode()
    assert "Invalid token" not in text
    assert "Код не подошёл" in text or "Подождите" in text


def test_a_code_right_after_a_wrong_one_is_told_to_wait(client, anna):
    """Regression: after a wrong code django-otp refuses every code for a
    second, and the page said only that the code was wrong."""
    client.post(
        reverse("cabinet:login"),
        {"username": anna.user.username, "password": PASSWORD},
    )
    code = second_factor_code(anna.user)

    wrong = client.post(reverse("cabinet:otp-verify"), {"token": "wrong-backup"})
    # The first wrong code is told as wrong, not as a wait.
    assert "Код не подошёл" in wrong.content.decode()
    assert "Подождите" not in wrong.content.decode()
    page = client.post(reverse("cabinet:otp-verify"), {"token": code})

    assert page.status_code == 200
    assert "Подождите" in page.content.decode()
