"""The payments pages in a real Chromium against a live server, with axe
checks on every page: the list, confirming receipt, bank details refused
and accepted, a statement downloaded and checked on the public page."""

import io
import json

import pytest
from django.core.management import call_command

from events.services import evaluate_batch
from offers.models import BankDetails, PaymentReceipt
from tests.e2e.conftest import Steps
from tests.factories import CitizenFactory, second_factor_code
from tests.helpers import PASSWORD, PAYMENTS_HEADER
from tests.test_payments import BIK, payment, personal_account

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_citizen_answers_payments_and_checks_a_statement(
    live_server, browser, write_csv
):
    nina = CitizenFactory(with_account=True, first_name="Нина", last_name="Морозова")
    path = write_csv(
        "payments.csv",
        PAYMENTS_HEADER,
        [
            payment("E2E-1", nina.snils, "awaiting_confirmation", payment_type="edv"),
            payment("E2E-2", nina.snils, "needs_clarification"),
            payment("E2E-3", nina.snils, "credited", payment_type="old_age_pension"),
        ],
    )
    out = io.StringIO()
    call_command("import_registry", "payments", str(path), "--json", stdout=out)
    evaluate_batch(json.loads(out.getvalue().splitlines()[-1])["batch_id"])

    context = browser.new_context(locale="ru-RU", accept_downloads=True)
    page = context.new_page()
    steps = Steps(page, "payments", check_accessibility=True)
    url = live_server.url

    code = second_factor_code(nina.user)  # her printed backup code
    page.goto(f"{url}/login/")
    page.get_by_label("Логин или электронная почта").fill(nina.user.username)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{url}/2fa/**")
    page.get_by_label("Код", exact=True).fill(code)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{url}/")

    page.get_by_role("link", name="Выплаты", exact=True).click()
    assert "ожидает подтверждения" in page.content()
    steps.shot("payments")

    page.get_by_role("link", name="Ежемесячная денежная выплата").click()
    steps.shot("payment-awaiting")
    page.get_by_role("button", name="Деньги получены").click()
    assert "Вы подтвердили получение выплаты" in page.content()
    assert PaymentReceipt.objects.filter(citizen=nina).count() == 1
    steps.shot("receipt-confirmed")

    page.goto(f"{url}/payments/")
    page.get_by_role("link", name="Единое пособие на детей").click()
    good = personal_account()
    page.get_by_label("БИК банка").fill(BIK)
    page.get_by_label("Номер счёта").fill(good[:-1] + str((int(good[-1]) + 1) % 10))
    page.get_by_role("button", name="Отправить реквизиты").click()
    assert "не сходится с БИК" in page.content()
    steps.shot("bank-details-refused")
    page.get_by_label("Номер счёта").fill(good)
    page.get_by_role("button", name="Отправить реквизиты").click()
    assert "Реквизиты получены" in page.content()
    assert BankDetails.objects.get(citizen=nina).account == good
    steps.shot("bank-details-accepted")

    page.goto(f"{url}/payments/")
    page.get_by_label("С", exact=True).fill("2026-01-01")
    page.get_by_label("По", exact=True).fill("2026-12-31")
    page.get_by_role("button", name="Получить справку").click()
    assert "Справка готова" in page.content()
    steps.shot("statement-issued")
    with page.expect_download() as download:
        page.get_by_role("link", name="Справка за 01.01.2026 — 31.12.2026").click()
    data = download.value.path().read_bytes()
    assert data.startswith(b"%PDF")

    document = nina.payment_statements.get().document
    page.goto(f"{url}/verify/")
    page.get_by_label("Код проверки").fill(document.verification_code_display)
    page.get_by_label(
        "Файл документа (PDF), если хотите проверить и его"
    ).set_input_files(download.value.path())
    page.get_by_role("button", name="Проверить", exact=True).click()
    assert "Документ подлинный" in page.content()
    steps.shot("statement-verified")

    context.close()
    assert steps.violations == {}, steps.violations
