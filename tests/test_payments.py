"""Social payment notices: from the payments registry to the citizen, what
the citizen answers in the cabinet (receipt, bank details), what officials
see in admin, and statements of payments as verifiable PDFs."""

import datetime
import hashlib
import io

import pypdf
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events.models import LifeEvent
from events.services import evaluate_batch
from notifications import services as notification_services
from notifications.models import DeliveryProfile, Notification
from offers.bank import control_sum_ok
from offers.models import BankDetails, PaymentReceipt, PaymentStatement, PaymentType
from tests.factories import CitizenFactory
from tests.helpers import PAYMENTS_HEADER, login

pytestmark = pytest.mark.django_db

BIK = "044525225"
# A day of the Moscow working day: notices are not held by quiet hours.
NOON = datetime.datetime(2026, 12, 10, 9, 0, tzinfo=datetime.UTC)


def personal_account(bik: str = BIK, stem: str = "40817810038160925982") -> str:
    """``stem`` with the control key (its ninth digit) that fits ``bik``."""
    for key in "0123456789":
        account = stem[:8] + key + stem[9:]
        if control_sum_ok(bik, account):
            return account
    raise AssertionError("no key fits")


def payment(record_id, snils, status="credited", **overrides):
    row = {
        "record_id": record_id,
        "snils": snils,
        "payment_type": "child_benefit",
        "amount": "12 345,67",
        "scheduled_on": "2026-12-05",
        "status": status,
    }
    row.update(overrides)
    return [row[name] for name in PAYMENTS_HEADER]


@pytest.fixture
def import_payments(write_csv, run_import):
    """Import payment rows as an operator does and evaluate the batch as
    the worker would; returns the summary."""
    files = iter(range(1, 100))

    def run(rows):
        path = write_csv(f"payments-{next(files)}.csv", PAYMENTS_HEADER, rows)
        summary = run_import("payments", path)
        evaluate_batch(summary["batch_id"])
        return summary

    return run


@pytest.fixture
def vera():
    # No consent to proactive processing: payment notices do not need it.
    return CitizenFactory(
        with_account=True,
        first_name="Вера",
        last_name="Орлова",
        email="vera@example.org",
    )


def notices(citizen, channel="cabinet"):
    return Notification.objects.filter(
        citizen=citizen, kind="payment_notice", channel=channel
    ).order_by("id")


def delivered_text(citizen, channel="cabinet") -> list[str]:
    return [n.body for n in notices(citizen, channel)]


def event_of(record_id) -> LifeEvent:
    return LifeEvent.objects.get(source="payments", record_id=record_id)


# Notices -------------------------------------------------------------------


@pytest.mark.worker
class TestThroughTheWorker:
    @pytest.fixture
    def worker_env(self, sms_gateway, smtp_server):
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_server.port),
        }

    def test_an_import_reaches_the_citizen_as_notices_and_a_correction_once_more(
        self, celery_worker, write_csv, sms_gateway, smtp_server, run_import
    ):
        from tests.conftest import wait_until

        vera = CitizenFactory(first_name="Вера", email="vera@example.org")
        # The worker runs now, whatever the hour: no quiet hours for Vera.
        DeliveryProfile.objects.create(citizen=vera, quiet_hours=False)
        today = timezone.localdate()

        def settled():
            return not Notification.objects.filter(
                status__in=["pending", "sending"]
            ).exists()

        path = write_csv(
            "p1.csv",
            PAYMENTS_HEADER,
            [
                payment(
                    "PAY-1",
                    vera.snils,
                    "awaiting_confirmation",
                    scheduled_on=today.isoformat(),
                )
            ],
        )
        run_import("payments", path)
        wait_until(lambda: notices(vera).count() == 1 and settled(), what="notices")

        [cabinet] = delivered_text(vera)
        assert "Единое пособие на детей" in cabinet
        assert "12\u00a0345,67 ₽" in cabinet
        assert today.strftime("%d.%m.%Y") in cabinet
        assert "Подтвердите" in cabinet
        assert [m["text"] for m in sms_gateway.state.messages] == [
            "Вера, подтвердите получение выплаты в личном кабинете"
        ]
        assert sms_gateway.state.messages[0]["parts"] == 1
        assert smtp_server.messages[0]["to"] == ["vera@example.org"]

        # The registry corrects the record: the new status is told once.
        path = write_csv(
            "p2.csv",
            PAYMENTS_HEADER,
            [payment("PAY-1", vera.snils, "credited", scheduled_on=today.isoformat())],
        )
        run_import("payments", path)
        wait_until(lambda: notices(vera).count() == 2 and settled(), what="a notice")
        assert "зачислена" in delivered_text(vera)[1]
        assert len(sms_gateway.state.messages) == 2
        assert sms_gateway.state.messages[1]["text"] == (
            "Вера, выплата зачислена. Подробнее в личном кабинете"
        )

        # The same content again (another file) is a duplicate: no notice.
        path = write_csv(
            "p3.csv",
            PAYMENTS_HEADER,
            [
                payment(
                    "PAY-1", vera.snils, "credited", scheduled_on=today.isoformat()
                ),
                payment("PAY-2", "", "credited"),  # rejected: no SNILS
            ],
        )
        summary = run_import("payments", path)
        assert (summary["duplicates"], summary["rejected"]) == (1, 1)
        assert notices(vera).count() == 2
        assert Notification.objects.filter(kind="payment_notice").count() == 2 * 3


def test_each_status_reads_as_the_citizen_would_say_it(
    import_payments, vera, sms_gateway
):
    statuses = [
        (
            "scheduled",
            "Вам назначена выплата «Единое пособие на детей»: 12\u00a0345,67 ₽",
        ),
        ("credited", "зачислена 05.12.2026"),
        ("awaiting_confirmation", "Подтвердите в личном кабинете, что деньги получены"),
        (
            "needs_clarification",
            "требует уточнения: укажите в личном кабинете реквизиты",
        ),
        ("returned", "возвращена: банк не смог зачислить деньги"),
    ]
    with time_machine.travel(NOON, tick=False):
        import_payments(
            [
                payment(f"S{n}", vera.snils, status)
                for n, (status, _) in enumerate(statuses)
            ]
        )
        notification_services.dispatch_pending()

    texts = delivered_text(vera)
    sms = delivered_text(vera, "sms")
    assert len(texts) == len(sms) == 5
    for (status, phrase), text in zip(statuses, texts):
        assert phrase in text, (status, text)
    for text in sms:
        assert text.startswith("Вера, ") and "12" not in text  # no amount by SMS
        assert len(text) <= 70, text
    email = notices(vera, "email").first()
    assert email.subject == "Выплата «Единое пособие на детей»: назначена"


def test_a_citizens_notices_keep_the_registrys_order_whatever_the_storage_order(
    write_csv, run_import, vera, sms_gateway
):
    statuses = ["scheduled", "credited", "returned"]
    rows = [payment(f"O{n}", vera.snils, status) for n, status in enumerate(statuses)]
    with time_machine.travel(NOON, tick=False):
        summary = run_import("payments", write_csv("order.csv", PAYMENTS_HEADER, rows))
        # Rewriting a row puts its new version after the others on disk,
        # as a linked or corrected record's does in a busy table, and a
        # sequential scan (a big batch's plan) reads the table in that order.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE events_lifeevent SET data = data WHERE source = 'payments'"
                " AND record_id = 'O0'"
            )
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        evaluate_batch(summary["batch_id"])
        notification_services.dispatch_pending()

    texts = delivered_text(vera)
    phrases = ["назначена", "зачислена", "возвращена"]
    assert [phrase in text for phrase, text in zip(phrases, texts)] == [True] * 3, texts


def test_notices_follow_the_citizens_channel_choices(
    import_payments, vera, sms_gateway
):
    DeliveryProfile.objects.create(citizen=vera, disabled={"payments": ["sms"]})

    with time_machine.travel(NOON, tick=False):
        import_payments([payment("P1", vera.snils)])
        notification_services.dispatch_pending()

    assert notices(vera, "sms").get().status == "skipped"
    assert notices(vera, "email").get().status == "sent"
    assert notices(vera, "cabinet").get().status == "sent"


def test_no_notice_for_the_deceased_for_old_payments_or_unknown_people(
    import_payments, vera
):
    deceased = CitizenFactory(death_date=datetime.date(2026, 11, 1))
    with time_machine.travel(NOON, tick=False):
        import_payments(
            [
                payment("D1", deceased.snils),
                payment("OLD", vera.snils, scheduled_on="2026-09-01"),
                payment("NEW", vera.snils),
                payment("NOBODY", "112-233-445 95"),
            ]
        )
    assert not Notification.objects.filter(citizen=deceased).exists()
    assert [n.object_key for n in notices(vera)] == [
        f"payment:{event_of('NEW').pk}:credited"
    ]


def test_a_person_the_population_registry_brings_later_is_told_then(
    import_payments, write_csv, run_import, vera
):
    from tests.helpers import POPULATION_HEADER, person

    snils = "11223344595"
    with time_machine.travel(NOON, tick=False):
        import_payments([payment("LATE", snils)])
        assert not Notification.objects.filter(kind="payment_notice").exists()

        summary = run_import(
            "population",
            write_csv("pop.csv", POPULATION_HEADER, [person("POP1", snils)]),
        )
        evaluate_batch(summary["batch_id"])

    assert Notification.objects.filter(
        kind="payment_notice", object_key=f"payment:{event_of('LATE').pk}:credited"
    ).exists()


def test_an_official_names_a_payment_code_in_admin(admin_client, import_payments, vera):
    with time_machine.travel(NOON, tick=False):
        import_payments([payment("X1", vera.snils, payment_type="lmsz-7731")])
    client = login(Client(), vera)
    assert "lmsz-7731" in client.get(reverse("cabinet:payments")).content.decode()

    response = admin_client.post(
        reverse("admin:offers_paymenttype_add"),
        {"code": "lmsz-7731", "title": "Региональная доплата", "agency": ""},
    )
    assert response.status_code == 302
    page = client.get(reverse("cabinet:payments")).content.decode()
    assert "Региональная доплата" in page and "lmsz-7731" not in page


# The cabinet ---------------------------------------------------------------


@pytest.fixture
def signed_in(vera):
    return login(Client(), vera)


def test_the_payments_page_lists_statuses_and_the_dashboard_links_there(
    import_payments, signed_in, vera
):
    today = timezone.localdate()
    import_payments(
        [
            payment("A", vera.snils, "credited", scheduled_on="2026-11-05"),
            payment("B", vera.snils, "awaiting_confirmation"),
            payment("C", vera.snils, "needs_clarification", payment_type="pension"),
            payment(
                "D",
                vera.snils,
                "scheduled",
                scheduled_on=(today + datetime.timedelta(days=3)).isoformat(),
            ),
        ]
    )

    page = signed_in.get(reverse("cabinet:payments")).content.decode()
    for label in (
        "зачислена",
        "ожидает подтверждения",
        "требует уточнения",
        "назначена",
    ):
        assert label in page
    assert "Подтвердите получение" in page and "Укажите реквизиты" in page
    assert "12\u00a0345,67" in page and "Пенсия" in page

    dashboard = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert reverse("cabinet:payments") in dashboard
    assert reverse("cabinet:payment-detail", args=[event_of("D").pk]) in dashboard
    assert "Единое пособие на детей" in dashboard


def test_another_citizens_payment_is_not_found(import_payments, signed_in):
    other = CitizenFactory()
    import_payments([payment("THEIRS", other.snils, "needs_clarification")])
    pk = event_of("THEIRS").pk

    assert (
        signed_in.get(reverse("cabinet:payment-detail", args=[pk])).status_code == 404
    )
    assert (
        signed_in.post(reverse("cabinet:payment-confirm", args=[pk])).status_code == 404
    )
    response = signed_in.post(
        reverse("cabinet:payment-bank-details", args=[pk]),
        {"bik": BIK, "account": personal_account()},
    )
    assert response.status_code == 404
    assert not BankDetails.objects.exists()


def test_every_payment_form_needs_the_csrf_token(import_payments, vera):
    import_payments([payment("P", vera.snils, "awaiting_confirmation")])
    client = login(Client(), vera)
    client.handler.enforce_csrf_checks = True  # as a browser from elsewhere
    pk = event_of("P").pk

    for url, data in (
        (reverse("cabinet:payment-confirm", args=[pk]), {}),
        (reverse("cabinet:payment-bank-details", args=[pk]), {"bik": BIK}),
        (reverse("cabinet:statement-request"), {"date_from": "2026-01-01"}),
    ):
        assert client.post(url, data).status_code == 403
    assert not PaymentReceipt.objects.exists()


def test_the_citizen_confirms_receipt_once_and_the_agency_sees_it(
    import_payments, signed_in, vera, admin_client
):
    import_payments([payment("P", vera.snils, "awaiting_confirmation")])
    url = reverse("cabinet:payment-detail", args=[event_of("P").pk])
    assert "Деньги получены" in signed_in.get(url).content.decode()

    before = timezone.now()
    response = signed_in.post(
        reverse("cabinet:payment-confirm", args=[event_of("P").pk])
    )
    assert response.status_code == 302
    receipt = PaymentReceipt.objects.get()
    assert before <= receipt.confirmed_at <= timezone.now()
    assert (receipt.citizen, str(receipt.amount)) == (vera, "12345.67")
    page = signed_in.get(url).content.decode()
    when = timezone.localtime(receipt.confirmed_at).strftime("%d.%m.%Y %H:%M")
    assert f"Вы подтвердили получение выплаты {when}" in page
    assert "Деньги получены" not in page

    signed_in.post(reverse("cabinet:payment-confirm", args=[event_of("P").pk]))
    assert PaymentReceipt.objects.count() == 1

    listing = admin_client.get(reverse("admin:offers_paymentreceipt_changelist"))
    assert "Орлова Вера" in listing.content.decode()
    assert "Единое пособие на детей" in listing.content.decode()


def test_a_payment_not_awaiting_confirmation_cannot_be_confirmed(
    import_payments, signed_in, vera
):
    import_payments([payment("P", vera.snils, "scheduled")])
    response = signed_in.post(
        reverse("cabinet:payment-confirm", args=[event_of("P").pk]), follow=True
    )
    assert "не ждёт подтверждения" in response.content.decode()
    assert not PaymentReceipt.objects.exists()


def test_bank_details_with_a_wrong_key_are_refused_and_nothing_is_stored(
    import_payments, signed_in, vera
):
    import_payments([payment("P", vera.snils, "needs_clarification")])
    good = personal_account()
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)

    response = signed_in.post(
        reverse("cabinet:payment-bank-details", args=[event_of("P").pk]),
        {"bik": BIK, "account": wrong},
    )
    assert response.status_code == 400
    assert "не сходится с БИК" in response.content.decode()
    response = signed_in.post(
        reverse("cabinet:payment-bank-details", args=[event_of("P").pk]),
        {"bik": "12345", "account": good},
    )
    assert "БИК — 9 цифр" in response.content.decode()
    assert not BankDetails.objects.exists()
    assert not Notification.objects.filter(
        object_key__startswith="bank_details"
    ).exists()


def test_good_bank_details_are_kept_with_their_history_and_the_citizen_is_told(
    import_payments, signed_in, vera, admin_client, sms_gateway
):
    import_payments([payment("P", vera.snils, "returned")])
    event = event_of("P")
    first = personal_account()
    second = personal_account(stem="40817810500000012345")

    # The second account twice (a double click): one row, one notice.
    spaced = " ".join(second[i : i + 5] for i in range(0, 20, 5))
    for account in (first, spaced, second):
        response = signed_in.post(
            reverse("cabinet:payment-bank-details", args=[event.pk]),
            {"bik": BIK, "account": account},
        )
        assert response.status_code == 302

    assert list(
        BankDetails.objects.order_by("id").values_list("account", "payment_status")
    ) == [(first, "returned"), (second, "returned")]
    with time_machine.travel(NOON, tick=False):
        notification_services.dispatch_pending()
    told = Notification.objects.filter(
        citizen=vera, channel="cabinet", object_key__startswith="bank_details:"
    )
    assert told.count() == 2
    assert f"счёт, оканчивающийся на {second[-4:]}" in told.order_by("id").last().body
    sms = Notification.objects.filter(
        citizen=vera, channel="sms", object_key__startswith="bank_details:"
    ).first()
    assert sms.body == "Вера, реквизиты получены. Подробнее в личном кабинете"
    assert second[-4:] not in sms.body
    page = signed_in.get(reverse("cabinet:payment-detail", args=[event.pk]))
    assert "ведомство их проверяет" in page.content.decode()
    assert "заменены более поздними" in page.content.decode()

    latest = BankDetails.objects.latest("id")
    detail = admin_client.get(
        reverse("admin:offers_bankdetails_change", args=[latest.pk])
    ).content.decode()
    assert first in detail and second in detail and "(в силе)" in detail
    admin_client.post(
        reverse("admin:offers_bankdetails_changelist"),
        {"action": "mark_processed", "_selected_action": [latest.pk]},
    )
    latest.refresh_from_db()
    assert latest.processed_at is not None and latest.processed_by.username == "admin"


def test_bank_details_are_not_taken_for_a_payment_that_needs_none(
    import_payments, signed_in, vera
):
    import_payments([payment("P", vera.snils, "credited")])
    response = signed_in.post(
        reverse("cabinet:payment-bank-details", args=[event_of("P").pk]),
        {"bik": BIK, "account": personal_account()},
        follow=True,
    )
    assert "реквизиты не нужны" in response.content.decode()
    assert not BankDetails.objects.exists()


# Statements ----------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def verify(code, upload=None) -> str:
    data = {"code": code}
    if upload is not None:
        data["file"] = SimpleUploadedFile("statement.pdf", upload, "application/pdf")
    return Client().post(reverse("offers:verify"), data).content.decode()


@pytest.fixture
def statement_pdf(import_payments, signed_in, vera):
    import_payments(
        [
            payment("IN1", vera.snils, "credited", scheduled_on="2026-03-05"),
            payment(
                "IN2", vera.snils, "returned", scheduled_on="2026-04-05", amount="100"
            ),
            payment(
                "OUT",
                vera.snils,
                "credited",
                scheduled_on="2025-12-05",
                payment_type="pension",
            ),
        ]
    )
    response = signed_in.post(
        reverse("cabinet:statement-request"),
        {"date_from": "2026-01-01", "date_to": "2026-06-30"},
    )
    assert response.status_code == 302
    statement = PaymentStatement.objects.get()
    download = signed_in.get(reverse("cabinet:statement-download", args=[statement.pk]))
    assert download["Content-Type"] == "application/pdf"
    return statement, b"".join(download.streaming_content)


def test_a_statement_lists_the_periods_payments_and_verifies(statement_pdf, vera):
    statement, data = statement_pdf
    document = statement.document

    assert hashlib.sha256(data).hexdigest() == document.sha256
    text = pdf_text(data).replace("\u00a0", " ")
    assert "Справка о выплатах" in text and "Орлова Вера" in text
    assert "01.01.2026 — 30.06.2026" in text
    assert "05.03.2026" in text and "05.04.2026" in text and "05.12.2025" not in text
    assert "Пенсия" not in text
    assert "Всего зачислено за период: 12 345,67 руб." in text
    assert document.verification_code_display in text
    assert statement.payments == 2

    page = verify(document.verification_code_display, data)
    assert "Документ подлинный" in page
    assert "справка о выплатах" in page.lower()
    for personal in (vera.last_name, vera.snils, "12 345"):
        assert personal not in page


def test_an_altered_statement_does_not_verify(statement_pdf):
    statement, data = statement_pdf
    middle = len(data) // 2
    altered = data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]

    page = verify(statement.document.verification_code, altered)
    assert "Файл не совпадает с выданным документом" in page
    assert "Документ подлинный" not in page


def test_a_statement_is_listed_and_only_its_owner_downloads_it(statement_pdf, vera):
    statement, _data = statement_pdf
    url = reverse("cabinet:statement-download", args=[statement.pk])
    owner = login(Client(), vera)
    assert url in owner.get(reverse("cabinet:payments")).content.decode()

    other = login(Client(), CitizenFactory(with_account=True))
    assert other.get(url).status_code == 404


def test_a_long_statement_runs_over_pages_with_the_code_on_each(
    import_payments, signed_in, vera
):
    start = datetime.date(2026, 1, 1)
    import_payments(
        [
            payment(
                f"M{n}",
                vera.snils,
                scheduled_on=(start + datetime.timedelta(days=n)).isoformat(),
            )
            for n in range(60)
        ]
    )
    signed_in.post(
        reverse("cabinet:statement-request"),
        {"date_from": "2026-01-01", "date_to": "2026-12-31"},
    )
    document = PaymentStatement.objects.get().document
    with document.file.open("rb") as handle:
        reader = pypdf.PdfReader(handle)
        pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    assert all(document.verification_code_display in page for page in pages)
    assert "01.01.2026" in pages[0] and "01.03.2026" in pages[-1]
    assert "Всего зачислено за период" in pages[-1]


def test_a_period_ending_before_it_starts_is_refused(signed_in):
    response = signed_in.post(
        reverse("cabinet:statement-request"),
        {"date_from": "2026-06-30", "date_to": "2026-01-01"},
    )
    assert response.status_code == 400
    assert "Конец периода раньше его начала" in response.content.decode()
    assert not PaymentStatement.objects.exists()


def test_payment_names_come_from_the_table_officials_keep():
    assert PaymentType.objects.get(code="child_benefit").title == (
        "Единое пособие на детей"
    )


@pytest.fixture
def russian_after():
    """The test client's requests activate their language in this thread;
    later tests render notices here and must get Russian back."""
    from django.utils import translation

    yield
    translation.activate("ru")


def test_the_payments_pages_speak_english_too(
    import_payments, signed_in, vera, russian_after
):
    import_payments([payment("P", vera.snils, "needs_clarification")])
    signed_in.post(reverse("set_language"), {"language": "en"})

    listing = signed_in.get(reverse("cabinet:payments")).content.decode()
    assert "Your payments" in listing and "needs clarification" in listing
    assert "Statement of payments" in listing and "Tax notices" in listing
    detail = signed_in.get(reverse("cabinet:payment-detail", args=[event_of("P").pk]))
    assert "Give your bank account details" in detail.content.decode()
    assert "Выплаты" not in listing


def test_the_readmes_demo_accounts_behave_as_it_says():
    """The demo story gives a refused and an accepted account: keep it true."""
    from pathlib import Path

    from django.core.exceptions import ValidationError

    from offers.bank import clean_account

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "`40817810038160925982` is\n   refused" in readme
    assert "`40817810938160925982` is\n   accepted" in readme
    with pytest.raises(ValidationError):
        clean_account(BIK, "40817810038160925982")
    assert clean_account(BIK, "40817810938160925982") == "40817810938160925982"
