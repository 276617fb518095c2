"""The whole citizen journey in a real Chromium against a live server:
register, confirm email, set up TOTP, give consent, see an offer, confirm
it, see the application, revoke consent. Once with JavaScript, once with
JavaScript disabled; axe checks every page of both, and each step leaves a
screenshot under test-artifacts/e2e/{js,no-js}/."""

import base64
import re

import pytest
from django_otp.oath import totp

from cabinet.models import Citizen
from consents.models import Consent
from offers.models import Application, Offer
from tests.e2e.conftest import Steps
from tests.factories import CitizenFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "Rjabina-u-okna-2026"


def current_code(secret: str) -> str:
    key = base64.b32decode(secret)
    return f"{totp(key, step=30, t0=0, digits=6):06d}"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_citizen_goes_from_registration_to_an_application_and_back(
    live_server, smtp_server, offer_for, javascript, browser
):
    citizen = CitizenFactory(first_name="Вера", email="", phone="")
    email = f"vera-{'js' if javascript else 'nojs'}@example.org"
    context = browser.new_context(java_script_enabled=javascript, locale="ru-RU")
    page = context.new_page()
    # Both passes are checked by axe; the no-JS pass through an auditor page.
    auditor = None if javascript else browser.new_context().new_page()
    steps = Steps(page, "js" if javascript else "no-js", auditor=auditor)
    url = live_server.url

    # Registration, matched against the population registry.
    page.goto(f"{url}/register/")
    steps.shot("register")
    page.get_by_label("СНИЛС").fill(citizen.snils)
    page.get_by_label("Серия паспорта").fill(citizen.passport_series)
    page.get_by_label("Номер паспорта").fill(citizen.passport_number)
    page.get_by_label("Дата рождения").fill(citizen.birth_date.strftime("%d.%m.%Y"))
    page.get_by_label("Электронная почта").fill(email)
    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    page.get_by_label("Пароль ещё раз").fill(PASSWORD)
    page.get_by_role("button", name="Зарегистрироваться").click()
    page.wait_for_url(f"{url}/register/sent/")
    steps.shot("check-email")

    # The link arrives by SMTP.
    message = smtp_server.wait_for(1)
    body = message.get_payload(decode=True).decode()
    link = re.search(r"http://\S+/register/confirm/\S+/", body)[0]
    page.goto(link.replace("http://testserver", url))
    page.wait_for_url(re.compile(r".*/login/.*"))
    steps.shot("email-confirmed")

    # Password, then the second factor is set up before anything else.
    page.get_by_label("Логин или электронная почта").fill(email)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{url}/2fa/setup/")
    steps.shot("totp-setup")
    secret = page.locator("#otp-secret").inner_text().strip()
    page.get_by_label("Код", exact=True).fill(current_code(secret))
    page.get_by_role("button", name="Подтвердить").click()
    assert page.locator("#backup-codes li").count() == 10
    steps.shot("backup-codes")
    page.get_by_role("link", name="Перейти в кабинет").click()

    # Consent, shown in full, for the default year.
    assert "Проактивные услуги выключены" in page.content()
    steps.shot("dashboard-without-consent")
    page.get_by_role("link", name="Прочитать и дать согласие").click()
    assert "редакция 2026-1" in page.content()
    assert page.get_by_label("1 год").is_checked()
    page.get_by_label("Я прочитал(а) текст согласия и даю его").check()
    steps.shot("consent-form")
    page.get_by_role("button", name="Дать согласие").click()
    consent = Consent.objects.get(citizen=citizen)
    assert consent.ip_address == "127.0.0.1" and "Chrome" in consent.user_agent
    steps.shot("consent-given")

    # A birth arrives from the registry; the offer appears.
    citizen.refresh_from_db()
    offer = offer_for(citizen, "B-E2E")
    assert offer is not None
    page.goto(f"{url}/")
    steps.shot("dashboard-with-offer")
    page.get_by_role("link", name="Материнский (семейный) капитал").click()
    assert "Реестр населения" in page.content()
    steps.shot("offer")
    # A field cleared is refused at the field, which keeps what was typed
    # and names the registry's value.
    page.get_by_label("Адрес регистрации").fill("")
    page.get_by_role("button", name="Подтвердить и подать заявление").click()
    page.wait_for_load_state()
    address = page.get_by_label("Адрес регистрации")
    assert address.get_attribute("aria-invalid") == "true"
    assert address.input_value() == ""
    error = page.locator("#correct_applicant_address_error").inner_text()
    assert citizen.address in error
    assert not Application.objects.filter(offer=offer).exists()
    steps.shot("offer-correction-refused")
    page.get_by_label("Адрес регистрации").fill("г. Тверь, ул. Новая, д. 3")
    page.get_by_role("button", name="Подтвердить и подать заявление").click()

    application = Application.objects.get(offer=offer)
    page.wait_for_url(f"{url}/applications/{application.pk}/")
    assert application.number in page.content()
    assert application.data["applicant_address"] == "г. Тверь, ул. Новая, д. 3"
    steps.shot("application")

    for path in [
        "/applications/",
        "/notifications/",
        "/settings/",
        "/profile/",
        "/activity/",
    ]:
        page.goto(f"{url}{path}")
        steps.shot(path.strip("/"))

    # Revocation in one step, with the page saying exactly what happens.
    second = offer_for(
        citizen, "B-E2E-2", act_number="", act_date="", service="birth-registration"
    )
    page.goto(f"{url}/consent/")
    steps.shot("consent-active")
    page.get_by_role("button", name="Отозвать согласие").click()
    result = page.locator("#revoke-result").inner_text()
    assert "больше не готовит" in result and "до конца" in result
    steps.shot("consent-revoked")
    second.refresh_from_db()
    assert second.status == Offer.Status.WITHDRAWN
    assert Application.objects.get(pk=application.pk).status == "submitted"

    # The English version, through the language switch.
    page.get_by_role("button", name="English").click()
    assert "Consent" in page.content()
    steps.shot("english")

    page.get_by_role("button", name="Sign out").first.click()
    page.goto(f"{url}/")
    assert "/login/" in page.url
    context.close()

    assert Citizen.objects.get(pk=citizen.pk).user.email == email
    assert steps.violations == {}, steps.violations
