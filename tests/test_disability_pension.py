"""The disability pension: offered from a ФГИС ФРИ record, signed with a
one-time code, paid to a checked account or by post, approved with the day
payments start; and the re-examination reminder before the term ends."""

import datetime
import io
import re
import zoneinfo

import pypdf
import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from events.services import evaluate_batch, run_daily_triggers
from notifications import inbound
from notifications.models import Notification
from notifications.services import dispatch_pending
from offers import services, signing
from offers.bank import control_sum_ok
from offers.models import Application, ApplicationSignature, Offer
from tests.factories import CitizenFactory
from tests.helpers import DISABILITY_HEADER, login

pytestmark = pytest.mark.django_db
MSK = zoneinfo.ZoneInfo("Europe/Moscow")
TODAY = datetime.datetime(2026, 12, 3, 10, 0, tzinfo=MSK)
BIK = "044525225"


def personal_account(stem="40817810038160925982") -> str:
    for key in "0123456789":
        account = stem[:8] + key + stem[9:]
        if control_sum_ok(BIK, account):
            return account
    raise AssertionError("no key fits")


ACCOUNT = personal_account()


def disability(record_id, snils, **overrides):
    row = {
        "record_id": record_id,
        "snils": snils,
        "group": "2",
        "established_on": "2026-10-15",
        "valid_until": "2027-11-01",
        "cause": "общее заболевание",
        "office": "Бюро МСЭ № 12 по г. Москве",
    }
    row.update(overrides)
    return [row[name] for name in DISABILITY_HEADER]


def import_disability(write_csv, run_import, rows, name="fri.csv"):
    summary = run_import("disability", write_csv(name, DISABILITY_HEADER, rows))
    assert summary["rejected"] == 0, summary
    evaluate_batch(summary["batch_id"])
    return summary


def pension_offer(write_csv, run_import, citizen, **overrides):
    import_disability(
        write_csv, run_import, [disability("F1", citizen.snils, **overrides)]
    )
    return Offer.objects.get(citizen=citizen, service__code="disability-pension")


@pytest.fixture(autouse=True)
def frozen(request):
    """Dates in these tests are fixed; a worker process keeps the real
    clock, so its test keeps it too."""
    if request.node.get_closest_marker("worker"):
        yield
        return
    with time_machine.travel(TODAY, tick=True):
        yield


@pytest.fixture
def ivan():
    return CitizenFactory(
        with_account=True,
        consenting=True,
        male=True,
        phone_verified_at=timezone.now(),
    )


def sign_url(offer):
    return reverse("cabinet:offer-sign", args=[offer.pk])


def bank_choice(**overrides):
    return {"method": "bank", "bik": BIK, "account": ACCOUNT, **overrides}


def last_code(sms_gateway) -> str:
    return re.findall(r"\d{6}", sms_gateway.state.messages[-1]["text"])[0]


def ask_code(client, offer, capture, **choice):
    with capture(execute=True):
        return client.post(sign_url(offer), {"send": "1", **(choice or bank_choice())})


def sign(client, offer, code, **choice):
    return client.post(
        sign_url(offer), {"sign": "1", "code": code, **(choice or bank_choice())}
    )


@pytest.mark.parametrize(
    ("group", "offered"), [("1", True), ("2", True), ("3", True), ("child", False)]
)
def test_a_fri_record_offers_the_pension_prefilled(
    write_csv, run_import, ivan, group, offered
):
    import_disability(
        write_csv, run_import, [disability("F1", ivan.snils, group=group)]
    )

    offers = Offer.objects.filter(citizen=ivan, service__code="disability-pension")
    assert offers.exists() is offered
    if offered:
        prefill = offers.get().prefill
        assert prefill["disability_group"] == group
        assert prefill["disability_established_on"] == "2026-10-15"
        assert prefill["disability_valid_until"] == "2027-11-01"
        assert prefill["disability_cause"] == "общее заболевание"
        assert prefill["disability_office"] == "Бюро МСЭ № 12 по г. Москве"
        assert prefill["applicant_snils"] == ivan.snils
        assert prefill["applicant_address"] == ivan.address


def test_a_wrong_account_is_shown_next_to_its_field_and_sends_no_code(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)
    wrong = ACCOUNT[:-1] + str((int(ACCOUNT[-1]) + 1) % 10)

    response = ask_code(
        client, offer, django_capture_on_commit_callbacks, **bank_choice(account=wrong)
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Номер счёта не сходится с БИК банка" in page
    assert 'id="id_account_error"' in page or "errorlist" in page
    assert sms_gateway.state.messages == []
    assert not Application.objects.exists()


def test_the_citizen_signs_with_the_sms_code_after_a_wrong_one(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)
    page = client.get(reverse("cabinet:offer-detail", args=[offer.pk])).content.decode()
    assert "Как получать пенсию" in page and "Бюро МСЭ № 12 по г. Москве" in page
    assert "Подтвердить и подать заявление" not in page

    response = ask_code(client, offer, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "оканчивается на 4567" in response.content.decode()
    [sms] = sms_gateway.state.messages
    assert sms["to"] == ivan.phone and "Код для подписи заявления" in sms["text"]
    code = last_code(sms_gateway)
    wrong = f"{(int(code) + 1) % 1000000:06d}"

    response = sign(client, offer, wrong)
    assert response.status_code == 400
    # The code sent still works: the person is told to type it again.
    assert "Код неверен. Проверьте его и введите снова (осталось попыток: 4)" in (
        response.content.decode()
    )
    assert not Application.objects.exists()

    response = sign(client, offer, code)
    application = Application.objects.get(offer=offer)
    assert response["Location"] == reverse(
        "cabinet:application-detail", args=[application.pk]
    )
    assert application.data["payment_method"] == "bank"
    assert application.data["bank_account"] == ACCOUNT
    assert application.data["disability_group"] == "2"
    signature = application.signature
    assert signature.method == "sms"
    assert signature.ip_address == "127.0.0.1"
    assert signing.check(signature)
    assert f'"bank_account":"{ACCOUNT}"' in signature.content

    page = client.get(
        reverse("cabinet:application-detail", args=[application.pk])
    ).content.decode()
    assert "подписано простой электронной подписью" in page
    assert signature.sha256 in page

    # The code is used up: it submits nothing twice.
    assert sign(client, offer, code).status_code == 302
    assert Application.objects.count() == 1


def test_the_signing_page_shows_dates_and_snils_as_people_write_them(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    """Regression: the summary before the code showed ISO dates
    (2026-10-15) and the SNILS as eleven bare digits."""
    from events.values import format_snils

    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)

    page = ask_code(client, offer, django_capture_on_commit_callbacks)

    text = page.content.decode()
    assert "15.10.2026" in text and "01.11.2027" in text
    assert "2026-10-15" not in text and "2027-11-01" not in text
    assert format_snils(ivan.snils) in text and ivan.snils not in text


def test_a_code_asked_for_one_account_does_not_sign_another(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)
    ask_code(client, offer, django_capture_on_commit_callbacks)
    other = personal_account("40817810100000000001")

    response = sign(client, offer, last_code(sms_gateway), **bank_choice(account=other))

    assert response.status_code == 400
    assert not Application.objects.exists()


def test_five_wrong_codes_kill_the_code(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)
    ask_code(client, offer, django_capture_on_commit_callbacks)
    code = last_code(sms_gateway)
    for _ in range(5):
        response = sign(client, offer, "000000" if code != "000000" else "111111")
    assert "попытки исчерпаны. Запросите новый код" in response.content.decode()

    response = sign(client, offer, code)
    assert response.status_code == 400
    assert "Запросите новый код" in response.content.decode()
    assert not Application.objects.exists()


def test_a_signing_code_expires_after_ten_minutes(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)
    ask_code(client, offer, django_capture_on_commit_callbacks)
    code = last_code(sms_gateway)

    with time_machine.travel(TODAY + datetime.timedelta(minutes=10, seconds=5)):
        response = sign(client, offer, code)

    assert response.status_code == 400
    assert "Код неверен или устарел" in response.content.decode()
    assert not Application.objects.exists()


def test_without_a_verified_phone_the_code_comes_from_the_authenticator(
    client, write_csv, run_import, sms_gateway, django_capture_on_commit_callbacks
):
    olga = CitizenFactory(with_account=True, consenting=True, phone_verified_at=None)
    device = TOTPDevice.objects.create(user=olga.user, name="app", confirmed=True)
    offer = pension_offer(write_csv, run_import, olga)
    login(client, olga)
    post = {"method": "post"}

    response = ask_code(client, offer, django_capture_on_commit_callbacks, **post)
    assert "Введите код из приложения-аутентификатора" in response.content.decode()
    assert sms_gateway.state.messages == []

    token = f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"
    response = sign(client, offer, token, **post)

    assert response.status_code == 302
    application = Application.objects.get(offer=offer)
    assert application.signature.method == "totp"
    assert application.data["payment_method"] == "post"
    assert application.data["post_address"] == olga.address


def test_altering_the_signed_content_fails_the_check(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)
    ask_code(client, offer, django_capture_on_commit_callbacks)
    sign(client, offer, last_code(sms_gateway))
    application = Application.objects.get()
    url = reverse("cabinet:application-detail", args=[application.pk])
    signature = application.signature
    original = signature.content

    altered = original.replace(ACCOUNT, personal_account("40817810100000000001"))
    ApplicationSignature.objects.filter(pk=signature.pk).update(content=altered)
    assert not signing.check(ApplicationSignature.objects.get(pk=signature.pk))
    assert "Подпись не сходится" in client.get(url).content.decode()

    # Recomputing the hash as well does not help: the seal is the server's.
    ApplicationSignature.objects.filter(pk=signature.pk).update(
        sha256=signing.content_hash(altered)
    )
    assert not signing.check(ApplicationSignature.objects.get(pk=signature.pk))

    # Nor does changing the application's data behind the signature.
    ApplicationSignature.objects.filter(pk=signature.pk).update(
        content=original, sha256=signing.content_hash(original)
    )
    assert signing.check(ApplicationSignature.objects.get(pk=signature.pk))
    Application.objects.filter(pk=application.pk).update(
        data={**application.data, "bank_account": "40817810000000000000"}
    )
    assert not signing.check(ApplicationSignature.objects.get(pk=signature.pk))


def test_another_citizens_offer_cannot_be_signed(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    stranger = CitizenFactory(with_account=True, consenting=True)
    login(client, stranger)

    response = ask_code(client, offer, django_capture_on_commit_callbacks)

    assert response.status_code == 404
    assert sms_gateway.state.messages == []


def test_the_signing_page_speaks_english(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)
    client.post(reverse("set_language"), {"language": "en"})

    offer_page = client.get(reverse("cabinet:offer-detail", args=[offer.pk]))
    sign_page = ask_code(client, offer, django_capture_on_commit_callbacks)

    assert "How to receive the pension" in offer_page.content.decode()
    assert "To a bank account" in offer_page.content.decode()
    page = sign_page.content.decode()
    assert "We sent a code by SMS to the number ending in 4567" in page
    assert "Sign and submit the application" in page


def test_a_seal_made_before_the_key_was_rotated_still_checks(
    write_csv, run_import, ivan, settings
):
    application = signed_application(ivan, write_csv, run_import)
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert signing.check(application.signature)

    settings.SECRET_KEY_FALLBACKS = []
    assert not signing.check(application.signature)


def test_the_offer_cannot_be_confirmed_without_a_signature(
    client, write_csv, run_import, ivan
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)

    client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))
    with pytest.raises(services.SignatureRequired):
        services.accept_offer(ivan, offer.pk)
    answer = inbound.handle_reply(ivan.phone, f"ДА {offer.short_code}")

    assert answer == inbound.SIGN_IN_CABINET
    assert not Application.objects.exists()


def signed_application(ivan, write_csv, run_import, **record):
    offer = pension_offer(write_csv, run_import, ivan, **record)
    return services.accept_offer(
        ivan,
        offer.pk,
        extra={"payment_method": "bank", "bank_bik": BIK, "bank_account": ACCOUNT},
        signature=signing.Evidence("sms", "127.0.0.1", "test"),
    )


def act(admin_client, application, action, **data):
    url = reverse("admin:offers_application_act", args=[application.pk, action])
    return admin_client.post(url, data, follow=True)


def test_the_start_date_defaults_to_the_day_disability_was_established(
    admin_client, write_csv, run_import, ivan
):
    application = signed_application(ivan, write_csv, run_import)
    url = reverse("admin:offers_application_act", args=[application.pk, "approve"])
    page = admin_client.get(url).content.decode()
    assert 'value="2026-10-15"' in page

    response = act(admin_client, application, "approve", payments_start_on="2026-10-15")

    assert "готово" in response.content.decode()
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert application.pension_award.payments_start_on == datetime.date(2026, 10, 15)


def test_the_start_date_is_never_more_than_twelve_months_back(
    admin_client, write_csv, run_import, ivan
):
    application = signed_application(
        ivan, write_csv, run_import, established_on="2024-05-20"
    )

    response = act(admin_client, application, "approve", payments_start_on="2024-05-20")
    assert "Выплаты не могут начаться раньше 03.12.2025" in response.content.decode()
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED

    # The bulk action, with no date to give, takes the default.
    admin_client.post(
        reverse("admin:offers_application_changelist"),
        {"action": "approve_selected", "_selected_action": [application.pk]},
    )
    application.refresh_from_db()
    assert application.pension_award.payments_start_on == datetime.date(2025, 12, 3)


def test_the_start_date_is_never_after_the_day_of_the_application(
    admin_client, write_csv, run_import, ivan
):
    application = signed_application(ivan, write_csv, run_import)
    day = timezone.localdate(application.submitted_at)

    response = act(
        admin_client,
        application,
        "approve",
        payments_start_on=(day + datetime.timedelta(days=1)).isoformat(),
    )

    assert (
        f"Выплаты не могут начаться позже дня подачи заявления, {day:%d.%m.%Y}"
        in response.content.decode()
    )
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    act(admin_client, application, "approve", payments_start_on=day.isoformat())
    application.refresh_from_db()
    assert application.pension_award.payments_start_on == day


def test_the_citizen_is_told_the_start_date_in_the_notice_and_the_timeline(
    admin_client, write_csv, run_import, ivan, sms_gateway
):
    application = signed_application(ivan, write_csv, run_import)
    act(admin_client, application, "approve", payments_start_on="2026-11-01", note="")
    dispatch_pending()

    notice = Notification.objects.get(
        application=application, kind="application_status", channel="cabinet"
    )
    assert "Пенсия назначена, выплаты — с 01.11.2026" in notice.body
    citizen_client = login(Client(), ivan)
    page = citizen_client.get(
        reverse("cabinet:application-detail", args=[application.pk])
    ).content.decode()
    assert "Пенсия назначена, выплаты с 01.11.2026" in page

    act(admin_client, application, "complete", kind="", note="")
    document = application.result_documents.get()
    assert document.kind == "pension_decision"
    text = "".join(
        page.extract_text()
        for page in pypdf.PdfReader(io.BytesIO(document.file.read())).pages
    )
    assert "Решение о назначении пенсии" in text
    assert "01.11.2026" in text and "На банковский счёт" in text
    assert services.verify_document(document.verification_code).genuine


def test_a_rejected_pension_application_tells_the_reason(
    admin_client, write_csv, run_import, ivan, sms_gateway
):
    application = signed_application(ivan, write_csv, run_import)

    act(admin_client, application, "reject", reason="Пенсия уже назначена")
    dispatch_pending()

    application.refresh_from_db()
    assert application.status == Application.Status.REJECTED
    assert not hasattr(application, "pension_award")
    notice = Notification.objects.get(
        application=application, kind="application_status", channel="cabinet"
    )
    assert "Причина: Пенсия уже назначена" in notice.body


def test_the_reexamination_is_reminded_once_before_the_term_ends(write_csv, run_import):
    """A CSV record names only the term's end: version 1 of the rule waited
    for a next-examination date that such records never carry."""
    anna = CitizenFactory(consenting=True)
    import_disability(
        write_csv,
        run_import,
        [
            disability(
                "F7", anna.snils, established_on="2026-03-01", valid_until="2027-02-01"
            )
        ],
    )
    reminders = Offer.objects.filter(rule__code="disability-reexamination-soon")

    with time_machine.travel(datetime.datetime(2026, 12, 31, 12, tzinfo=MSK)):
        run_daily_triggers()
    assert not reminders.exists()

    with time_machine.travel(datetime.datetime(2027, 1, 2, 9, tzinfo=MSK)):
        run_daily_triggers()
        run_daily_triggers()
    with time_machine.travel(datetime.datetime(2027, 1, 20, 9, tzinfo=MSK)):
        run_daily_triggers()
        from events.services import run_offer_lifecycle

        run_offer_lifecycle()

    offer = reminders.get()
    assert offer.citizen == anna
    notices = Notification.objects.filter(citizen=anna, offer=offer)
    assert sorted(notices.values_list("kind", "channel")) == [
        ("offer_created", "cabinet"),
        ("offer_created", "email"),
        ("offer_created", "sms"),
    ]


@pytest.fixture
def worker_env(sms_gateway):
    return {}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_from_the_register_to_the_start_date_through_the_worker(
    celery_worker, client, write_csv, sms_gateway, django_user_model
):
    """Import -> the worker offers -> the citizen signs (a wrong code, then
    the right one) -> an official approves with a start date -> the worker
    delivers the notice that names it."""
    from django.core.management import call_command

    from tests.conftest import wait_until
    from tests.helpers import PASSWORD, official_login

    ivan = CitizenFactory(
        with_account=True, consenting=True, male=True, phone_verified_at=timezone.now()
    )
    established = timezone.localdate() - datetime.timedelta(days=30)
    record = disability(
        "W1",
        ivan.snils,
        established_on=established.isoformat(),
        valid_until=(established + datetime.timedelta(days=365)).isoformat(),
    )
    path = write_csv("fri.csv", DISABILITY_HEADER, [record])
    call_command("import_registry", "disability", str(path), "--json")
    offer = wait_until(
        lambda: Offer.objects.filter(
            citizen=ivan, service__code="disability-pension"
        ).first(),
        seconds=90,
        what="the pension offer made by the worker",
    )
    wait_until(
        lambda: any(m["to"] == ivan.phone for m in sms_gateway.state.messages),
        seconds=90,
        what="the offer's SMS",
    )
    assert "Подпишите заявление в кабинете" in sms_gateway.state.messages[-1]["text"]

    login(client, ivan)
    client.post(sign_url(offer), {"send": "1", **bank_choice()})
    code = wait_until(
        lambda: [
            m for m in sms_gateway.state.messages if "Код для подписи" in m["text"]
        ],
        seconds=90,
        what="the signing code",
    )[-1]["text"]
    code = re.findall(r"\d{6}", code)[0]
    assert sign(client, offer, f"{(int(code) + 1) % 1000000:06d}").status_code == 400
    assert sign(client, offer, code).status_code == 302
    application = Application.objects.get(offer=offer)
    assert signing.check(application.signature)

    official = django_user_model.objects.create_superuser(
        "pension-official", "official@example.org", PASSWORD
    )
    admin = official_login(Client(), official)
    act(admin, application, "approve", payments_start_on=established, note="")

    notice = wait_until(
        lambda: Notification.objects.filter(
            application=application,
            kind="application_status",
            channel="cabinet",
            status="sent",
        ).first(),
        seconds=90,
        what="the approval notice delivered by the worker",
    )
    assert f"выплаты — с {established:%d.%m.%Y}" in notice.body
    wait_until(
        lambda: any(
            application.number in m["text"] and "одобрено" in m["text"]
            for m in sms_gateway.state.messages
        ),
        seconds=90,
        what="the approval SMS",
    )


def test_the_signing_page_names_the_service_in_english(
    client, write_csv, run_import, ivan, sms_gateway, django_capture_on_commit_callbacks
):
    offer = pension_offer(write_csv, run_import, ivan)
    login(client, ivan)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})

    page = ask_code(client, offer, django_capture_on_commit_callbacks).content.decode()

    assert "<p>Disability pension</p>" in page
