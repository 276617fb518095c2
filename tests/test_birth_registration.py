"""Birth registration from a maternity hospital's record to the two PDFs:
both parents are offered it, the first to confirm applies, the registry
office registers the birth with its act record, and the applicant receives
the certificate and the extract, both verifiable. A later ЕГР ЗАГС record
of the same birth offers nothing again."""

import datetime
import io
import json

import pypdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events.services import evaluate_batch
from notifications.models import Notification
from offers import registration, services
from offers.models import Application, BirthRegistration, Offer, ResultDocument
from tests.applications import import_births
from tests.conftest import wait_until
from tests.factories import CitizenFactory
from tests.helpers import birth, login

pytestmark = pytest.mark.django_db

REGISTRATION = "birth-registration"


def fhir_birth(
    record_id, mother, father=None, *, first="Лев", born=None, sex="male"
) -> dict:
    """A hospital's FHIR R4 birth document: the newborn, the mother and the
    father as RelatedPerson, the live-birth composition, no act record."""
    born = born or (timezone.localdate() - datetime.timedelta(days=3)).isoformat()
    child = {
        "resourceType": "Patient",
        "id": "newborn",
        "gender": sex,
        "birthDate": born,
        "name": [{"family": "Ёлкин", "given": [first]}],
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueAddress": {"city": "Тверь"},
            }
        ],
    }

    def parent(resource_id, person, code):
        return {
            "resourceType": "RelatedPerson",
            "id": resource_id,
            "patient": {"reference": "Patient/newborn"},
            "relationship": [{"coding": [{"code": code}]}],
            "birthDate": person.birth_date.isoformat(),
            "identifier": [{"system": "urn:oid:1.2.643.100.3", "value": person.snils}],
        }

    resources = [
        {
            "resourceType": "Composition",
            "id": f"doc-{record_id}",
            "type": {"coding": [{"code": "68998-4"}]},  # live birth
            "subject": {"reference": "Patient/newborn"},
        },
        child,
        parent("mother", mother, "MTH"),
        {
            "resourceType": "Observation",
            "code": {"coding": [{"code": "11638-4"}]},  # earlier live births
            "valueInteger": 0,
        },
    ]
    if father is not None:
        resources.append(parent("father", father, "FTH"))
    return {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {"value": record_id},
        "entry": [{"resource": resource} for resource in resources],
    }


def write_ndjson(tmp_path, name, bundles):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(b, ensure_ascii=False) for b in bundles))
    return path


def registration_offers(citizen=None):
    offers = Offer.objects.filter(service__code=REGISTRATION)
    return offers.filter(citizen=citizen) if citizen else offers


def act(client, application, action, **data):
    url = reverse("admin:offers_application_act", args=[application.pk, action])
    return client.post(url, data, follow=True).content.decode()


def pdf_text(data: bytes) -> str:
    return "\n".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages
    ).replace("\u00a0", " ")


def verify(code, data) -> str:
    upload = SimpleUploadedFile("document.pdf", data, "application/pdf")
    response = Client().post(reverse("offers:verify"), {"code": code, "file": upload})
    return response.content.decode()


@pytest.fixture
def parents():
    mother = CitizenFactory(
        with_account=True, consenting=True, last_name="Ёлкина", first_name="Вера"
    )
    father = CitizenFactory(
        with_account=True,
        consenting=True,
        male=True,
        last_name="Ёлкин",
        first_name="Олег",
        middle_name="Иванович",
        birth_date=datetime.date(1989, 2, 1),
    )
    return mother, father


def test_a_fhir_hospital_record_ends_with_two_verifiable_pdfs(
    celery_worker, tmp_path, parents, admin_client
):
    mother, father = parents
    born = timezone.localdate() - datetime.timedelta(days=3)

    # The hospital's document arrives; the worker evaluates the rules.
    path = write_ndjson(tmp_path, "hospital.ndjson", [fhir_birth("H-1", *parents)])
    call_command("import_registry", "births", str(path), "--json")
    wait_until(
        lambda: registration_offers().count() == 2, what="offers to both parents"
    )

    # Both parents are offered it, pre-filled from the record.
    offer = registration_offers(father).get()
    assert {
        key: offer.prefill[key]
        for key in (
            "child_last_name",
            "child_first_name",
            "child_sex",
            "child_birth_date",
            "place_of_birth",
            "mother_full_name",
            "father_full_name",
        )
    } == {
        "child_last_name": "Ёлкин",
        "child_first_name": "Лев",
        "child_sex": "M",
        "child_birth_date": born.isoformat(),
        "place_of_birth": "Тверь",
        "mother_full_name": "Ёлкина Вера Петровна",
        "father_full_name": "Ёлкин Олег Иванович",
    }

    # The father confirms first: his application; the mother's offer closes.
    dad = login(Client(), father)
    response = dad.post(reverse("cabinet:offer-confirm", args=[offer.pk]))
    application = Application.objects.get(citizen=father)
    assert response.url == reverse("cabinet:application-detail", args=[application.pk])
    mothers = registration_offers(mother).get()
    assert mothers.status == Offer.Status.WITHDRAWN
    assert "второй родитель" in mothers.status_reason
    assert application.number in mothers.status_reason
    assert Notification.objects.filter(
        offer=mothers, kind="offer_withdrawn", channel="cabinet"
    ).exists()
    mum = login(Client(), mother)
    page = mum.post(
        reverse("cabinet:offer-confirm", args=[mothers.pk]), follow=True
    ).content.decode()
    assert "уже нельзя подтвердить" in page
    assert not Application.objects.filter(citizen=mother, service__code=REGISTRATION)

    # The registry office registers the birth; a date before it is refused.
    change = reverse("admin:offers_application_change", args=[application.pk])
    actions = admin_client.get(change).content.decode()
    assert "Зарегистрировать рождение" in actions
    assert "Исполнить и выдать результат" not in actions
    day_before = born - datetime.timedelta(days=1)
    page = act(
        admin_client,
        application,
        "register-birth",
        act_number="120269000777",
        act_date=day_before.isoformat(),
    )
    assert "раньше рождения ребёнка" in page
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    act(
        admin_client,
        application,
        "register-birth",
        act_number="1202 6900 0777",
        act_date=timezone.localdate().isoformat(),
    )
    application.refresh_from_db()
    assert application.status == Application.Status.COMPLETED
    assert application.birth_registration.act_number == "120269000777"

    # The father downloads both PDFs; each verifies, an altered one does not.
    documents = {d.kind: d for d in application.result_documents.all()}
    assert set(documents) == {"birth_certificate", "birth_extract"}
    for kind, title in (
        ("birth_certificate", "Свидетельство о рождении"),
        ("birth_extract", "Выписка из записи акта о рождении"),
    ):
        document = documents[kind]
        response = dad.get(reverse("cabinet:result-document", args=[document.pk]))
        data = b"".join(response.streaming_content)
        text = pdf_text(data)
        assert title in text and "Ёлкин Лев" in text
        assert "120269000777" in text and "Ёлкина Вера Петровна" in text
        assert document.verification_code_display in text
        assert "Документ подлинный" in verify(document.verification_code, data)
        altered = data.replace(b"%%EOF", b"%%EOF\n% edited", 1)
        assert "Файл не совпадает" in verify(document.verification_code, altered)
    assert (
        mum.get(
            reverse("cabinet:result-document", args=[documents["birth_extract"].pk])
        ).status_code
        == 404
    )

    # The ЕГР ЗАГС reports the act record it made: nothing is offered again.
    before = set(Offer.objects.values_list("pk", flat=True))
    zags = tmp_path / "zags.csv"
    zags.write_text(
        "record_id;child_last_name;child_first_name;child_birth_date;child_sex;"
        "mother_snils;father_snils;birth_order;act_number;act_date\n"
        f"Z-1;Ёлкин;Лев;{born};M;{mother.snils};{father.snils};1;"
        f"120269000777;{timezone.localdate()}\n"
    )
    out = io.StringIO()
    call_command("import_registry", "births", str(zags), "--json", stdout=out)
    evaluate_batch(json.loads(out.getvalue().splitlines()[-1])["batch_id"])
    assert set(Offer.objects.values_list("pk", flat=True)) == before


def test_a_zags_record_of_a_birth_registered_in_person_closes_the_open_offers(
    write_csv, parents
):
    mother, father = parents
    hospital = birth(
        "H-2",
        mother.snils,
        father_snils=father.snils,
        birth_order="1",
        child_first_name="Фёдор",
        act_number="",
        act_date="",
    )
    import_births(write_csv, [hospital], name="hospital.csv")
    assert registration_offers().count() == 2
    capital = Offer.objects.get(service__code="maternity-capital")

    zags = birth(
        "Z-2",
        mother.snils,
        father_snils=father.snils,
        birth_order="1",
        child_first_name="фёдор",
        act_number="120269000555",
        act_date="2026-10-05",
    )
    import_births(write_csv, [zags], name="zags.csv")

    for offer in registration_offers():
        assert offer.status == Offer.Status.WITHDRAWN
        assert offer.status_reason == (
            "Рождение уже зарегистрировано в органе ЗАГС: запись акта "
            "№ 120269000555 от 05.10.2026."
        )
    assert (
        Notification.objects.filter(kind="offer_withdrawn", channel="cabinet").count()
        == 2
    )
    # The maternity capital of the same child is not offered a second time.
    assert list(Offer.objects.filter(service__code="maternity-capital")) == [capital]


def test_twins_are_two_births_each_registered_on_its_own(write_csv, parents):
    mother, father = parents
    twins = [
        birth(
            record_id,
            mother.snils,
            father_snils=father.snils,
            child_first_name=name,
            act_number="",
            act_date="",
        )
        for record_id, name in (("H-3", "Анна"), ("H-4", "Мария"))
    ]
    import_births(write_csv, twins, name="twins.csv")
    assert registration_offers().count() == 4

    zags = birth(
        "Z-3",
        mother.snils,
        child_first_name="Анна",
        act_number="120269000556",
        act_date="2026-10-05",
    )
    import_births(write_csv, [zags], name="zags.csv")

    open_ones = registration_offers().filter(status__in=Offer.OPEN)
    assert set(open_ones.values_list("event__record_id", flat=True)) == {"H-4"}
    assert open_ones.count() == 2
    # Maternity capital is granted once: twins give the mother one offer.
    assert Offer.objects.filter(service__code="maternity-capital").count() == 1


def submitted(write_csv, parents, record_id="H-5") -> Application:
    mother, father = parents
    import_births(
        write_csv,
        [
            birth(
                record_id,
                mother.snils,
                father_snils=father.snils,
                act_number="",
                act_date="",
            )
        ],
        name=f"{record_id}.csv",
    )
    return services.accept_offer(mother, registration_offers(mother).get().pk)


def test_an_act_number_is_digits_and_given_once(write_csv, parents, admin_client):
    first = submitted(write_csv, parents, "H-5")
    second_mother = CitizenFactory(consenting=True)
    import_births(
        write_csv,
        [birth("H-6", second_mother.snils, act_number="", act_date="")],
        name="H-6.csv",
    )
    second = services.accept_offer(
        second_mother, registration_offers(second_mother).get().pk
    )

    page = act(
        admin_client, first, "register-birth", act_number="12-AB", act_date="2026-10-05"
    )
    assert "от 1 до 22 цифр" in page
    page = act(
        admin_client,
        first,
        "register-birth",
        act_number="1202690001",
        act_date="2099-01-01",
    )
    assert "позже сегодняшнего дня" in page

    act(
        admin_client,
        first,
        "register-birth",
        act_number="1202690001",
        act_date="2026-10-05",
    )
    page = act(
        admin_client,
        second,
        "register-birth",
        act_number="1202690001",
        act_date="2026-10-05",
    )

    assert "уже зарегистрирована" in page
    second.refresh_from_db()
    assert second.status == Application.Status.SUBMITTED
    assert not second.result_documents.exists()
    assert BirthRegistration.objects.count() == 1


def test_a_birth_registration_is_completed_only_with_its_act(write_csv, parents):
    application = submitted(write_csv, parents)
    services.approve_application(application.pk)

    with pytest.raises(services.ApplicationError):
        services.complete_application(application.pk)

    documents = registration.register_birth(
        application.pk, act_number="120269000123", act_date=datetime.date(2026, 10, 5)
    )
    assert [d.kind for d in documents] == [
        ResultDocument.Kind.BIRTH_CERTIFICATE,
        ResultDocument.Kind.BIRTH_EXTRACT,
    ]
    with pytest.raises(services.ApplicationError):
        registration.register_birth(
            application.pk,
            act_number="120269000124",
            act_date=datetime.date(2026, 10, 5),
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_both_parents_confirming_at_once_make_one_application(write_csv, parents):
    """Each parent on a connection of their own, at the same moment."""
    import threading

    from django.db import connections

    mother, father = parents
    import_births(
        write_csv,
        [
            birth(
                "H-7",
                mother.snils,
                father_snils=father.snils,
                act_number="",
                act_date="",
            )
        ],
    )
    offers = {o.citizen_id: o.pk for o in registration_offers()}
    start = threading.Barrier(2)
    outcomes = []

    def confirm(citizen):
        try:
            start.wait()
            services.accept_offer(citizen, offers[citizen.pk])
            outcomes.append("applied")
        except services.OfferError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm, args=(p,)) for p in parents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["applied", "refused"]
    assert Application.objects.filter(service__code=REGISTRATION).count() == 1
    assert registration_offers().filter(status="withdrawn").count() == 1


def test_an_act_number_a_civil_registry_record_carries_is_taken(
    write_csv, parents, admin_client
):
    application = submitted(write_csv, parents, "H-7")
    other_mother = CitizenFactory()
    import_births(
        write_csv,
        [birth("Z-7", other_mother.snils, act_number="168305483898")],
        name="Z-7.csv",
    )

    page = act(
        admin_client,
        application,
        "register-birth",
        act_number="168305483898",
        act_date="2026-10-05",
    )

    assert "уже зарегистрирована" in page
    assert not BirthRegistration.objects.exists()


def test_a_corrected_child_name_must_be_a_name(write_csv, parents):
    mother, father = parents
    import_births(
        write_csv,
        [birth("H-9", mother.snils, father_snils=father.snils, act_number="")],
        name="H-9.csv",
    )
    offer = registration_offers(mother).get()

    for bad in ("123<script>alert(1)</script>", "x" * 61, "Анна--Мария"):
        with pytest.raises(services.CorrectionError):
            services.accept_offer(mother, offer.pk, {"child_first_name": bad})
        offer.refresh_from_db()
        assert offer.status == Offer.Status.OFFERED

    # A field cleared is refused, naming it; a field not sent is kept.
    with pytest.raises(services.CorrectionError) as refused:
        services.accept_offer(
            mother, offer.pk, {"child_first_name": "Анна", "child_middle_name": " "}
        )
    assert list(refused.value.errors) == ["child_middle_name"]
    assert "Отчество ребёнка" in str(refused.value)

    application = services.accept_offer(
        mother, offer.pk, {"child_first_name": "Анна-Мария"}
    )
    assert application.data["child_first_name"] == "Анна-Мария"
    assert application.data["child_middle_name"] == offer.prefill["child_middle_name"]
