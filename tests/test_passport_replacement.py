"""Passport replacement at 20 and 45, with time frozen: the birthday offers
it once, the application goes to the agency's queue and completes with a
result the citizen downloads."""

import datetime
import io

import pypdf
import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from events.services import run_daily_triggers
from offers.models import Application, Offer, Service
from tests.factories import CitizenFactory
from tests.helpers import PASSWORD, login, official_login

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
PASSPORT = "passport-replacement"


def at(*args):
    return time_machine.travel(datetime.datetime(*args, tzinfo=UTC), tick=False)


def passport_offers():
    return Offer.objects.filter(service__code=PASSPORT)


@pytest.mark.parametrize("age", [20, 45])
def test_the_birthday_offers_the_passport_once_and_it_ends_with_a_result(
    age, django_user_model
):
    with at(2027, 3, 6, 9):
        official = django_user_model.objects.create_superuser(
            "official", "official@example.org", PASSWORD
        )
        admin_client = official_login(Client(), official)
        citizen = CitizenFactory(
            with_account=True,
            consenting=True,
            birth_date=datetime.date(2027 - age, 3, 6),
            passport_series="4507",
            passport_number="112233",
        )
        later = CitizenFactory(
            consenting=True, birth_date=datetime.date(2027 - age, 3, 9)
        )

        # The beat runs hourly: the birthday offers the passport once.
        run_daily_triggers()
        run_daily_triggers()
        offer = passport_offers().get()
        assert offer.citizen == citizen
        assert offer.prefill["passport_replacement_reason"] == (
            f"достижение возраста {age} лет"
        )
        assert offer.prefill["applicant_passport_number"] == "112233"

        # The citizen reads why and confirms.
        client = login(Client(), citizen)
        page = client.get(reverse("cabinet:offer-detail", args=[offer.pk]))
        assert f"Вам исполнилось {age} лет" in page.content.decode()
        client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))
        application = Application.objects.get(citizen=citizen)

        # The application waits in the agency's queue of its service.
        service = Service.objects.get(code=PASSPORT)
        queue = admin_client.get(
            reverse("admin:offers_application_changelist"),
            {"service__id__exact": service.pk, "queue": "open"},
        ).content.decode()
        assert application.number in queue

        # The official approves and completes it with a result.
        for action in ("approve", "complete"):
            url = reverse("admin:offers_application_act", args=[application.pk, action])
            admin_client.post(url, {"note": "", "kind": ""})
        application.refresh_from_db()
        assert application.status == Application.Status.COMPLETED
        document = application.result_documents.get()
        response = client.get(reverse("cabinet:result-document", args=[document.pk]))
        text = pypdf.PdfReader(io.BytesIO(b"".join(response.streaming_content)))
        text = text.pages[0].extract_text()
        assert "выдать паспорт гражданина РФ взамен прежнего" in text
        assert f"достижение возраста {age} лет" in text and "4507 112233" in text

    # Later runs offer nothing again; the other citizen's own birthday
    # offers them theirs.
    for day in (7, 8, 9, 12):
        with at(2027, 3, day, 9):
            run_daily_triggers()
    assert sorted(passport_offers().values_list("citizen", flat=True)) == sorted(
        [citizen.pk, later.pk]
    )


def test_ages_other_than_20_and_45_offer_no_passport():
    with at(2027, 3, 6, 9):
        for age in (18, 21, 44):
            CitizenFactory(consenting=True, birth_date=datetime.date(2027 - age, 3, 6))
        run_daily_triggers()
    assert not passport_offers().exists()


@pytest.fixture
def approved_passport():
    """A 20-year-old's passport replacement, approved and waiting for its
    result, and an official signed in to the admin (time frozen on the
    birthday)."""
    from offers import services

    with at(2027, 3, 6, 9):
        official = get_user_model().objects.create_superuser(
            "official", "official@example.org", PASSWORD
        )
        citizen = CitizenFactory(
            with_account=True,
            consenting=True,
            birth_date=datetime.date(2007, 3, 6),
            passport_series="4507",
            passport_number="112233",
        )
        run_daily_triggers()
        application = services.accept_offer(citizen, passport_offers().get().pk)
        services.approve_application(application.pk, actor=official)
        yield application, official_login(Client(), official)


def test_completing_a_passport_offers_only_its_own_result(approved_passport):
    application, admin_client = approved_passport
    url = reverse("admin:offers_application_act", args=[application.pk, "complete"])

    page = admin_client.get(url).content.decode()

    assert "решение по заявлению" in page
    for other in (
        "свидетельство о рождении",
        "сертификат на материнский капитал",
        "решение о назначении пенсии",
        "справка о выплатах",
    ):
        assert other not in page


def test_a_birth_certificate_posted_for_a_passport_is_refused(approved_passport):
    """Regression: an official completed a passport replacement with the
    kind «свидетельство о рождении»: the citizen got a birth certificate
    from the МВД that /verify/ called genuine, and no decision."""
    from offers import services

    application, admin_client = approved_passport
    url = reverse("admin:offers_application_act", args=[application.pk, "complete"])

    response = admin_client.post(url, {"kind": "birth_certificate", "note": ""})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Такой документ по этой услуге не выдаётся" in page
    assert "Её результат: «решение по заявлению»" in page
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert not application.result_documents.exists()

    # The service refuses it too, whoever calls it.
    with pytest.raises(ValidationError) as refused:
        services.complete_application(application.pk, kind="birth_certificate")
    assert "Такой документ по этой услуге не выдаётся" in str(refused.value)
    assert not application.result_documents.exists()

    admin_client.post(url, {"kind": "decision", "note": ""})
    assert application.result_documents.get().kind == "decision"


def test_bulk_completion_issues_the_service_s_own_result(approved_passport):
    application, admin_client = approved_passport

    admin_client.post(
        reverse("admin:offers_application_changelist"),
        {"action": "complete_selected", "_selected_action": [application.pk]},
    )

    application.refresh_from_db()
    assert application.status == Application.Status.COMPLETED
    assert application.result_documents.get().kind == "decision"


def test_why_names_the_registry_and_no_record_number_of_the_portal_s_own():
    from django.utils import translation

    from offers.explain import why

    with at(2027, 3, 6, 9):
        CitizenFactory(consenting=True, birth_date=datetime.date(2007, 3, 6))
        run_daily_triggers()
        offer = passport_offers().get()

        text = why(offer)
        with translation.override("en"):
            english = why(offer)

    assert text.startswith("Источник — Реестр населения: 06.03.2027 Вам исполнилось 20 лет.")
    assert "age:" not in text and "запись №" not in text
    assert english.startswith("Source: Population registry. You turned 20 on 06.03.2027.")
    assert "Под" not in english  # the rule's sentence is English too
