"""The text each record is stored and hashed as: canonical JSON, the same
byte for byte as earlier versions of the importer wrote it."""

import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import values
from events.models import RegistryRecord
from events.parsers import RawRecord
from events.schemas import SCHEMAS, Checker
from tests.helpers import BIRTHS_HEADER, POPULATION_HEADER, birth, person

TODAY = datetime.date(2026, 12, 3)


@pytest.mark.django_db
def test_content_hashes_are_those_earlier_versions_stored(write_csv, run_import):
    """Regression guard: a record sent again is a duplicate only while its
    canonical text, which the hash covers, stays the same byte for byte.
    These hashes were written by the importer before its faster check."""
    run_import(
        "population",
        write_csv("p.csv", POPULATION_HEADER, [person("P1", "11223344595")]),
    )
    run_import(
        "births", write_csv("b.csv", BIRTHS_HEADER, [birth("B1", "11223344595")])
    )

    hashes = dict(RegistryRecord.objects.values_list("record_id", "content_hash"))
    assert hashes == {
        "P1": "5e3fcefca9ec9a89cf00e7eae25a0390c9e9f73213748abfec1826f72cc20514",
        "B1": "b01b2cc89e1554c464ef0a21f688e628ed1e08931a13c2ffe0654f5f69c2fa69",
    }


# Valid written forms of the parsed columns; the other columns are free text.
SNILS = ["112-233-445 95", "11223344595", "001 001 998 00"]
FORMS = {
    "snils": SNILS,
    "child_snils": SNILS,
    "mother_snils": SNILS,
    "father_snils": ["", "002-000-000 14"],
    "inn": ["500100732259"],
    "sex": ["M", "Ж", "f"],
    "child_sex": ["M", "Ж", "f"],
    "passport_series": ["4512", "45 12"],
    "passport_number": ["654321"],
    "region_code": ["69"],
    "phone": ["8 (912) 345-67-89", "+7 495 123-45-67"],
    "email": ["alyona@example.org"],
    "birth_order": ["1", "12"],
    "stillborn": ["", "1", "нет", "true"],
    "group": ["1", "II", "child", "4"],
    "amount": ["12 345,67", "0.5", "100"],
    "status": ["scheduled", "Credited"],
    "tax_type": ["land", "income"],
    "period_year": ["2025"],
}
DATES = st.dates(datetime.date(1900, 1, 1), TODAY).flatmap(
    lambda day: st.sampled_from(
        [day.isoformat(), day.strftime("%d.%m.%Y"), day.isoformat() + "T10:00+03:00"]
    )
)
FREE_TEXT = st.text(min_size=1).map(str.strip).filter(bool)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SCHEMAS)), st.data())
def test_every_valid_record_is_stored_as_canonical_json(source, data):
    """Whatever the free text holds (quotes, backslashes, control
    characters, other scripts), the text is what json.dumps writes."""
    day = data.draw(DATES, label="every date of the record")
    fields = {}
    for column in SCHEMAS[source]:
        if column.name in FORMS:
            value = data.draw(st.sampled_from(FORMS[column.name]), label=column.name)
        elif column.parse is values.parse_date:
            value = day  # one day for all: plausible whatever their order
        else:
            value = data.draw(FREE_TEXT, label=column.name)
        fields[column.name] = value

    text, problems = Checker(source, TODAY).check(RawRecord("f.csv", 2, fields))

    assert problems == []
    stored = json.loads(text)
    assert json.dumps(stored, ensure_ascii=False, sort_keys=True) == text
    assert set(stored) >= set(fields)
