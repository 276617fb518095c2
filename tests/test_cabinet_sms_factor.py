"""The second factor by SMS: chosen at set-up instead of an authenticator
app, then a code sent to the verified mobile at each login, through the
local SMS gateway (the outside party)."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cabinet.models import Citizen, PhoneCode, SMSDevice
from tests.factories import CitizenFactory
from tests.helpers import PASSWORD

commits = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def codes_sent(sms_gateway, phone="+79161234567") -> list[str]:
    return [
        re.search(r"\d{6}", m["text"]).group()
        for m in sms_gateway.state.messages
        if m["to"] == phone
    ]


def password_login(client, citizen):
    response = client.post(
        reverse("cabinet:login"),
        {"username": citizen.user.username, "password": PASSWORD},
    )
    assert response.status_code == 302
    return response


@pytest.fixture
def olga():
    """A new account: password set, no second factor yet, a mobile number
    from the population registry."""
    return CitizenFactory(with_account=True, consenting=True, first_name="Ольга")


def set_up_sms(client, sms_gateway, citizen):
    password_login(client, citizen)
    client.post(reverse("cabinet:otp-setup-sms"), {"send": "1"})
    return client.post(
        reverse("cabinet:otp-setup-sms"), {"token": codes_sent(sms_gateway)[-1]}
    )


@commits
def test_a_citizen_chooses_sms_at_set_up_and_logs_in_with_a_code(
    client, olga, sms_gateway
):
    password_login(client, olga)
    setup = client.get(reverse("cabinet:otp-setup")).content.decode()
    assert reverse("cabinet:otp-setup-sms") in setup

    client.post(reverse("cabinet:otp-setup-sms"), {"send": "1"})
    (code,) = codes_sent(sms_gateway)
    response = client.post(reverse("cabinet:otp-setup-sms"), {"token": code})

    assert "Резервные коды" in response.content.decode()
    device = SMSDevice.objects.get(user=olga.user)
    assert device.confirmed and device.phone == "+79161234567"
    olga.refresh_from_db()
    assert olga.phone_verified_at is not None
    assert client.get(reverse("cabinet:dashboard")).status_code == 200

    # The next login: password, then a code sent by SMS.
    browser = Client()
    password_login(browser, olga)
    assert browser.get(reverse("cabinet:dashboard")).status_code == 302
    page = browser.post(reverse("cabinet:otp-verify"), {"send_sms": "1"}, follow=True)
    assert "Код отправлен" in page.content.decode()
    login_code = codes_sent(sms_gateway)[-1]
    assert login_code != code
    response = browser.post(reverse("cabinet:otp-verify"), {"token": login_code})
    assert response.status_code == 302
    assert browser.get(reverse("cabinet:dashboard")).status_code == 200


@commits
def test_setting_up_sms_starts_a_new_session(client, olga, sms_gateway):
    password_login(client, olga)
    client.post(reverse("cabinet:otp-setup-sms"), {"send": "1"})
    before = client.cookies["sessionid"].value

    client.post(
        reverse("cabinet:otp-setup-sms"), {"token": codes_sent(sms_gateway)[-1]}
    )

    assert client.cookies["sessionid"].value != before
    assert client.get(reverse("cabinet:dashboard")).status_code == 200


@commits
def test_an_sms_login_code_is_good_only_in_the_session_it_was_sent_for(
    client, olga, sms_gateway
):
    set_up_sms(client, sms_gateway, olga)
    browser = Client()
    password_login(browser, olga)
    browser.post(reverse("cabinet:otp-verify"), {"send_sms": "1"})
    code = codes_sent(sms_gateway)[-1]

    stranger = Client()
    password_login(stranger, olga)
    stranger.post(reverse("cabinet:otp-verify"), {"token": code})
    assert stranger.get(reverse("cabinet:dashboard")).status_code == 302

    SMSDevice.objects.filter(user=olga.user).update(throttling_failure_count=0)
    browser.post(reverse("cabinet:otp-verify"), {"token": code})
    assert browser.get(reverse("cabinet:dashboard")).status_code == 200


@commits
def test_sms_login_codes_keep_the_phone_code_limits(client, olga, sms_gateway):
    set_up_sms(client, sms_gateway, olga)
    PhoneCode.objects.all().delete()  # the set-up code does not count here
    browser = Client()
    password_login(browser, olga)

    for _ in range(5):
        browser.post(reverse("cabinet:otp-verify"), {"send_sms": "1"})

    assert PhoneCode.objects.filter(phone="+79161234567").count() == 3
    page = browser.post(
        reverse("cabinet:otp-verify"), {"send_sms": "1"}, follow=True
    ).content.decode()
    assert "Слишком много кодов" in page


@commits
def test_a_wrong_sms_code_then_a_quick_retry_says_to_wait(client, olga, sms_gateway):
    set_up_sms(client, sms_gateway, olga)
    browser = Client()
    password_login(browser, olga)
    browser.post(reverse("cabinet:otp-verify"), {"send_sms": "1"})
    code = codes_sent(sms_gateway)[-1]
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    browser.post(reverse("cabinet:otp-verify"), {"token": wrong})
    page = browser.post(reverse("cabinet:otp-verify"), {"token": code})

    assert "Подождите" in page.content.decode()
    SMSDevice.objects.filter(user=olga.user).update(
        throttling_failure_timestamp=timezone.now() - timezone.timedelta(minutes=1)
    )
    response = browser.post(reverse("cabinet:otp-verify"), {"token": code})
    assert response.status_code == 302


@commits
def test_sms_needs_a_mobile_number(client, sms_gateway):
    citizen = CitizenFactory(with_account=True, phone="", phone_is_mobile=False)
    password_login(client, citizen)
    response = client.get(reverse("cabinet:otp-setup-sms"))
    assert response["Location"] == reverse("cabinet:otp-setup")
    assert not SMSDevice.objects.exists()
    assert Citizen.objects.get(pk=citizen.pk).phone_verified_at is None
