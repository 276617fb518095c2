"""Consent, settings, profile, activity, export and documents, through the
HTTP interface; and the security rules every page keeps."""

import datetime
import io
import json
import logging

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django.utils import timezone

from cabinet.models import ErrorReport
from consents.models import Consent
from consents.services import give_consent, remind_expiring_consents
from events.models import LifeEvent
from notifications.models import Notification
from offers import services as offer_services
from offers.models import Application, Document, Offer, Service, ServiceOptOut
from tests.factories import CitizenFactory, UserFactory, second_factor_code
from tests.helpers import (
    PASSWORD,
    POPULATION_HEADER,
    login,
    official_login,
    person,
    turn_back,
)

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def anna():
    return CitizenFactory(with_account=True, consenting=True, first_name="Анна")


@pytest.fixture
def signed_in(client, anna):
    return login(client, anna)


def upload(client, offer, name, content, title="Свидетельство"):
    file = io.BytesIO(content)
    file.name = name
    return client.post(
        reverse("cabinet:document-upload", args=[offer.pk]),
        {"title": title, "file": file},
    )


# Consent --------------------------------------------------------------------


def test_giving_consent_records_the_period_address_and_browser(client):
    citizen = CitizenFactory(with_account=True)
    login(client, citizen)
    page = client.get(reverse("cabinet:consent")).content.decode()
    assert "редакция 2026-1" in page and "отозвать его в любой момент" in page

    client.post(
        reverse("cabinet:consent"),
        {"validity_days": "91", "agree": "on"},
        HTTP_USER_AGENT="TestBrowser/1.0",
        REMOTE_ADDR="192.0.2.10",
    )

    consent = Consent.objects.get(citizen=citizen)
    assert (consent.valid_until - consent.given_at).days == 91
    assert (
        consent.ip_address == "192.0.2.10" and consent.user_agent == "TestBrowser/1.0"
    )


def test_consent_without_ticking_agreement_is_not_given(client):
    citizen = CitizenFactory(with_account=True)
    login(client, citizen)
    client.post(reverse("cabinet:consent"), {"validity_days": "365"})
    assert not Consent.objects.exists()


def test_revoking_withdraws_open_offers_tells_the_citizen_and_keeps_applications(
    signed_in, anna, offer_for, django_capture_on_commit_callbacks
):
    submitted = offer_for(anna, "B1")
    signed_in.post(reverse("cabinet:offer-confirm", args=[submitted.pk]))
    open_offer = offer_for(
        anna, "B2", act_number="", act_date="", service="birth-registration"
    )
    consent = Consent.objects.get(citizen=anna)

    response = signed_in.post(
        reverse("cabinet:consent-revoke", args=[consent.pk]), follow=True
    )

    page = response.content.decode()
    assert "больше не готовит" in page and "до конца" in page
    open_offer.refresh_from_db()
    assert open_offer.status == Offer.Status.WITHDRAWN
    assert "отозвали согласие" in open_offer.status_reason
    assert Notification.objects.filter(
        offer=open_offer, kind=Notification.Kind.OFFER_WITHDRAWN, channel="cabinet"
    ).exists()
    assert (
        Application.objects.get(offer=submitted).status == Application.Status.SUBMITTED
    )

    # New automatic work stops at once.
    assert offer_for(anna, "B3") is None
    history = signed_in.get(reverse("cabinet:consent")).content.decode()
    assert timezone.localtime(consent.given_at).strftime("%d.%m.%Y") in history


def test_revoking_stops_processing_even_with_a_second_consent(signed_in, anna):
    give_consent(anna, validity_days=91)
    first = Consent.objects.filter(citizen=anna).order_by("given_at").first()

    signed_in.post(reverse("cabinet:consent-revoke", args=[first.pk]))

    assert not Consent.objects.filter(citizen=anna, revoked_at__isnull=True).exists()


def test_a_reminder_goes_thirty_days_before_a_consent_expires(anna):
    consent = Consent.objects.get(citizen=anna)
    Consent.objects.filter(pk=consent.pk).update(
        valid_until=timezone.now() + timezone.timedelta(days=29)
    )
    other = CitizenFactory(consenting=True)

    assert remind_expiring_consents() == 1
    assert remind_expiring_consents() == 0

    rows = Notification.objects.filter(kind=Notification.Kind.CONSENT_EXPIRING)
    assert set(rows.values_list("citizen", flat=True)) == {anna.pk}
    assert {row.object_key for row in rows} == {f"consent:{consent.pk}"}
    assert not rows.filter(citizen=other).exists()

    from notifications.services import render

    subject, text, _html = render(rows.get(channel="email"))
    assert "истекает" in subject.lower() and "/consent/" in text


def test_a_renewed_consent_needs_no_reminder(anna):
    Consent.objects.filter(citizen=anna).update(
        valid_until=timezone.now() + timezone.timedelta(days=10)
    )
    give_consent(anna)
    assert remind_expiring_consents() == 0


# Settings -------------------------------------------------------------------


def test_a_service_opted_out_of_is_never_offered(signed_in, anna, offer_for):
    service = Service.objects.get(code="maternity-capital")
    signed_in.post(
        reverse("cabinet:settings"),
        {"proactive_mode": "on", "opt_out": [str(service.pk)]},
    )
    assert ServiceOptOut.objects.filter(citizen=anna, service=service).exists()
    assert offer_for(anna) is None


def test_proactive_mode_off_stops_offers(signed_in, anna, offer_for):
    signed_in.post(reverse("cabinet:settings"), {})
    anna.refresh_from_db()
    assert anna.proactive_mode is False
    assert offer_for(anna) is None


def test_the_settings_page_works_without_the_preferences_page(signed_in):
    response = signed_in.get(reverse("cabinet:settings"))
    assert response.status_code == 200


# Dashboard, profile, activity, export ---------------------------------------


def test_the_dashboard_shows_upcoming_payments_and_deadlines(
    signed_in, anna, offer_for
):
    birth_event = offer_for(anna).event
    today = timezone.localdate()
    for n, (kind, when, data) in enumerate(
        [
            (
                LifeEvent.Type.PAYMENT,
                today + timezone.timedelta(days=5),
                {"payment_type": "Единое пособие", "amount": "12345.67"},
            ),
            (
                LifeEvent.Type.TAX_NOTICE,
                today + timezone.timedelta(days=20),
                {"tax_type": "Налог на имущество", "amount": "812.00"},
            ),
            (
                LifeEvent.Type.PAYMENT,
                today - timezone.timedelta(days=5),
                {"payment_type": "Прошлая выплата", "amount": "1.00"},
            ),
        ]
    ):
        LifeEvent.objects.create(
            event_type=kind,
            role=LifeEvent.Role.SELF,
            source="payments",
            record_id=f"P{n}",
            subject_snils=anna.snils,
            citizen=anna,
            occurred_on=when,
            data=data,
            registry_record=birth_event.registry_record,
            batch=birth_event.batch,
        )
    page = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert "Единое пособие" in page and "12\u00a0345,67" in page
    assert "Налог на имущество" in page
    assert "Прошлая выплата" not in page


def test_the_dashboard_needs_at_most_six_queries(
    signed_in, anna, offer_for, django_assert_max_num_queries
):
    offer_for(anna)
    signed_in.get(reverse("cabinet:dashboard"))  # renders and keeps the page
    with django_assert_max_num_queries(6):
        response = signed_in.get(reverse("cabinet:dashboard"))
    assert "Материнский" in response.content.decode()


# Who is asking: one statement loads the session, the account, the device
# and the citizen (cabinet.identity); the checks stay the libraries'.


def test_a_password_changed_elsewhere_ends_this_session(signed_in, anna):
    anna.user.set_password("another-password-2026")
    anna.user.save()

    response = signed_in.get(reverse("cabinet:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("cabinet:login"))


def test_a_deactivated_account_is_signed_out(signed_in, anna):
    anna.user.is_active = False
    anna.user.save()

    response = signed_in.get(reverse("cabinet:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("cabinet:login"))


def test_a_second_factor_removed_elsewhere_is_asked_for_again(signed_in, anna):
    StaticDevice.objects.filter(user=anna.user).delete()

    response = signed_in.get(reverse("cabinet:dashboard"))

    assert response.status_code == 302
    assert response["Location"] == reverse("cabinet:otp-setup")


def test_a_session_naming_another_accounts_device_is_not_verified(
    signed_in, anna
):
    other = CitizenFactory(with_account=True)
    second_factor_code(other.user)  # gives the account a backup-code device
    session = signed_in.session
    session[DEVICE_ID_SESSION_KEY] = other.user.staticdevice_set.get().persistent_id
    session.save()

    response = signed_in.get(reverse("cabinet:dashboard"))

    assert response.status_code == 302
    assert response["Location"] == reverse("cabinet:otp-verify")


# The session lives in PostgreSQL and is read in that same statement
# (cabinet.sessions); its account and device columns only help the read,
# the signed data decides.


def _session_row(client):
    from cabinet.models import Session

    return Session.objects.filter(session_key=client.cookies["sessionid"].value)


def test_the_session_row_carries_its_account_and_device(signed_in, anna):
    device = StaticDevice.objects.get(user=anna.user)

    row = _session_row(signed_in).get()

    assert row.account_id == anna.user.pk
    assert (row.device_model, row.device_pk) == (device.model_label(), device.pk)
    assert row.get_decoded()[DEVICE_ID_SESSION_KEY] == device.persistent_id


def test_session_columns_naming_another_account_do_not_change_who_is_asking(
    signed_in, anna
):
    other = CitizenFactory(with_account=True, consenting=True, first_name="Зинаида")
    second_factor_code(other.user)
    device = other.user.staticdevice_set.get()
    _session_row(signed_in).update(
        account=other.user, device_model=device.model_label(), device_pk=device.pk
    )

    page = signed_in.get(reverse("cabinet:dashboard")).content.decode()

    assert "Анна" in page and "Зинаида" not in page


def test_a_session_whose_data_was_altered_in_the_database_is_no_session(signed_in):
    row = _session_row(signed_in).get()
    _session_row(signed_in).update(session_data="x" + row.session_data)

    response = signed_in.get(reverse("cabinet:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("cabinet:login"))


def test_an_expired_session_row_is_no_session(signed_in):
    _session_row(signed_in).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )

    response = signed_in.get(reverse("cabinet:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("cabinet:login"))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_dropped_database_connection_is_replaced_before_the_identity_statement(
    signed_in,
):
    # A persistent connection the server has dropped (a restart, a
    # failover): the identity statement, a request's first query, does the
    # work of Django's health check (CONN_HEALTH_CHECKS) and replaces it.
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    connection.close_if_unusable_or_obsolete()  # as a request's start does

    response = signed_in.get(reverse("cabinet:dashboard"))

    assert response.status_code == 200
    assert connection.connection.info.backend_pid != pid


def test_an_idle_timeout_also_ends_a_session_on_an_admin_page(client, settings):
    official = UserFactory(is_staff=True)
    official_login(client, official)
    turn_back(client, "cabinet_seen_at", settings.CABINET_IDLE_TIMEOUT)

    client.get(reverse("admin:index"))

    assert not _session_row(client).exists()


def test_a_staff_account_signs_in_to_the_admin_not_the_cabinet(client):
    """An official's devices are the administrator's: the cabinet, where a
    signed-in person may set up a new second factor, is not theirs."""
    official = UserFactory(is_staff=True)
    second_factor_code(official)

    response = client.post(
        reverse("cabinet:login"),
        {"username": official.username, "password": PASSWORD},
    )

    assert response.status_code == 200
    assert reverse("admin:login") in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("cabinet:otp-setup")).status_code == 302
    assert client.get(reverse("cabinet:dashboard"))["Location"].startswith(
        reverse("cabinet:login")
    )


def test_a_staff_session_from_the_admin_has_no_cabinet_pages(client):
    official = UserFactory(is_staff=True)
    official_login(client, official)

    assert client.get(reverse("cabinet:dashboard")).status_code == 404
    for page in ("cabinet:otp-setup", "cabinet:otp-setup-sms"):
        assert client.get(reverse(page)).status_code == 404
    assert client.post(reverse("cabinet:otp-setup"), {"token": "123456"}).status_code == 404
    assert not TOTPDevice.objects.filter(user=official).exists()


def test_a_cached_dashboard_shows_a_new_offer_at_once(signed_in, anna, offer_for):
    """The body is cached per content: an offer made by the evaluation's raw
    SQL, after the page was rendered and cached, shows on the next view."""
    before = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert "Материнский" not in before
    signed_in.get(reverse("cabinet:dashboard"))  # served from the cache

    offer_for(anna)

    after = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert "Материнский" in after


def test_a_cached_dashboard_follows_status_changes_and_language(
    signed_in, anna, offer_for, django_assert_num_queries
):
    from offers import services as offer_services

    offer = offer_for(anna)
    signed_in.get(reverse("cabinet:dashboard"))
    with django_assert_num_queries(1):
        # The session, its account and device and the citizen with the
        # fingerprint in one statement (no session cache: sessions are read
        # from PostgreSQL only); the page from the web process's memory.
        signed_in.get(reverse("cabinet:dashboard"))

    application = offer_services.accept_offer(anna, offer.pk)
    page = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert application.number in page
    assert reverse("cabinet:offer-detail", args=[offer.pk]) not in page

    offer_services.take_into_review(application.pk)
    page = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert str(Application.Status.IN_REVIEW.label) in page

    signed_in.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert "Applications in progress" in page


def test_a_cached_dashboard_shows_messages_and_the_unread_count(
    signed_in, anna, offer_for
):
    offer = offer_for(anna)
    signed_in.get(reverse("cabinet:dashboard"))
    signed_in.get(reverse("cabinet:dashboard"))

    response = signed_in.post(
        reverse("cabinet:offer-decline", args=[offer.pk]), follow=True
    )

    page = response.content.decode()
    assert "Вы отказались от предложения." in page
    assert reverse("cabinet:offer-detail", args=[offer.pk]) not in page

    Notification.objects.filter(citizen=anna).update(read_at=timezone.now())
    signed_in.get(reverse("cabinet:dashboard"))
    Notification.objects.create(
        citizen=anna,
        kind=Notification.Kind.PAYMENT_NOTICE,
        channel=Notification.Channel.CABINET,
        object_key="test-unread",
        status=Notification.Status.SENT,
        body="Выплата",
    )
    page = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert "Уведомления (1)" in page


def test_the_forms_of_a_cached_dashboard_carry_a_valid_csrf_token(anna):
    """A cached page's forms were rendered for an earlier request: their
    token must still match this browser's CSRF secret, also after the
    secret changed at a new login."""
    browser = Client(enforce_csrf_checks=True)
    for _ in range(2):
        login_page = browser.get(reverse("cabinet:login")).content.decode()
        token = login_page.split('name="csrfmiddlewaretoken" value="')[1][:64]
        browser.post(
            reverse("cabinet:login"),
            {
                "username": anna.user.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token,
            },
        )
        code = second_factor_code(anna.user)
        code_page = browser.get(reverse("cabinet:otp-verify")).content.decode()
        token = code_page.split('name="csrfmiddlewaretoken" value="')[1][:64]
        browser.post(
            reverse("cabinet:otp-verify"),
            {"token": code, "csrfmiddlewaretoken": token},
        )
        for _ in range(2):
            page = browser.get(reverse("cabinet:dashboard")).content.decode()
        token = page.split('name="csrfmiddlewaretoken" value="')[1][:64]
        response = browser.post(
            reverse("cabinet:logout"), {"csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302


def test_the_profile_shows_sources_and_takes_an_error_report(signed_in, anna):
    page = signed_in.get(reverse("cabinet:profile")).content.decode()
    assert "Реестр населения" in page and anna.last_name in page

    signed_in.post(
        reverse("cabinet:profile"), {"field": "address", "comment": "Переехала в 2025"}
    )
    report = ErrorReport.objects.get(citizen=anna)
    assert report.field == "address"


def section(page: str, title_id: str) -> str:
    start = page.index(f'id="{title_id}"')
    return page[start : page.index("</section>", start)]


def test_the_profile_history_names_fields_and_sources_in_words(
    signed_in, anna, write_csv, run_import
):
    """Regression: the history of changes showed the stored field names
    ("passport_number"), source codes ("population") and values ("F",
    ISO dates), and the list of error reports the field names too."""
    row = person("P1", anna.snils, sex="М", passport_number="654321")
    run_import("population", write_csv("p.csv", POPULATION_HEADER, [row]))
    signed_in.post(
        reverse("cabinet:profile"),
        {"field": "passport_number", "comment": "Паспорт заменён"},
    )

    page = signed_in.get(reverse("cabinet:profile")).content.decode()

    history = section(page, "changes-title")
    for words in ("Номер паспорта", "Код региона", "Пол", "Дата рождения"):
        assert f"<td>{words}</td>" in history
    assert "17.05.1990" in history and "15.03.1992" in history
    assert "<td>женский</td><td>мужской</td>" in history
    assert "Реестр населения" in history
    for code in ("passport_number", "region_code", ">sex<", "population"):
        assert code not in history
    assert "1990-05-17" not in history
    reports = section(page, "report-title")
    assert "— Номер паспорта:" in reports and "passport_number:" not in reports

    signed_in.post(reverse("set_language"), {"language": "en"})
    page = signed_in.get(reverse("cabinet:profile")).content.decode()
    history = section(page, "changes-title")
    for words in ("Passport number", "Region code", "Sex", "Date of birth"):
        assert f"<td>{words}</td>" in history
    assert "Population registry" in history and "<td>male</td>" in history
    assert "— Passport number:" in section(page, "report-title")


def test_the_activity_log_lists_automatic_actions(signed_in, anna, offer_for):
    offer_for(anna)
    page = signed_in.get(reverse("cabinet:activity")).content.decode()
    assert "Подготовлено предложение «Материнский (семейный) капитал»" in page
    assert "Дано согласие" in page


def test_the_activity_log_lists_every_channel_reminders_and_withdrawals(
    signed_in, anna, offer_for
):
    """Regression: the log listed only email notices."""
    from offers import services as offer_services

    offer = offer_for(anna)
    offer_services.remind_offer(offer.pk)
    offer_services.withdraw_offer(offer.pk, "Запись реестра исправлена")
    for channel in Notification.Channel:
        Notification.objects.create(
            citizen=anna,
            kind=Notification.Kind.PAYMENT_NOTICE,
            channel=channel,
            object_key=f"activity-{channel}",
            status=Notification.Status.DELIVERED,
            sent_at=timezone.now(),
        )

    page = signed_in.get(reverse("cabinet:activity")).content.decode()

    for channel in Notification.Channel:
        assert f"сведения о выплате» — {channel.label}: доставлено" in page
    assert "Напоминание о предложении «Материнский (семейный) капитал»" in page
    assert "Запись реестра исправлена" in page


def test_opening_an_offer_marks_its_cabinet_notices_read(signed_in, anna, offer_for):
    """Regression: the offer's notice stayed unread after the citizen had
    opened and confirmed the offer."""
    offer = offer_for(anna)
    notices = Notification.objects.filter(
        offer=offer, channel=Notification.Channel.CABINET
    )
    notices.filter(status=Notification.Status.PENDING).update(
        status=Notification.Status.SENT
    )
    assert notices.filter(read_at__isnull=True).exists()

    page = signed_in.get(reverse("cabinet:offer-detail", args=[offer.pk]))

    assert not notices.filter(read_at__isnull=True).exists()
    assert "Уведомления (" not in page.content.decode()


def test_confirming_an_offer_marks_its_cabinet_notices_read(
    signed_in, anna, offer_for
):
    offer = offer_for(anna)
    notices = Notification.objects.filter(
        offer=offer, channel=Notification.Channel.CABINET
    )
    notices.update(status=Notification.Status.SENT, read_at=None)

    signed_in.post(reverse("cabinet:offer-confirm", args=[offer.pk]))

    assert notices.exists() and not notices.filter(read_at__isnull=True).exists()


def test_offer_and_application_pages_show_values_as_people_write_them(
    signed_in, anna, offer_for
):
    """Regression: ISO dates, "616617.00", "M" and bare SNILS digits were
    shown as stored."""
    from events.values import format_snils

    Service.objects.filter(code="maternity-capital").update(correctable_fields=[])
    offer = offer_for(anna)
    assert offer.prefill["capital_amount"] == "616617.00"

    page = signed_in.get(reverse("cabinet:offer-detail", args=[offer.pk]))
    text = page.content.decode()

    assert "616\u00a0617,00\u00a0₽" in text and "616617.00" not in text
    assert "01.10.2026" in text and "2026-10-01" not in text
    assert ">мужской<" in text
    assert format_snils(anna.snils) in text

    application = offer_services.accept_offer(anna, offer.pk)
    page = signed_in.get(reverse("cabinet:application-detail", args=[application.pk]))
    text = page.content.decode()
    assert "616\u00a0617,00\u00a0₽" in text and "01.10.2026" in text
    assert format_snils(anna.snils) in text and ">мужской<" in text

    signed_in.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = signed_in.get(reverse("cabinet:application-detail", args=[application.pk]))
    assert "616,617.00\u00a0₽" in page.content.decode()


def test_the_application_history_names_corrected_fields_in_words(
    signed_in, anna, offer_for
):
    """Regression: the submission line of the history listed the fields
    the citizen corrected by their keys ("applicant_address")."""
    offer = offer_for(anna)
    signed_in.post(reverse("set_language"), {"language": "en"})

    response = signed_in.post(
        reverse("cabinet:offer-confirm", args=[offer.pk]),
        {"correct_applicant_address": "г. Тверь, ул. Советская, д. 5"},
    )

    page = signed_in.get(response["Location"]).content.decode()
    assert "applicant_address" not in page
    # The note is kept as written, in the portal's language.
    assert "исправлено гражданином: «Адрес регистрации»" in page


def test_the_export_holds_all_the_citizens_data(signed_in, anna, offer_for):
    offer_for(anna)
    response = signed_in.get(reverse("cabinet:export"))
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["profile"]["snils"] == anna.snils
    assert len(data["offers"]) == 1 and len(data["consents"]) == 1


# Documents ------------------------------------------------------------------


def test_a_document_is_recognised_by_content_not_by_name(signed_in, anna, offer_for):
    offer = offer_for(anna)
    assert upload(signed_in, offer, "scan.txt", PNG).status_code == 302
    assert (
        upload(signed_in, offer, "fake.pdf", b"MZ\x90\x00 not a pdf").status_code == 400
    )
    assert (
        upload(
            signed_in, offer, "page.xml", b"<html><script>x</script></html>"
        ).status_code
        == 400
    )
    assert (
        upload(
            signed_in, offer, "act.xml", b"<?xml version='1.0'?><act n='1'/>"
        ).status_code
        == 302
    )
    assert upload(signed_in, offer, "a.bin", PDF).status_code == 302
    kinds = list(Document.objects.order_by("id").values_list("content_type", flat=True))
    assert kinds == ["image/png", "application/xml", "application/pdf"]


def test_a_document_over_the_size_limit_is_refused(
    signed_in, anna, offer_for, settings
):
    settings.DOCUMENT_MAX_BYTES = 100
    offer = offer_for(anna)
    assert upload(signed_in, offer, "big.pdf", PDF + b"0" * 200).status_code == 400
    assert not Document.objects.exists()


def test_documents_are_stored_outside_public_paths_and_served_to_owner_and_staff(
    signed_in, anna, offer_for, settings
):
    offer = offer_for(anna)
    upload(signed_in, offer, "scan.png", PNG)
    document = Document.objects.get()
    path = document.file.path
    assert path.startswith(str(settings.PRIVATE_MEDIA_ROOT))
    assert not path.startswith(str(settings.STATIC_ROOT))

    url = reverse("cabinet:document-download", args=[document.pk])
    response = signed_in.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG

    staff = UserFactory(is_staff=True)
    plain_staff = official_login(Client(), staff)
    assert plain_staff.get(url).status_code == 404
    staff.user_permissions.add(Permission.objects.get(codename="view_document"))
    assert plain_staff.get(url).status_code == 200


# Security ---------------------------------------------------------------------


def test_another_citizens_objects_answer_404(signed_in, anna, offer_for):
    other = CitizenFactory(with_account=True, consenting=True)
    other_client = login(Client(), other)
    offer = offer_for(other, "B9")
    other_client.post(
        reverse("cabinet:document-upload", args=[offer.pk]),
        {"title": "x", "file": _named(PNG, "a.png")},
    )
    second = offer_for(
        other, "B8", act_number="", act_date="", service="birth-registration"
    )
    other_client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))
    application = Application.objects.get(citizen=other)
    document = Document.objects.get(citizen=other)
    notification = Notification.objects.filter(citizen=other, channel="cabinet").first()
    consent = Consent.objects.get(citizen=other)

    gets = [
        reverse("cabinet:offer-detail", args=[second.pk]),
        reverse("cabinet:application-detail", args=[application.pk]),
        reverse("cabinet:document-download", args=[document.pk]),
        reverse("cabinet:consent-detail", args=[consent.pk]),
    ]
    posts = [
        reverse("cabinet:offer-confirm", args=[second.pk]),
        reverse("cabinet:offer-decline", args=[second.pk]),
        reverse("cabinet:document-upload", args=[second.pk]),
        reverse("cabinet:notification-read", args=[notification.pk]),
        reverse("cabinet:consent-revoke", args=[consent.pk]),
    ]
    assert [signed_in.get(url).status_code for url in gets] == [404] * len(gets)
    assert [signed_in.post(url).status_code for url in posts] == [404] * len(posts)
    second.refresh_from_db()
    consent.refresh_from_db()
    assert second.status == Offer.Status.OFFERED and consent.revoked_at is None


def _named(content, name):
    file = io.BytesIO(content)
    file.name = name
    return file


def test_every_form_needs_a_csrf_token(anna, offer_for):
    offer = offer_for(anna)
    consent = Consent.objects.get(citizen=anna)
    client = login(Client(), anna)
    client.handler.enforce_csrf_checks = True
    notification = Notification.objects.filter(citizen=anna, channel="cabinet").first()
    posts = [
        reverse("cabinet:login"),
        reverse("cabinet:logout"),
        reverse("cabinet:register"),
        reverse("cabinet:otp-verify"),
        reverse("cabinet:otp-setup"),
        reverse("cabinet:reauth"),
        reverse("cabinet:offer-confirm", args=[offer.pk]),
        reverse("cabinet:offer-decline", args=[offer.pk]),
        reverse("cabinet:document-upload", args=[offer.pk]),
        reverse("cabinet:notification-read", args=[notification.pk]),
        reverse("cabinet:consent"),
        reverse("cabinet:consent-revoke", args=[consent.pk]),
        reverse("cabinet:settings"),
        reverse("cabinet:settings-phone"),
        reverse("cabinet:settings-email"),
        reverse("cabinet:settings-2fa"),
        reverse("cabinet:profile"),
        reverse("set_language"),
    ]
    assert {url: client.post(url).status_code for url in posts} == {
        url: 403 for url in posts
    }
    offer.refresh_from_db()
    assert offer.status == Offer.Status.OFFERED


def test_personal_pages_are_never_cached(signed_in, anna, offer_for):
    offer = offer_for(anna)
    for name, args in [
        ("cabinet:dashboard", []),
        ("cabinet:offer-detail", [offer.pk]),
        ("cabinet:applications", []),
        ("cabinet:notifications", []),
        ("cabinet:consent", []),
        ("cabinet:settings", []),
        ("cabinet:profile", []),
        ("cabinet:activity", []),
        ("cabinet:export", []),
    ]:
        response = signed_in.get(reverse(name, args=args))
        assert "no-store" in response["Cache-Control"], name


def test_no_personal_data_in_urls_or_logs(client, anna, offer_for, caplog):
    caplog.set_level(logging.DEBUG)
    offer = offer_for(anna)
    login(client, anna)
    seen_urls = []
    for name, args in [
        ("cabinet:dashboard", []),
        ("cabinet:offer-detail", [offer.pk]),
        ("cabinet:profile", []),
        ("cabinet:activity", []),
        ("cabinet:consent", []),
    ]:
        response = client.get(reverse(name, args=args))
        seen_urls.append(reverse(name, args=args))
        seen_urls += [href for href in _hrefs(response.content.decode())]
    response = client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))
    seen_urls.append(response["Location"])
    client.post(
        reverse("cabinet:login"), {"username": anna.user.username, "password": "wrong"}
    )

    personal = [
        anna.snils,
        anna.last_name,
        anna.email,
        anna.phone,
        anna.phone[2:],
        anna.passport_number,
        anna.user.username,
    ]
    text = (
        "\n".join(seen_urls) + "\n" + "\n".join(r.getMessage() for r in caplog.records)
    )
    assert [value for value in personal if value and value in text] == []


def _hrefs(html):
    import re

    return re.findall(r'(?:href|action)="([^"]+)"', html)


def test_the_english_version_says_the_same_in_english(signed_in):
    signed_in.post(reverse("set_language"), {"language": "en"})
    page = signed_in.get(reverse("cabinet:dashboard")).content.decode()
    assert 'lang="en"' in page
    assert "New offers" in page and "Новые предложения" not in page


def test_staff_need_a_second_factor_for_the_admin(client):
    from tests.factories import second_factor_code
    from tests.helpers import PASSWORD

    official = UserFactory(username="official", is_staff=True, is_superuser=True)
    client.force_login(official)  # a password alone
    assert client.get("/admin/").status_code == 302

    client.logout()
    token = second_factor_code(official)
    device = official.staticdevice_set.get()
    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "official",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_expired_sessions_are_cleared_by_the_beat_task(signed_in):
    from cabinet.tasks import clear_expired_sessions

    other = Client()
    login(other, CitizenFactory(with_account=True))
    _session_row(other).update(expire_date=timezone.now() - datetime.timedelta(days=1))

    clear_expired_sessions()

    assert not _session_row(other).exists()
    assert _session_row(signed_in).exists()
