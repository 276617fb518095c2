"""import_registry through its command-line interface."""

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cabinet.models import Citizen
from events.models import ImportBatch, LifeEvent, RegistryRecord, RejectedRow
from tests.conftest import REAL_SAMPLES
from tests.factories import CitizenFactory, next_snils
from tests.helpers import (
    BIRTHS_HEADER,
    DEATHS_HEADER,
    POPULATION_HEADER,
    birth,
    death,
    person,
)

pytestmark = pytest.mark.django_db


def test_population_rows_create_citizens_with_normalized_values(write_csv, run_import):
    snils = next_snils()
    path = write_csv("population.csv", POPULATION_HEADER, [person("P1", snils)])

    summary = run_import("population", path)

    assert summary["read"] == 1 and summary["stored"] == 1 and summary["rejected"] == 0
    citizen = Citizen.objects.get(snils=snils)
    assert citizen.first_name == "Алёна"  # ё is kept
    assert citizen.sex == "F"
    assert str(citizen.birth_date) == "1992-03-15"
    assert citizen.phone == "+79123456789" and citizen.phone_is_mobile
    assert citizen.proactive_mode is True


def test_reimporting_a_file_changes_nothing(write_csv, run_import):
    path = write_csv("population.csv", POPULATION_HEADER, [person("P1"), person("P2")])
    run_import("population", path)
    before = list(Citizen.objects.order_by("id").values())

    first = ImportBatch.objects.get()

    # The same content is recognised by its hash and not read again.
    summary = run_import("population", path)
    assert summary["same_file_as"] == str(first.id) and summary["read"] == 0
    assert ImportBatch.objects.count() == 1

    # Read again on purpose, every record is a duplicate.
    summary = run_import("population", path, "--force")
    assert summary["stored"] == 0 and summary["updated"] == 0
    assert summary["duplicates"] == 2
    assert list(Citizen.objects.order_by("id").values()) == before
    assert RegistryRecord.objects.filter(source="population").count() == 2


def test_a_correction_updates_the_citizen_and_keeps_the_earlier_version(
    write_csv, run_import
):
    snils = next_snils()
    run_import("population", write_csv("a.csv", POPULATION_HEADER, [person("P1", snils)]))

    corrected = write_csv(
        "b.csv", POPULATION_HEADER, [person("P1", snils, last_name="Сидорова")]
    )
    summary = run_import("population", corrected)

    assert summary["updated"] == 1 and summary["stored"] == 0
    assert Citizen.objects.get(snils=snils).last_name == "Сидорова"
    record = RegistryRecord.objects.get(source="population", record_id="P1")
    assert record.version == 2
    assert record.versions.get().data["last_name"] == "Петрова"


def test_rejected_rows_name_their_line_column_and_reason(write_csv, run_import):
    rows = [
        person("P1"),
        person("P2", snils="112-233-445 96"),
        person("P3", birth_date="31.02.1990"),
        person("P4", last_name=""),
    ]
    path = write_csv("population.csv", POPULATION_HEADER, rows)

    summary = run_import("population", path)

    assert summary["read"] == 4
    assert summary["stored"] == 1 and summary["rejected"] == 3
    rejected = {
        (row.line, row.record_id, row.column): row.reason
        for row in RejectedRow.objects.filter(batch_id=summary["batch_id"])
    }
    assert "контрольное число" in rejected[(3, "P2", "snils")]
    assert "не существует" in rejected[(4, "P3", "birth_date")]
    assert "обязательное" in rejected[(5, "P4", "last_name")]
    report = open(summary["report"], encoding="utf-8").read()
    assert "P2" in report and "P3" in report and "P4" in report


def test_a_number_of_the_wrong_length_is_rejected_saying_how_many_digits(
    write_csv, run_import
):
    """Regression: the reason read "серия паспорта: нужно 4 цифр", a
    count in the wrong form of the noun."""
    rows = [
        person("P1", passport_series="451"),
        person("P2", passport_number="65432"),
        person("P3", region_code="7"),
    ]
    path = write_csv("population.csv", POPULATION_HEADER, rows)

    summary = run_import("population", path)

    rejected = {
        row.column: row.reason
        for row in RejectedRow.objects.filter(batch_id=summary["batch_id"])
    }
    assert rejected["passport_series"] == "серия паспорта состоит из 4 цифр: '451'"
    assert rejected["passport_number"] == "номер паспорта состоит из 6 цифр: '65432'"
    assert rejected["region_code"] == "код региона состоит из 2 цифр: '7'"


def test_a_missing_required_column_refuses_the_whole_file(write_csv):
    header = [name for name in POPULATION_HEADER if name != "snils"]
    row = person("P1")
    del row[POPULATION_HEADER.index("snils")]
    path = write_csv("population.csv", header, [row])

    with pytest.raises(CommandError, match="snils"):
        call_command("import_registry", "population", str(path))

    assert Citizen.objects.count() == 0
    assert ImportBatch.objects.get().status == ImportBatch.Status.FAILED


def test_the_sample_population_given_as_deaths_is_refused_as_a_whole():
    """Regression: a population dump carries every deaths column (death_date
    included), so it was read row by row as deaths instead of refused."""
    path = Path(__file__).resolve().parent.parent / "samples" / "population.csv"

    with pytest.raises(CommandError, match="выгрузка источника population"):
        call_command("import_registry", "deaths", str(path))

    assert not RegistryRecord.objects.exists() and not RejectedRow.objects.exists()
    assert ImportBatch.objects.get().status == ImportBatch.Status.FAILED


def test_a_population_dump_in_json_lines_given_as_deaths_kills_nobody(tmp_path):
    citizen = CitizenFactory()
    row = dict(zip(POPULATION_HEADER, person("P1", citizen.snils), strict=True))
    row["death_date"] = "2026-11-20"
    path = tmp_path / "population.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")

    with pytest.raises(CommandError, match="sex"):
        call_command("import_registry", "deaths", str(path))

    citizen.refresh_from_db()
    assert citizen.death_date is None and not LifeEvent.objects.exists()


def test_a_deaths_dump_with_columns_of_its_own_is_still_read(write_csv, run_import):
    """Unknown columns are ignored: only another source's own required
    columns make a header another source's."""
    header = [*DEATHS_HEADER, "act_number", "act_place"]
    row = [*death("D1", snils="", last_name="Нет"), "170269000001", "г. Тверь"]

    summary = run_import("deaths", write_csv("d.csv", header, [row]))

    assert summary["stored"] == 1 and summary["unmatched"] == 1


def _refuse_by_name(tmp_path):
    return tmp_path / "absent.csv"


def _refuse_by_content(tmp_path):
    path = tmp_path / "resp.xml"
    path.write_text('<FATALResponse xmlns="urn://x"><Ответ/></FATALResponse>')
    return path


def _refuse_by_header(tmp_path):
    path = tmp_path / "no-snils.csv"
    path.write_text("record_id;last_name\nP1;Петрова\n", encoding="utf-8")
    return path


def _refuse_half_way(tmp_path):
    rows = "".join(";".join(person(f"P{i}")) + "\n" for i in range(5000))
    whole = gzip.compress((";".join(POPULATION_HEADER) + "\n" + rows).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    return path


@pytest.mark.parametrize(
    "make",
    [_refuse_by_name, _refuse_by_content, _refuse_by_header, _refuse_half_way],
    ids=["missing file", "response message", "missing column", "cut gzip"],
)
def test_every_refused_file_is_recorded_as_one_failed_batch(make, tmp_path):
    """Regression: refusals found before reading left no batch, those found
    while reading a failed one. Now each leaves one failed batch with its
    reason, and a dry run none."""
    path = make(tmp_path)

    with pytest.raises(CommandError) as error:
        call_command("import_registry", "population", str(path))
    with pytest.raises(CommandError):
        call_command("import_registry", "population", str(path), "--dry-run")

    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.FAILED and batch.finished_at
    assert batch.error and batch.error in str(error.value)
    assert batch.file_name == path.name
    assert not Citizen.objects.exists() and not RegistryRecord.objects.exists()


def test_windows_1251_with_commas_and_odd_header_case(write_csv, run_import):
    header = [f" {name.upper()} " for name in POPULATION_HEADER]
    path = write_csv(
        "population.csv", header, [person("P1")], delimiter=",", encoding="cp1251",
        newline="\r\n",
    )

    summary = run_import("population", path)

    assert summary["stored"] == 1
    assert Citizen.objects.get().first_name == "Алёна"


def test_a_file_that_is_not_a_dump_is_refused(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(CommandError, match="двоичный"):
        call_command("import_registry", "population", str(path))


def test_a_repeated_record_id_with_other_content_is_rejected(write_csv, run_import):
    snils = next_snils()
    path = write_csv(
        "population.csv",
        POPULATION_HEADER,
        [person("P1", snils), person("P1", snils), person("P1", snils, last_name="Другая")],
    )
    summary = run_import("population", path)
    assert (summary["stored"], summary["duplicates"], summary["rejected"]) == (1, 1, 1)
    assert summary["read"] == summary["stored"] + summary["duplicates"] + summary["rejected"]


def test_births_make_events_for_mother_and_father(write_csv, run_import):
    mother, father = next_snils(), next_snils()
    run_import(
        "population",
        write_csv("p.csv", POPULATION_HEADER, [person("P1", mother), person("P2", father, sex="M")]),
    )
    path = write_csv(
        "births.csv", BIRTHS_HEADER, [birth("B1", mother, father_snils=father)]
    )

    summary = run_import("births", path)

    assert summary["stored"] == 1
    events = {event.role: event for event in LifeEvent.objects.filter(record_id="B1")}
    assert set(events) == {"mother", "father"}
    assert events["mother"].citizen.snils == mother
    assert events["mother"].data["birth_order"] == 2
    assert events["mother"].data["stillborn"] is False


def test_a_birth_for_an_unknown_mother_waits_and_is_linked_later(write_csv, run_import):
    mother = next_snils()
    run_import("births", write_csv("b.csv", BIRTHS_HEADER, [birth("B1", mother)]))
    assert LifeEvent.objects.get().citizen is None

    run_import("population", write_csv("p.csv", POPULATION_HEADER, [person("P1", mother)]))

    assert LifeEvent.objects.get().citizen.snils == mother


def test_a_mother_born_after_her_child_is_rejected(write_csv, run_import):
    mother = next_snils()
    run_import(
        "population",
        write_csv("p.csv", POPULATION_HEADER, [person("P1", mother, birth_date="2027-01-01")]),
    )
    # The row above is itself rejected: a birth date in the future.
    run_import(
        "population",
        write_csv("p2.csv", POPULATION_HEADER, [person("P2", mother, birth_date="2026-11-01")]),
    )
    summary = run_import(
        "births", write_csv("b.csv", BIRTHS_HEADER, [birth("B1", mother)])
    )

    assert summary["rejected"] == 1 and summary["stored"] == 0
    assert "неправдоподобна" in RejectedRow.objects.get(batch_id=summary["batch_id"]).reason
    assert not RegistryRecord.objects.filter(source="births").exists()


ROGD_TEMPLATE = """<?xml version="1.0" encoding="utf-8"?>
<r:ROGDRequest xmlns:r="urn://x-artefacts-zags-rogd/root/112-01/4.0.5"
  xmlns:t="urn://x-artefacts-zags-rogd/types/4.0.5" ИдСвед="{record_id}" ДатаСвед="2026-10-10">
  <r:СведРегРожд НомерЗапис="{act}"><r:ДатаЗапис>2026-10-09</r:ДатаЗапис>
    <r:ПрдСведРег>
      <r:СведСчетРебен><r:СчетРебен>{order}</r:СчетРебен></r:СведСчетРебен>
      <r:СведРодившемся><r:ЖивМертв>{stillborn}</r:ЖивМертв><r:Пол>2</r:Пол>
        <r:ФИОРожд><t:Фамилия>Орлова</t:Фамилия><t:Имя>Ёлка</t:Имя></r:ФИОРожд>
        <r:ДатаРождКаленд>2026-10-01+03:00</r:ДатаРождКаленд>
        <r:МестоРожден МестоТекст="г. Казань"/>
      </r:СведРодившемся>
      <r:СведМать СНИЛС="{mother}"><t:ДатаРождКаленд>1990-01-01</t:ДатаРождКаленд></r:СведМать>
    </r:ПрдСведРег>
  </r:СведРегРожд>
</r:ROGDRequest>
"""


def rogd(record_id, mother, order=2, act="1234", stillborn="0"):
    return ROGD_TEMPLATE.format(
        record_id=record_id, mother=mother, order=order, act=act, stillborn=stillborn
    )


def test_rogd_messages_in_a_zip_are_read_by_meaning(tmp_path, run_import):
    mother = next_snils()
    archive = tmp_path / "rogd.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("one.xml", rogd("R-1", mother))
        handle.writestr("two.xml", rogd("R-2", mother, order=3, stillborn="1"))
        handle.writestr("broken.xml", "<r:ROGDRequest")

    summary = run_import("births", archive)

    assert (summary["read"], summary["stored"], summary["rejected"]) == (3, 2, 1)
    first = LifeEvent.objects.get(record_id="R-1")
    assert first.data["child_first_name"] == "Ёлка"
    assert str(first.occurred_on) == "2026-10-01"
    assert first.data["act_number"] == "1234"
    assert LifeEvent.objects.get(record_id="R-2").data["stillborn"] is True
    rejected = RejectedRow.objects.get(batch_id=summary["batch_id"])
    assert rejected.file_name == "broken.xml"


def test_rogd_folder_of_messages(tmp_path, run_import):
    folder = tmp_path / "messages"
    folder.mkdir()
    (folder / "a.xml").write_text(rogd("R-1", next_snils()), encoding="utf-8")
    summary = run_import("births", folder)
    assert summary["stored"] == 1


def test_another_message_given_as_births_is_refused(tmp_path):
    path = tmp_path / "fatal.xml"
    path.write_text(
        '<FATALRequest xmlns="urn://x-artefacts-zags-fatal/root/112-02/4.0.6"/>',
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="ROGDRequest"):
        call_command("import_registry", "births", str(path))
    assert not RegistryRecord.objects.exists()


@pytest.mark.real_samples
@pytest.mark.skipif(not REAL_SAMPLES.exists(), reason="../shared/real-samples absent")
def test_the_real_zags_sample_is_rejected_as_implausible(tmp_path, run_import):
    """The published ROGD sample has a mother (2004) and father (2014) born
    after their child (2000): the importer rejects the record, naming both,
    and stores nothing."""
    sample = REAL_SAMPLES / "zags-rogd" / "rogd-4.0.5-request.xml"
    copy = tmp_path / sample.name
    shutil.copy(sample, copy)

    summary = run_import("births", copy)

    assert (summary["read"], summary["stored"], summary["rejected"]) == (1, 0, 1)
    reasons = {
        row.column: row.reason
        for row in RejectedRow.objects.filter(batch_id=summary["batch_id"])
    }
    assert set(reasons) == {"mother_birth_date", "father_birth_date"}
    assert all("неправдоподобна" in reason for reason in reasons.values())
    assert not LifeEvent.objects.exists()


def test_summary_line_without_json(write_csv, capsys):
    path = write_csv("population.csv", POPULATION_HEADER, [person("P1")])
    call_command("import_registry", "population", str(path))
    out = capsys.readouterr().out
    assert "прочитано 1, сохранено 1" in out


def test_json_summary_has_the_documented_keys(write_csv, run_import):
    summary = run_import("population", write_csv("p.csv", POPULATION_HEADER, [person("P1")]))
    assert {"batch_id", "read", "stored", "updated", "duplicates", "rejected", "report"} <= set(summary)
