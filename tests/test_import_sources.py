"""Every source, in CSV, JSON Lines and the agencies' own messages."""

import gzip
import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from cabinet.models import Citizen, ProfileChange
from events.models import (
    ImportBatch,
    LifeEvent,
    RegistryRecord,
    RejectedRow,
    UnmatchedDeath,
)
from events.services import evaluate_batch
from notifications.models import Notification
from offers.models import Offer
from tests.conftest import REAL_SAMPLES
from tests.factories import CitizenFactory, next_snils
from tests.helpers import (
    BIRTHS_HEADER,
    DEATHS_HEADER,
    DISABILITY_HEADER,
    PAYMENTS_HEADER,
    POPULATION_HEADER,
    PASSWORD,
    TAX_HEADER,
    birth,
    death,
    official_login,
    person,
)

pytestmark = pytest.mark.django_db

needs_samples = pytest.mark.skipif(
    not REAL_SAMPLES.exists(), reason="../shared/real-samples absent"
)


def rejections(summary):
    return {
        (row.line, row.column): row.reason
        for row in RejectedRow.objects.filter(batch_id=summary["batch_id"])
    }


# Disability -------------------------------------------------------------------


def test_disability_rows_make_events_and_wait_for_unknown_people(write_csv, run_import):
    known = CitizenFactory()
    unknown = next_snils()
    path = write_csv(
        "d.csv",
        DISABILITY_HEADER,
        [
            ["D1", known.snils, "2", "2026-03-01", "", "общее заболевание", "Бюро 5"],
            ["D2", unknown, "child", "01.02.2026", "01.02.2028", "", ""],
            ["D3", known.snils, "5", "2026-03-01", "", "", ""],
            ["D4", known.snils, "1", "2026-03-01", "2025-01-01", "", ""],
        ],
    )

    summary = run_import("disability", path)

    assert (summary["read"], summary["stored"], summary["rejected"]) == (4, 2, 2)
    first = LifeEvent.objects.get(record_id="D1")
    assert first.event_type == "disability" and first.citizen == known
    assert first.data == {
        "group": "2",
        "established_on": "2026-03-01",
        "valid_until": "",
        "next_examination": "",
        "cause": "общее заболевание",
        "office": "Бюро 5",
    }
    assert LifeEvent.objects.get(record_id="D2").citizen is None
    reasons = rejections(summary)
    assert "группа инвалидности" in reasons[(4, "group")]
    assert "раньше" in reasons[(5, "valid_until")]

    run_import(
        "population", write_csv("p.csv", POPULATION_HEADER, [person("P9", unknown)])
    )
    assert LifeEvent.objects.get(record_id="D2").citizen.snils == unknown


FRI = """<?xml version="1.0"?>
<fri:ВыпискаФРИ xmlns:fri="http://fri.pfr.ru">
  <fri:Идентификатор>{record_id}</fri:Идентификатор>
  <fri:ПерсональныеДанные>
    <fri:СНИЛС>{snils}</fri:СНИЛС>
    <fri:АктуальныеСведенияОбИнвалидности>
      <fri:ДатаС>2025-11-11</fri:ДатаС><fri:ДатаПо>2027-06-20</fri:ДатаПо>
      <fri:ОчередноеОсвидетельствование>2027-06-19</fri:ОчередноеОсвидетельствование>
      <fri:ГруппаИнвалидности>{group}</fri:ГруппаИнвалидности>
      <fri:НаименованиеПричиныИнвалидности>Инвалидность с детства</fri:НаименованиеПричиныИнвалидности>
    </fri:АктуальныеСведенияОбИнвалидности>
  </fri:ПерсональныеДанные>
</fri:ВыпискаФРИ>
"""


def test_fri_extracts_in_a_folder(tmp_path, run_import):
    citizen = CitizenFactory()
    folder = tmp_path / "fri"
    folder.mkdir()
    (folder / "a.xml").write_text(
        FRI.format(record_id="F-1", snils=citizen.snils, group="4")
    )
    (folder / "b.xml").write_text(FRI.format(record_id="F-2", snils="123", group="2"))

    summary = run_import("disability", folder)

    assert (summary["read"], summary["stored"], summary["rejected"]) == (2, 1, 1)
    event = LifeEvent.objects.get(record_id="F-1")
    assert (
        event.data["group"] == "child"
        and event.data["next_examination"] == "2027-06-19"
    )
    assert event.citizen == citizen
    assert "11 цифр" in rejections(summary)[(2, "snils")]


@needs_samples
def test_the_real_fri_extract_is_stored_though_its_snils_has_no_check_number(
    tmp_path, run_import
):
    """The ФРИ sample's SNILS (000-000-600 01) is below 001-001-998."""
    copy = tmp_path / "fri.xml"
    shutil.copy(REAL_SAMPLES / "fri" / "fri-extract.xml", copy)

    summary = run_import("disability", copy)

    assert (summary["read"], summary["stored"]) == (1, 1)
    event = LifeEvent.objects.get()
    assert event.subject_snils == "00000060001"
    assert event.data["group"] == "child" and str(event.occurred_on) == "2004-11-11"


# Deaths -----------------------------------------------------------------------


@pytest.fixture
def mother_with_offer(write_csv, run_import):
    mother = CitizenFactory(consenting=True)
    summary = run_import(
        "births", write_csv("b.csv", BIRTHS_HEADER, [birth("B1", mother.snils)])
    )
    evaluate_batch(summary["batch_id"])
    assert Offer.objects.filter(citizen=mother, status="offered").exists()
    return mother


def test_a_death_by_snils_stops_proactive_work_and_withdraws_offers_silently(
    mother_with_offer, write_csv, run_import
):
    notifications = Notification.objects.count()
    path = write_csv(
        "deaths.csv", DEATHS_HEADER, [death("X1", mother_with_offer.snils)]
    )

    summary = run_import("deaths", path)

    assert (summary["stored"], summary["unmatched"]) == (1, 0)
    mother_with_offer.refresh_from_db()
    assert str(mother_with_offer.death_date) == "2026-11-20"
    offer = Offer.objects.get(citizen=mother_with_offer)
    assert offer.status == "withdrawn" and offer.status_reason
    assert Notification.objects.count() == notifications  # nobody is told
    change = ProfileChange.objects.get(citizen=mother_with_offer)
    assert (change.field, change.new_value, change.source) == (
        "death_date",
        "2026-11-20",
        "deaths",
    )


def test_a_death_without_snils_is_matched_by_passport(write_csv, run_import):
    citizen = CitizenFactory(passport_series="4601", passport_number="777888")
    CitizenFactory()  # same name and birth date, other passport
    path = write_csv(
        "deaths.csv",
        DEATHS_HEADER,
        [death("X1", passport_series="46 01", passport_number="777888")],
    )

    summary = run_import("deaths", path)

    assert summary["unmatched"] == 0
    citizen.refresh_from_db()
    assert citizen.death_date is not None
    assert Citizen.objects.filter(death_date__isnull=True).count() == 1


def test_a_death_without_snils_is_matched_by_name_and_birth_date_when_one_fits(
    write_csv, run_import
):
    citizen = CitizenFactory(last_name="Ёжикова")
    CitizenFactory(last_name="Ежикова")  # е and ё are different letters
    path = write_csv("deaths.csv", DEATHS_HEADER, [death("X1", last_name="ЁЖИКОВА")])

    summary = run_import("deaths", path)

    assert summary["unmatched"] == 0
    assert Citizen.objects.get(death_date__isnull=False) == citizen


def test_an_ambiguous_death_waits_in_the_queue_and_an_official_resolves_it(
    write_csv, run_import, client, django_user_model
):
    first, second = CitizenFactory(consenting=True), CitizenFactory()
    Offer_count = Offer.objects.count()
    path = write_csv(
        "deaths.csv", DEATHS_HEADER, [death("X1"), death("X2", last_name="Нет")]
    )

    summary = run_import("deaths", path)

    assert (summary["stored"], summary["unmatched"]) == (2, 2)
    assert (
        summary["read"]
        == summary["stored"]
        + summary["updated"]
        + summary["duplicates"]
        + summary["rejected"]
    )
    queue = {u.registry_record.record_id: u for u in UnmatchedDeath.objects.all()}
    assert (queue["X1"].reason, queue["X1"].candidates) == ("several", 2)
    assert queue["X2"].reason == "none"
    assert not Citizen.objects.filter(death_date__isnull=False).exists()
    assert Offer.objects.count() == Offer_count

    official = django_user_model.objects.create_superuser("official", password=PASSWORD)
    official_login(client, official)
    url = f"/admin/events/unmatcheddeath/{queue['X1'].pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"citizen": second.pk})

    assert response.status_code == 302
    second.refresh_from_db()
    assert str(second.death_date) == "2026-11-20"
    first.refresh_from_db()
    assert first.death_date is None
    resolved = UnmatchedDeath.objects.get(pk=queue["X1"].pk)
    assert resolved.citizen == second and resolved.resolved_by == "official"
    assert LifeEvent.objects.get(record_id="X1").citizen == second


def test_a_population_record_does_not_undo_a_reported_death(write_csv, run_import):
    snils = next_snils()
    run_import(
        "population", write_csv("p.csv", POPULATION_HEADER, [person("P1", snils)])
    )
    run_import(
        "deaths",
        write_csv(
            "d.csv",
            DEATHS_HEADER,
            [death("X1", snils, last_name="Петрова", first_name="Алёна")],
        ),
    )
    run_import(
        "population",
        write_csv(
            "p2.csv", POPULATION_HEADER, [person("P1", snils, address="г. Тверь, 2")]
        ),
    )
    assert str(Citizen.objects.get(snils=snils).death_date) == "2026-11-20"


def test_a_death_for_an_unknown_snils_waits_and_applies_when_the_person_arrives(
    write_csv, run_import
):
    snils = next_snils()
    summary = run_import(
        "deaths", write_csv("d.csv", DEATHS_HEADER, [death("X1", snils)])
    )
    assert summary["unmatched"] == 0 and LifeEvent.objects.get().citizen is None

    run_import(
        "population", write_csv("p.csv", POPULATION_HEADER, [person("P1", snils)])
    )

    assert str(Citizen.objects.get(snils=snils).death_date) == "2026-11-20"


def test_implausible_deaths_are_rejected(write_csv, run_import):
    path = write_csv(
        "d.csv",
        DEATHS_HEADER,
        [death("X1", death_date="1980-01-01"), death("X2", death_date="2099-01-01")],
    )
    summary = run_import("deaths", path)
    assert summary["rejected"] == 2
    reasons = rejections(summary)
    assert "раньше даты рождения" in reasons[(2, "death_date")]
    assert "в будущем" in reasons[(3, "death_date")]


FATAL = """<?xml version="1.0" encoding="utf-8"?>
<FATALRequest xmlns="urn://x-artefacts-zags-fatal/root/112-02/4.0.6"
  xmlns:t="urn://x-artefacts-zags-fatal/types/4.0.6" ИдСвед="{record_id}">
  <СведРегСмерт НомерЗапис="170269000555"><ДатаЗапис>2026-11-21</ДатаЗапис>
    <СведУмер>
      <ФИОУмер><t:Фамилия>Иванова</t:Фамилия><t:Имя>Мария</t:Имя><t:Отчество>Петровна</t:Отчество></ФИОУмер>
      <ДатаРождКаленд>1990-05-17+03:00</ДатаРождКаленд>
      <УдЛичнФЛ><t:СерДок>45 10</t:СерДок><t:НомДок>123456</t:НомДок></УдЛичнФЛ>
      <ДатаСмертКаленд>2026-11-19</ДатаСмертКаленд>
    </СведУмер>
  </СведРегСмерт>
</FATALRequest>
"""


def test_fatal_request_messages_are_matched_by_passport(tmp_path, run_import):
    citizen = CitizenFactory(passport_series="4510", passport_number="123456")
    path = tmp_path / "fatal.xml.gz"
    path.write_bytes(gzip.compress(FATAL.format(record_id="F-1").encode()))

    summary = run_import("deaths", path)

    assert summary["file_format"] == "fatal" and summary["stored"] == 1
    citizen.refresh_from_db()
    assert str(citizen.death_date) == "2026-11-19"


def test_a_response_message_is_refused_as_a_whole(tmp_path):
    path = tmp_path / "resp.xml"
    path.write_text('<FATALResponse xmlns="urn://x"><Ответ/></FATALResponse>')
    with pytest.raises(CommandError, match="ответное сообщение FATALResponse"):
        call_command("import_registry", "deaths", str(path))
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.FAILED and "FATALResponse" in batch.error


def test_a_death_message_given_as_disability_is_refused(tmp_path):
    path = tmp_path / "fatal.xml"
    path.write_text(FATAL.format(record_id="F-1"))
    with pytest.raises(CommandError, match="сведения о смерти"):
        call_command("import_registry", "disability", str(path))


# Payments and tax -------------------------------------------------------------


def test_payments_with_amounts_in_every_written_form(write_csv, run_import):
    citizen = CitizenFactory()
    rows = [
        [
            "Y1",
            citizen.snils,
            "maternity_capital",
            "12 345,67",
            "2026-12-01",
            "scheduled",
        ],
        ["Y2", citizen.snils, "child_benefit", "1000", "01.12.2026", "CREDITED"],
        ["Y3", citizen.snils, "child_benefit", "12,3,4", "2026-12-01", "scheduled"],
        ["Y4", citizen.snils, "child_benefit", "10", "2026-12-01", "lost"],
    ]
    summary = run_import("payments", write_csv("pay.csv", PAYMENTS_HEADER, rows))

    assert (summary["stored"], summary["rejected"]) == (2, 2)
    assert LifeEvent.objects.get(record_id="Y1").data["amount"] == "12345.67"
    assert LifeEvent.objects.get(record_id="Y2").data["status"] == "credited"
    reasons = rejections(summary)
    assert "сумма" in reasons[(4, "amount")]
    assert "статус выплаты" in reasons[(5, "status")]


@needs_samples
def test_the_real_egisso_fact_with_decimal_comma_and_zoned_dates(tmp_path, run_import):
    copy = tmp_path / "egisso.xml"
    shutil.copy(REAL_SAMPLES / "egisso" / "10.06.S-1.0.7.data.xml", copy)

    summary = run_import("payments", copy)

    assert (summary["read"], summary["stored"], summary["rejected"]) == (1, 1, 0)
    event = LifeEvent.objects.get()
    assert event.record_id == "35905ecc-c283-4675-96d7-b7a11343102c"
    assert event.data["amount"] == "14506.00"
    assert str(event.occurred_on) == "2019-05-01"  # +04:00 keeps the calendar day
    assert event.subject_snils == "05686067192"


def test_tax_notices_link_by_inn_now_or_when_the_person_arrives(write_csv, run_import):
    known = CitizenFactory(inn="500100732259")
    rows = [
        ["T1", "500100732259", "property", "1 200,00", "2026-12-01", "2025"],
        ["T2", "7707083893", "land", "100", "2026-12-01", "2025"],
        ["T3", "500100732250", "land", "100", "2026-12-01", "2025"],
    ]
    summary = run_import("tax", write_csv("tax.csv", TAX_HEADER, rows))

    assert (summary["stored"], summary["rejected"]) == (1, 2)
    event = LifeEvent.objects.get(record_id="T1")
    assert event.citizen == known and event.data["period_year"] == 2025
    reasons = rejections(summary)
    assert "12 цифр" in reasons[(3, "inn")]
    assert "контрольные" in reasons[(4, "inn")]

    snils = next_snils()
    inn = "772855454144"
    run_import(
        "tax",
        write_csv(
            "tax2.csv", TAX_HEADER, [["T4", inn, "land", "5", "2026-12-01", "2025"]]
        ),
    )
    assert LifeEvent.objects.get(record_id="T4").citizen is None
    run_import(
        "population",
        write_csv("p.csv", POPULATION_HEADER, [person("P1", snils, inn=inn)]),
    )
    assert LifeEvent.objects.get(record_id="T4").citizen.snils == snils


# JSON Lines, FHIR -------------------------------------------------------------


def test_births_as_gzipped_json_lines(tmp_path, run_import):
    mother = next_snils()
    path = tmp_path / "births.jsonl.gz"
    rows = [
        {
            "record_id": "J1",
            "child_last_name": "Ёлкин",
            "child_first_name": "Иван",
            "child_birth_date": "2026-10-01",
            "child_sex": "M",
            "mother_snils": mother,
            "birth_order": 2,
            "stillborn": False,
        },
        {
            "record_id": "J2",
            "child_last_name": "Ёлкин",
            "child_first_name": "Пётр",
            "child_birth_date": "2026-10-01",
            "child_sex": "M",
            "mother_snils": mother,
            "birth_order": 3,
            "stillborn": True,
        },
        "not an object",
    ]
    text = (
        "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n{broken\n"
    )
    path.write_bytes(gzip.compress(text.encode()))

    summary = run_import("births", path)

    assert summary["file_format"] == "jsonl"
    assert (summary["read"], summary["stored"], summary["rejected"]) == (4, 2, 2)
    assert LifeEvent.objects.get(record_id="J1").data["child_last_name"] == "Ёлкин"
    assert LifeEvent.objects.get(record_id="J2").data["stillborn"] is True
    assert set(rejections(summary)) == {(3, ""), (4, "")}


def test_json_lines_without_a_required_key_is_refused(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"record_id": "P1", "last_name": "Иванов"}\n')
    with pytest.raises(CommandError, match="snils"):
        call_command("import_registry", "population", str(path))


def fhir_bundle(record_id, mother_snils, stillborn=False, mother_born="1990-01-01"):
    child = {
        "resourceType": "Patient",
        "id": "child",
        "gender": "male",
        "birthDate": "2026-10-02",
        "name": [{"family": "Ёлкин", "given": ["Лев"]}],
    }
    mother = {
        "resourceType": "RelatedPerson",
        "id": "mother",
        "patient": {"reference": "Patient/child"},
        "relationship": [{"coding": [{"code": "MTH"}]}],
        "birthDate": mother_born,
        "identifier": [{"system": "urn:oid:1.2.643.100.3", "value": mother_snils}],
    }
    composition = {
        "resourceType": "Composition",
        "id": "c",
        "type": {"coding": [{"code": "69045-3" if stillborn else "68998-4"}]},
        "subject": {"reference": "Patient/child"},
    }
    order = {
        "resourceType": "Observation",
        "code": {"coding": [{"code": "11638-4"}]},
        "valueInteger": 1,
    }
    return {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {"value": record_id},
        "entry": [{"resource": r} for r in (composition, child, mother, order)],
    }


def test_fhir_birth_documents_as_ndjson(tmp_path, run_import):
    mother = CitizenFactory(consenting=True)
    path = tmp_path / "births.ndjson"
    path.write_text(
        "\n".join(
            json.dumps(b)
            for b in (
                fhir_bundle("H1", mother.snils),
                fhir_bundle("H2", mother.snils, stillborn=True),
                fhir_bundle("H3", mother.snils, mother_born="2027-01-01"),
            )
        )
    )

    summary = run_import("births", path)

    assert summary["file_format"] == "fhir"
    assert (summary["read"], summary["stored"], summary["rejected"]) == (3, 2, 1)
    live = LifeEvent.objects.get(record_id="H1")
    assert live.citizen == mother and live.data["birth_order"] == 2
    assert live.data["child_first_name"] == "Лев"
    # The stillbirth is stored and offers nothing.
    assert LifeEvent.objects.get(record_id="H2").data["stillborn"] is True
    evaluate_batch(summary["batch_id"])
    assert set(Offer.objects.values_list("event__record_id", flat=True)) == {"H1"}
    assert "неправдоподобна" in rejections(summary)[(3, "mother_birth_date")]


@needs_samples
def test_the_real_fhir_bundle_names_no_snils_and_is_rejected_saying_so(
    tmp_path, run_import
):
    copy = tmp_path / "bundle.json"
    shutil.copy(REAL_SAMPLES / "fhir-birth" / "bfdr-live-birth-bundle.json", copy)

    summary = run_import("births", copy)

    assert (summary["read"], summary["rejected"]) == (1, 1)
    reason = rejections(summary)[(1, "mother_snils")]
    assert "urn:oid:1.2.643.100.3" in reason and "us-ssn" in reason


# Profile history, dry run -----------------------------------------------------


def test_population_changes_are_kept_as_profile_history(write_csv, run_import):
    snils = next_snils()
    run_import(
        "population", write_csv("a.csv", POPULATION_HEADER, [person("P1", snils)])
    )
    assert not ProfileChange.objects.exists()

    summary = run_import(
        "population",
        write_csv(
            "b.csv",
            POPULATION_HEADER,
            [person("P1", snils, phone="+7 (4822) 33-44-55", address="г. Тверь, д. 7")],
        ),
    )

    changes = {
        c.field: (c.old_value, c.new_value, c.source, c.record_id, str(c.batch_id))
        for c in ProfileChange.objects.all()
    }
    assert changes == {
        "phone": (
            "+79123456789",
            "+74822334455",
            "population",
            "P1",
            summary["batch_id"],
        ),
        "address": (
            "г. Тверь, ул. Советская, д. 5",
            "г. Тверь, д. 7",
            "population",
            "P1",
            summary["batch_id"],
        ),
    }
    citizen = Citizen.objects.get(snils=snils)
    assert citizen.phone == "+74822334455" and not citizen.phone_is_mobile


def test_a_new_phone_from_the_registry_is_not_taken_as_verified(
    write_csv, run_import
):
    """Regression: the population registry changed a citizen's phone and
    the portal kept phone_verified_at, so SMS replies from the new number
    acted on the citizen's offers."""
    from django.utils import timezone

    kept, changed = next_snils(), next_snils()
    rows = [person("P1", kept), person("P2", changed)]
    run_import("population", write_csv("a.csv", POPULATION_HEADER, rows))
    proved = timezone.now()
    Citizen.objects.update(phone_verified_at=proved)

    rows = [
        person("P1", kept, address="г. Тверь, д. 7"),
        person("P2", changed, phone="+7 916 000-11-22"),
    ]
    run_import("population", write_csv("b.csv", POPULATION_HEADER, rows))

    assert Citizen.objects.get(snils=kept).phone_verified_at == proved
    citizen = Citizen.objects.get(snils=changed)
    assert citizen.phone == "+79160001122" and citizen.phone_verified_at is None


def test_dry_run_reports_and_stores_nothing(write_csv, run_import):
    path = write_csv(
        "p.csv",
        POPULATION_HEADER,
        [person("P1"), person("P2", birth_date="31.02.2001")],
    )

    summary = run_import("population", path, "--dry-run")

    assert summary["dry_run"] and (summary["stored"], summary["rejected"]) == (1, 1)
    assert "P2" in open(summary["report"], encoding="utf-8").read()
    assert not Citizen.objects.exists() and not ImportBatch.objects.exists()
    assert not RegistryRecord.objects.exists()


def test_a_death_in_the_population_registry_withdraws_open_offers(
    mother_with_offer, write_csv, run_import
):
    row = person("P1", mother_with_offer.snils, death_date="2026-11-25")
    run_import("population", write_csv("p.csv", POPULATION_HEADER, [row]))

    assert Offer.objects.get(citizen=mother_with_offer).status == "withdrawn"


def test_progress_is_plain_lines_when_not_on_a_terminal(write_csv, capsys, monkeypatch):
    from events.management.commands import import_registry

    monkeypatch.setattr(import_registry, "PLAIN_PROGRESS_EVERY", 0)
    path = write_csv("p.csv", POPULATION_HEADER, [person(f"P{i}") for i in range(3)])

    call_command("import_registry", "population", str(path))

    captured = capsys.readouterr()
    assert "прочитано записей: 3\n" in captured.err and "\r" not in captured.err
    line = captured.out.strip().splitlines()[0]
    for word in (
        "прочитано 3",
        "сохранено 3",
        "исправлено 0",
        "повторов 0",
        "отклонено 0",
        "не сопоставлено 0",
    ):
        assert word in line
    assert str(ImportBatch.objects.get().id) in line


def test_format_named_against_the_content_is_refused(write_csv):
    path = write_csv("p.csv", POPULATION_HEADER, [person("P1")])
    with pytest.raises(CommandError, match="указан формат jsonl"):
        call_command("import_registry", "population", str(path), "--format", "jsonl")


EGISSO_FACT = """
      <ns1:fact>
        <ns2:mszReceiver><ns3:SNILS>{snils}</ns3:SNILS></ns2:mszReceiver>
        <ns2:lmszId>child_benefit</ns2:lmszId>
        <ns2:dateStart>2026-12-01+03:00</ns2:dateStart>
        <ns2:assignmentInfo><ns2:monetaryForm><ns2:amount>{amount}</ns2:amount>
        </ns2:monetaryForm></ns2:assignmentInfo>
        <ns1:uuid>{record_id}</ns1:uuid>
      </ns1:fact>"""


def test_an_egisso_package_of_many_facts_names_the_line_of_a_bad_one(
    tmp_path, run_import
):
    citizen = CitizenFactory()
    facts = "".join(
        EGISSO_FACT.format(snils=snils, amount=amount, record_id=f"E-{i}")
        for i, (snils, amount) in enumerate(
            [(citizen.snils, "1 000,50"), (citizen.snils, "abc"), (citizen.snils, "7")]
        )
    )
    path = tmp_path / "egisso.xml"
    path.write_text(
        '<ns:data xmlns:ns="urn://egisso-ru/msg/10.06.S/1.0.8"'
        ' xmlns:ns1="urn://egisso-ru/types/package-RAF/1.0.9"'
        ' xmlns:ns2="urn://egisso-ru/types/assignment-fact/1.0.8"'
        ' xmlns:ns3="urn://egisso-ru/types/prsn-info/1.0.4">'
        f"<ns1:package><ns1:elements>{facts}\n</ns1:elements></ns1:package></ns:data>"
    )

    summary = run_import("payments", path)

    assert (summary["read"], summary["stored"], summary["rejected"]) == (3, 2, 1)
    assert LifeEvent.objects.get(record_id="E-0").data["amount"] == "1000.50"
    # The second fact starts on line 10 of the file.
    assert "сумма" in rejections(summary)[(10, "amount")]


def test_an_unmatched_death_is_resolved_once(write_csv, run_import):
    from events.services import resolve_unmatched_death

    citizen = CitizenFactory()
    run_import("deaths", write_csv("d.csv", DEATHS_HEADER, [death("X1", last_name="Нет")]))
    unmatched = UnmatchedDeath.objects.get()
    resolve_unmatched_death(unmatched, citizen, "official")

    with pytest.raises(ValueError, match="уже разобрана"):
        resolve_unmatched_death(unmatched, CitizenFactory(), "other")
    citizen.refresh_from_db()
    assert str(citizen.death_date) == "2026-11-20"
    assert Citizen.objects.filter(death_date__isnull=False).count() == 1


def test_a_father_born_after_his_child_is_rejected(write_csv, run_import):
    mother, father = CitizenFactory(), CitizenFactory(birth_date="2026-10-15")
    row = birth("B1", mother.snils, father_snils=father.snils)

    summary = run_import("births", write_csv("b.csv", BIRTHS_HEADER, [row]))

    assert summary["rejected"] == 1
    assert "неправдоподобна" in rejections(summary)[(2, "father_snils")]
