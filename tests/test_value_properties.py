"""Property tests for every value parser: what they accept round-trips, and
anything else fails with ValueError and a message, never another error."""

import datetime
import decimal
import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.ru import inn as stdnum_inn

from events import values

PARSERS = [
    values.parse_snils,
    values.parse_inn,
    values.parse_date,
    values.parse_amount,
    values.parse_phone,
    values.parse_sex,
    values.parse_bool,
    values.parse_positive_int,
    values.parse_year,
    values.choice(values.DISABILITY_GROUPS, "группа"),
    values.choice(values.PAYMENT_STATUSES, "статус"),
    values.choice(values.TAX_TYPES, "вид налога"),
    functools.partial(values.parse_digits, length=6, what="номер паспорта"),
]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: getattr(p, "__name__", "p"))
@given(text=st.text(max_size=40))
def test_every_parser_raises_only_value_error_with_a_message(parse, text):
    try:
        parse(text)
    except ValueError as error:
        assert str(error)


dates = st.dates(
    min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31)
)


@given(dates, st.sampled_from(["", "+03:00", "-07:00", "Z", "T23:59:00+12:00"]))
def test_iso_dates_keep_their_calendar_day_whatever_the_suffix(day, suffix):
    assert values.parse_date(day.isoformat() + suffix) == day


@given(dates)
def test_russian_written_dates_round_trip(day):
    assert values.parse_date(day.strftime("%d.%m.") + f"{day.year:04d}") == day


@given(st.integers(min_value=1, max_value=999_999))
def test_excel_serial_numbers_are_refused_naming_excel(serial):
    with pytest.raises(ValueError, match="Excel"):
        values.parse_date(str(serial))


@given(
    st.integers(min_value=1900, max_value=2100),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=29, max_value=31),
)
def test_non_existent_days_are_refused(year, month, day):
    try:
        datetime.date(year, month, day)
    except ValueError:
        with pytest.raises(ValueError, match="не существует"):
            values.parse_date(f"{year:04d}-{month:02d}-{day:02d}")
        with pytest.raises(ValueError, match="не существует"):
            values.parse_date(f"{day:02d}.{month:02d}.{year:04d}")


@given(
    st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False),
    st.sampled_from([",", "."]),
    st.sampled_from(["", " ", "\u00a0"]),
)
def test_amounts_in_every_written_form(amount, point, group):
    rubles, kopecks = f"{amount:.2f}".split(".")
    grouped = f"{int(rubles):,}".replace(",", group)
    assert values.parse_amount(f"{grouped}{point}{kopecks}") == f"{amount:.2f}"
    assert decimal.Decimal(values.parse_amount(grouped)) == int(rubles)


@given(st.decimals(min_value="0.01", max_value=10**6, places=2))
def test_negative_amounts_are_refused(amount):
    with pytest.raises(ValueError, match="отрицательной"):
        values.parse_amount(f"-{amount}")


@given(st.from_regex(r"\A[0-9]{10}\Z"))
def test_inn_is_accepted_exactly_when_both_control_digits_are_right(first_ten):
    weights11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    weights12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    d11 = sum(int(d) * w for d, w in zip(first_ten, weights11, strict=True)) % 11 % 10
    d12 = (
        sum(int(d) * w for d, w in zip(first_ten + str(d11), weights12, strict=True))
        % 11
        % 10
    )
    good = f"{first_ten}{d11}{d12}"
    assert values.parse_inn(good) == good
    wrong = f"{first_ten}{d11}{(d12 + 1) % 10}"
    with pytest.raises(ValueError, match="контрольные"):
        values.parse_inn(wrong)
    assert stdnum_inn.is_valid(good)


@given(st.integers(min_value=900_000_0000, max_value=999_999_9999))
def test_mobile_numbers_in_russian_forms_become_e164(number):
    digits = str(number)
    forms = [
        f"+7{digits}",
        f"8{digits}",
        f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
        f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
    ]
    results = set()
    for form in forms:
        try:
            results.add(values.parse_phone(form))
        except ValueError:
            results.add("invalid")
    # Every written form of one number means the same thing.
    assert len(results) == 1
    (result,) = results
    if result != "invalid":
        assert result[0] == f"+7{digits}"


@given(st.integers(min_value=1, max_value=10**6))
def test_positive_integers(number):
    assert values.parse_positive_int(f" {number} ") == number


@given(st.integers(min_value=1990, max_value=2100))
def test_years(year):
    assert values.parse_year(str(year)) == year


@given(st.sampled_from(sorted(values.DISABILITY_GROUPS)), st.booleans())
def test_disability_groups_in_any_case(text, upper):
    parse = values.choice(values.DISABILITY_GROUPS, "группа")
    assert parse(text.upper() if upper else text) in {"1", "2", "3", "child"}


@given(st.from_regex(r"\A[0-9]{4}\Z"), st.sampled_from(["", " ", "  "]))
def test_passport_series_with_or_without_spaces(series, space):
    written = f"{series[:2]}{space}{series[2:]}"
    assert values.parse_digits(written, 4, "серия паспорта") == series


@given(st.integers(min_value=2_000_000, max_value=9_999_999))
def test_landlines_are_kept_but_not_mobile(number):
    """Moscow numbers (495) are landlines: stored, never used for SMS."""
    try:
        e164, mobile = values.parse_phone(f"8 (495) {number}")
    except ValueError:
        return
    assert e164 == f"+7495{number}" and mobile is False


@given(st.integers(min_value=3_000_000_000, max_value=9_999_999_999))
def test_the_fast_mobile_path_agrees_with_the_full_phonenumbers_parse(number):
    import phonenumbers

    parsed = phonenumbers.parse(f"8{number}", "RU")
    if not phonenumbers.is_valid_number(parsed):
        with pytest.raises(ValueError):
            values.parse_phone(f"8 {number}")
        return
    mobile = phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    assert values.parse_phone(f"8 {number}") == (f"+7{number}", mobile)
    assert values.parse_phone(f"+7{number}") == (f"+7{number}", mobile)
