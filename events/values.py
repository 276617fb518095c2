"""Parsers for the values registry dumps carry (REGISTRY_FORMATS.md, Values).

Each parser takes the raw text and returns the normalized value, or raises
``ValueError`` with a message an operator understands. Empty input is the
caller's business: these parsers are called only on non-empty text.
"""

from __future__ import annotations

import datetime
import re

import phonenumbers
from stdnum.ru import inn as stdnum_inn

_SNILS_SEPARATORS = re.compile(r"[\s\-]")
# Check numbers were introduced above this number; smaller ones carry none.
_SNILS_CHECKED_FROM = 1001998


def snils_check_number(first_nine: str) -> int:
    """The check number of a SNILS, from its first nine digits.

    The digits are weighted 9 down to 1 and summed; a sum below 100 is the
    check number itself, 100 and 101 give 00, larger sums are taken modulo
    101 the same way.
    """
    # The weighted sum of each group of three digits is looked up: this runs
    # for every SNILS of every record imported.
    try:
        total = (
            _SNILS_WEIGHTED[0][first_nine[0:3]]
            + _SNILS_WEIGHTED[1][first_nine[3:6]]
            + _SNILS_WEIGHTED[2][first_nine[6:9]]
        )
    except KeyError:  # not nine ASCII digits: int() says what is wrong
        total = sum(int(digit) * (9 - i) for i, digit in enumerate(first_nine))
    while total > 101:
        total %= 101
    return 0 if total in (100, 101) else total


# The weighted sums of every three digits at each of the three places.
_SNILS_WEIGHTED = tuple(
    {
        f"{group:03d}": sum(
            int(digit) * (9 - place * 3 - index)
            for index, digit in enumerate(f"{group:03d}")
        )
        for group in range(1000)
    }
    for place in range(3)
)


def parse_snils(text: str) -> str:
    if len(text) == 11 and text.isascii() and text.isdigit():
        digits = text  # the usual written form, without the substitution
    else:
        digits = _SNILS_SEPARATORS.sub("", text.strip())
    # isdigit() alone takes other scripts' digits too (٣, ³).
    if not (digits.isascii() and digits.isdigit()) or len(digits) != 11:
        raise ValueError(f"СНИЛС должен состоять из 11 цифр: {text!r}")
    if int(digits[:9]) > _SNILS_CHECKED_FROM:
        if snils_check_number(digits[:9]) != int(digits[9:]):
            raise ValueError("неверное контрольное число СНИЛС")
    return digits


def format_snils(digits: str) -> str:
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*|[+\-]\d{2}:\d{2}|Z)?$")
_RU_DATE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")


_EXCEL_SERIAL = re.compile(r"^\d{1,6}(?:[.,]\d+)?$")


def parse_date(text: str) -> datetime.date:
    """``YYYY-MM-DD`` or ``DD.MM.YYYY``. A time-zone suffix (``+04:00``) or a
    time part is dropped: the calendar day is the one written.

    A bare number (``45123``) is what a spreadsheet leaves when a date
    column lost its format. It is rejected, not guessed: Excel counts days
    from 1900 or from 1904 depending on the workbook, and a wrong guess
    would store a date four years off without anyone noticing."""
    value = text.strip()
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        # The common case, without the regular expression.
        try:
            return datetime.date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError:
            if value[:4].isdigit() and value[5:7].isdigit() and value[8:].isdigit():
                raise ValueError(f"такой даты не существует: {text!r}") from None
    if match := _ISO_DATE.match(value):
        year, month, day = match.groups()
    elif match := _RU_DATE.match(value):
        day, month, year = match.groups()
    elif _EXCEL_SERIAL.match(value):
        raise ValueError(
            f"дата записана числом {text!r} (порядковый номер дня из Excel?): "
            "нужна дата ГГГГ-ММ-ДД или ДД.ММ.ГГГГ"
        )
    else:
        raise ValueError(f"дата не в формате ГГГГ-ММ-ДД или ДД.ММ.ГГГГ: {text!r}")
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"такой даты не существует: {text!r}") from None


_SEX = {"M": "M", "М": "M", "F": "F", "Ж": "F", "1": "M", "2": "F"}


def parse_sex(text: str) -> str:
    value = text.strip().upper()
    if value not in _SEX:
        raise ValueError(f"пол должен быть M или F (М или Ж): {text!r}")
    return _SEX[value]


def parse_inn(text: str) -> str:
    value = text.strip()
    if len(value) != 12 or not value.isdigit():
        raise ValueError(f"ИНН физического лица должен состоять из 12 цифр: {text!r}")
    if not stdnum_inn.is_valid(value):
        raise ValueError("неверные контрольные цифры ИНН")
    return value


# phonenumbers' own pattern of Russian mobile numbers, for the fast path.
_RU_MOBILE = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("RU").mobile.national_number_pattern
)
_PHONE_PUNCTUATION = re.compile(r"[\s()\-]")


def parse_phone(text: str) -> tuple[str, bool]:
    """A Russian phone number in E.164, and whether it can take SMS.

    The usual written forms of a mobile number (``+7``/``8`` and ten digits,
    with spaces, brackets, dashes) are checked against the library's own
    mobile pattern directly: the full parse costs a tenth of a millisecond,
    a tenth of a population import. Everything else takes the full parse."""
    compact = _PHONE_PUNCTUATION.sub("", text)
    if compact.startswith("+7"):
        national = compact[2:]
    elif compact.startswith("8"):
        national = compact[1:]
    else:
        national = ""
    if len(national) == 10 and _RU_MOBILE.fullmatch(national):
        return "+7" + national, True
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        raise ValueError(f"не удаётся разобрать номер телефона: {text!r}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"номер телефона недействителен: {text!r}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    mobile = phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    return e164, mobile


def parse_positive_int(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"нужно целое число больше нуля: {text!r}")
    return int(value)


def parse_digits(text: str, length: int, what: str) -> str:
    value = re.sub(r"\s", "", text)
    if len(value) != length or not value.isdigit():
        # "из N цифр" agrees with the lengths the columns have (2, 4, 6);
        # "нужно N цифр" did not ("нужно 4 цифр").
        raise ValueError(f"{what} состоит из {length} цифр: {text!r}")
    return value


_TRUE = {"1", "да", "true", "yes", "д"}
_FALSE = {"0", "нет", "false", "no", "н"}


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"нужно 1/0, да/нет или true/false: {text!r}")


_AMOUNT = re.compile(r"^-?\d{1,15}(?:[.,]\d{1,2})?$")
_AMOUNT_SPACES = re.compile(r"[\s\u00a0\u202f]")


def parse_amount(text: str) -> str:
    """Rubles as decimal text with two digits after the point: ``12 345,67``
    -> ``12345.67``. Spaces (also non-breaking) may group thousands; the
    decimal separator is ``,`` or ``.``; negative amounts are refused."""
    value = _AMOUNT_SPACES.sub("", text)
    if not _AMOUNT.match(value):
        raise ValueError(
            f"сумма должна быть числом рублей, например 12 345,67: {text!r}"
        )
    if value.startswith("-"):
        raise ValueError(f"сумма не может быть отрицательной: {text!r}")
    rubles, _, kopecks = value.replace(",", ".").partition(".")
    return f"{int(rubles)}.{kopecks.ljust(2, '0')}"


def parse_year(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or not 1990 <= int(value) <= 2100:
        raise ValueError(f"год должен быть числом от 1990 до 2100: {text!r}")
    return int(value)


def choice(options: dict[str, str], what: str):
    """A parser accepting the given spellings (case-insensitive) of a code."""
    allowed = ", ".join(sorted(set(options.values())))

    def parse(text: str) -> str:
        value = options.get(text.strip().lower())
        if value is None:
            raise ValueError(f"{what}: {text!r}; допустимо: {allowed}")
        return value

    return parse


DISABILITY_GROUPS = {
    "1": "1",
    "2": "2",
    "3": "3",
    "i": "1",
    "ii": "2",
    "iii": "3",
    # ФГИС ФРИ writes a disabled child as group 4.
    "child": "child",
    "4": "child",
    "ребенок-инвалид": "child",
    "ребёнок-инвалид": "child",
}
PAYMENT_STATUSES = {
    name: name
    for name in (
        "scheduled",
        "credited",
        "awaiting_confirmation",
        "needs_clarification",
        "returned",
    )
}
TAX_TYPES = {name: name for name in ("property", "land", "transport", "income")}
