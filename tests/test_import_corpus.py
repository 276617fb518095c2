"""A corpus of awkward files, made here. For each: the command neither
crashes nor loses a row: rows read = stored + updated + duplicates +
rejected, every rejection names its line and reason; a file that cannot be
used is refused as a whole with a message naming it, storing nothing."""

import csv
import gzip
import io

import pytest
from django.core.management import CommandError, call_command

from cabinet.models import Citizen
from events.models import ImportBatch, RegistryRecord, RejectedRow
from tests.factories import next_snils
from tests.helpers import POPULATION_HEADER, person

pytestmark = pytest.mark.django_db


def csv_bytes(
    rows, header=POPULATION_HEADER, delimiter=";", newline="\n", encoding="utf-8"
):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def big_file():
    rows = [person(f"P{i}", next_snils()) for i in range(100_000)]
    rows[500][5] = "45123"  # one Excel serial date among them
    return csv_bytes(rows)


CORPUS = {
    "utf8_bom": lambda: b"\xef\xbb\xbf" + csv_bytes([person("P1"), person("P2")]),
    "cp1251": lambda: csv_bytes([person("P1", last_name="Ёлкина")], encoding="cp1251"),
    "comma": lambda: csv_bytes([person("P1"), person("P2")], delimiter=","),
    "crlf": lambda: csv_bytes([person("P1"), person("P2")], newline="\r\n"),
    "quoted_line_breaks": lambda: csv_bytes(
        [person("P1", address="г. Тверь;\nул. Советская,\r\nд. 5"), person("P2")]
    ),
    "odd_header": lambda: csv_bytes(
        [person("P1")], header=[f"  {name.title()}  " for name in POPULATION_HEADER]
    ),
    "excel_dates": lambda: csv_bytes(
        [person("P1", birth_date="33680"), person("P2", passport_issued_on="41000,5")]
    ),
    "gzip": lambda: gzip.compress(csv_bytes([person("P1"), person("P2")])),
    "short_and_long_rows": lambda: csv_bytes([person("P1")[:5], person("P2") + ["x"]]),
    "nul_in_a_late_row": lambda: csv_bytes(
        [person(f"P{i}") for i in range(2000)] + [person("PX", address="a\x00b")]
    ),
    "big": big_file,
}

# name: (read, stored, rejected)
EXPECTED = {
    "utf8_bom": (2, 2, 0),
    "cp1251": (1, 1, 0),
    "comma": (2, 2, 0),
    "crlf": (2, 2, 0),
    "quoted_line_breaks": (2, 2, 0),
    "odd_header": (1, 1, 0),
    "excel_dates": (2, 0, 2),
    "gzip": (2, 2, 0),
    "short_and_long_rows": (2, 0, 2),
    "nul_in_a_late_row": (2001, 2000, 1),
    "big": (100_000, 99_999, 1),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_awkward_files_are_read_and_every_row_accounted_for(name, tmp_path, run_import):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(CORPUS[name]())

    summary = run_import("population", path)

    read, stored, rejected = EXPECTED[name]
    assert (summary["read"], summary["stored"], summary["rejected"]) == (
        read,
        stored,
        rejected,
    )
    assert summary["read"] == (
        summary["stored"]
        + summary["updated"]
        + summary["duplicates"]
        + summary["rejected"]
    )
    rows = RejectedRow.objects.filter(batch_id=summary["batch_id"])
    assert all(row.line >= 2 and row.reason for row in rows)
    assert len({row.line for row in rows}) == summary["rejected"]
    assert Citizen.objects.count() == stored


def test_excel_serial_dates_are_rejected_naming_excel(tmp_path, run_import):
    path = tmp_path / "excel.csv"
    path.write_bytes(CORPUS["excel_dates"]())
    summary = run_import("population", path)
    reasons = {
        (row.line, row.column): row.reason
        for row in RejectedRow.objects.filter(batch_id=summary["batch_id"])
    }
    assert "Excel" in reasons[(2, "birth_date")]
    assert "Excel" in reasons[(3, "passport_issued_on")]


def test_quoted_line_breaks_are_kept_and_lines_counted_from_the_file(
    tmp_path, run_import
):
    rows = [
        person("P1", address="г. Тверь,\nд. 5"),
        person("P2", birth_date="31.02.2000"),
    ]
    path = tmp_path / "q.csv"
    path.write_bytes(csv_bytes(rows))
    summary = run_import("population", path)
    assert Citizen.objects.get().address == "г. Тверь,\nд. 5"
    # P1 spans lines 2-3, so P2 starts on line 4.
    assert RejectedRow.objects.get(batch_id=summary["batch_id"]).line == 4


UNUSABLE = {
    "empty": (lambda: b"", "пуст"),
    "header_only": (lambda: csv_bytes([]), None),
    "blank_lines": (lambda: b"\n\n  \n", "пуст"),
    "binary": (lambda: bytes(range(256)) * 4, "двоичный"),
    "missing_column": (
        lambda: csv_bytes([["P1"]], header=["record_id"]),
        "нет обязательных столбцов",
    ),
    "truncated_gzip": (
        lambda: gzip.compress(csv_bytes([person(f"P{i}") for i in range(3000)]))[
            :-2000
        ],
        "обрезан",
    ),
    "xml_of_another_kind": (lambda: b"<?xml version='1.0'?><html/>", "XML"),
}


@pytest.mark.parametrize("name", sorted(UNUSABLE))
def test_unusable_files_are_refused_as_a_whole(name, tmp_path, capsys):
    make, message = UNUSABLE[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(make())

    if message is None:
        # A header alone is a readable file with nothing in it.
        call_command("import_registry", "population", str(path))
        assert "прочитано 0" in capsys.readouterr().out
        return
    with pytest.raises(CommandError, match=message) as error:
        call_command("import_registry", "population", str(path))
    assert path.name in str(error.value) or message in str(error.value)
    assert not Citizen.objects.exists() and not RegistryRecord.objects.exists()
    assert not ImportBatch.objects.filter(status=ImportBatch.Status.COMPLETED).exists()
