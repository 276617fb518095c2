"""Value parsers of the registry formats (REGISTRY_FORMATS.md, Values)."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import values


@pytest.mark.parametrize(
    "text", ["112-233-445 95", "11223344595", "112 233 445 95", " 112-233-445 95 "]
)
def test_snils_in_every_written_form_is_accepted(text):
    # 112-233-445 95 is the worked example of the published check rule.
    assert values.parse_snils(text) == "11223344595"


def test_snils_with_a_wrong_check_number_is_refused():
    with pytest.raises(ValueError, match="контрольное число"):
        values.parse_snils("112-233-445 96")


def test_snils_up_to_001_001_998_carries_no_check_number():
    assert values.parse_snils("001-001-998 00") == "00100199800"
    assert values.parse_snils("000-000-600 01") == "00000060001"
    with pytest.raises(ValueError):
        values.parse_snils("001-001-999 00")


@pytest.mark.parametrize("text", ["", "123", "1122334459a", "112-233-445 9"])
def test_snils_of_wrong_shape_is_refused(text):
    with pytest.raises(ValueError, match="11 цифр"):
        values.parse_snils(text)


@pytest.mark.parametrize(
    ("nine", "check"),
    [
        ("112233445", 95),  # weighted sum 95: the sum itself
        ("911000004", 0),  # sum 100: 00
        ("911000005", 0),  # sum 101: 00
        ("999999999", 1),  # sum 405: 405 mod 101 = 1
    ],
)
def test_snils_check_number_rule(nine, check):
    assert values.snils_check_number(nine) == check


@given(st.integers(min_value=1_001_999, max_value=999_999_999))
def test_every_generated_snils_round_trips(number):
    nine = f"{number:09d}"
    snils = nine + f"{values.snils_check_number(nine):02d}"
    formatted = values.format_snils(snils)
    assert values.parse_snils(formatted) == snils


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-29", datetime.date(2024, 2, 29)),
        ("29.02.2024", datetime.date(2024, 2, 29)),
        ("1954-10-10+04:00", datetime.date(1954, 10, 10)),
        ("2018-04-13T19:29:42", datetime.date(2018, 4, 13)),
    ],
)
def test_dates_in_both_written_forms(text, expected):
    assert values.parse_date(text) == expected


@pytest.mark.parametrize("text", ["31.02.2024", "2023-02-29", "2024-13-01"])
def test_a_date_that_does_not_exist_is_refused(text):
    with pytest.raises(ValueError, match="не существует"):
        values.parse_date(text)


@given(st.text(max_size=30))
def test_date_parser_raises_only_value_error(text):
    try:
        result = values.parse_date(text)
    except ValueError:
        return
    assert isinstance(result, datetime.date)


@given(st.text(max_size=20))
def test_snils_parser_raises_only_value_error(text):
    try:
        result = values.parse_snils(text)
    except ValueError:
        return
    assert len(result) == 11 and result.isdigit()


def test_inn_with_valid_control_digits():
    assert values.parse_inn("500100732259") == "500100732259"
    with pytest.raises(ValueError, match="контрольные"):
        values.parse_inn("500100732258")


@pytest.mark.parametrize(
    ("text", "e164", "mobile"),
    [
        ("+7 912 345-67-89", "+79123456789", True),
        ("8 (912) 345-67-89", "+79123456789", True),
        ("8 (495) 123-45-67", "+74951234567", False),
    ],
)
def test_russian_phones_become_e164(text, e164, mobile):
    assert values.parse_phone(text) == (e164, mobile)


@pytest.mark.parametrize(("text", "sex"), [("M", "M"), ("м", "M"), ("Ж", "F"), ("f", "F")])
def test_sex_in_latin_and_cyrillic_letters(text, sex):
    assert values.parse_sex(text) == sex


@given(st.text(max_size=10))
def test_bool_and_sex_parsers_raise_only_value_error(text):
    for parse in (values.parse_bool, values.parse_sex, values.parse_positive_int):
        try:
            parse(text)
        except ValueError:
            pass
