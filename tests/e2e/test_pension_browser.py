"""Signing the disability pension in a real Chromium: choose the bank
account (a wrong one is refused next to its field), read the SMS code at
the local gateway, type a wrong code, then the right one; the application
page shows the signature. With axe checks on every page."""

import re

import pytest
from django.utils import timezone

from events.services import evaluate_batch
from offers.models import Application, Offer
from tests.e2e.conftest import Steps
from tests.factories import CitizenFactory, second_factor_code
from tests.helpers import DISABILITY_HEADER, PASSWORD
from tests.test_disability_pension import ACCOUNT, BIK, disability

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_citizen_signs_the_pension_application_with_the_sms_code(
    live_server, browser, sms_gateway, write_csv, run_import
):
    ivan = CitizenFactory(
        with_account=True, consenting=True, male=True, phone_verified_at=timezone.now()
    )
    established = timezone.localdate().replace(day=1)
    record = disability("E1", ivan.snils, established_on=established.isoformat())
    summary = run_import(
        "disability", write_csv("fri.csv", DISABILITY_HEADER, [record])
    )
    evaluate_batch(summary["batch_id"])
    offer = Offer.objects.get(citizen=ivan, service__code="disability-pension")

    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    steps = Steps(page, "pension", check_accessibility=True)
    url = live_server.url
    backup_code = second_factor_code(ivan.user)  # the device exists first
    page.goto(f"{url}/login/")
    page.get_by_label("Логин или электронная почта").fill(ivan.user.username)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(re.compile(r".*/2fa/.*"))
    page.get_by_label("Код", exact=True).fill(backup_code)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{url}/")

    page.goto(f"{url}/offers/{offer.pk}/")
    assert "ФГИС ФРИ" in page.content()
    steps.shot("offer")
    page.get_by_label("На банковский счёт").check()
    page.get_by_label("БИК банка").fill(BIK)
    page.get_by_label("Номер счёта").fill(
        ACCOUNT[:-1] + "0" if ACCOUNT[-1] != "0" else ACCOUNT[:-1] + "1"
    )
    page.get_by_role("button", name="Получить код и подписать").click()
    assert "Номер счёта не сходится с БИК банка" in page.content()
    steps.shot("wrong-account")
    assert sms_gateway.state.messages == []

    page.get_by_label("Номер счёта").fill(ACCOUNT)
    page.get_by_role("button", name="Получить код и подписать").click()
    assert "оканчивается на 4567" in page.content()
    steps.shot("code-sent")
    code = re.findall(r"\d{6}", sms_gateway.state.messages[-1]["text"])[0]

    page.get_by_label("Код подтверждения").fill(
        "000000" if code != "000000" else "111111"
    )
    page.get_by_role("button", name="Подписать и подать заявление").click()
    assert "Код неверен. Проверьте его и введите снова" in page.content()
    steps.shot("wrong-code")

    page.get_by_label("Код подтверждения").fill(code)
    page.get_by_role("button", name="Подписать и подать заявление").click()
    application = Application.objects.get(offer=offer)
    page.wait_for_url(f"{url}/applications/{application.pk}/")
    assert "подписано простой электронной подписью" in page.content()
    assert application.signature.sha256 in page.content()
    assert "Chrome" in application.signature.user_agent
    steps.shot("signed")
    context.close()

    assert steps.violations == {}, steps.violations
