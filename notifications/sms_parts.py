"""How many SMS parts a text takes.

GSM-7 (the ``gsm0338`` codec) holds 160 septets in one part and 153 per
part of a longer message; a character from the extension table takes two
septets. Anything outside GSM-7, Cyrillic included, goes as UCS-2: 70
UTF-16 units in one part, 67 per part after. The text is never changed to
make it fit: Cyrillic is not transliterated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gsm0338  # noqa: F401  registers the "gsm03.38" codec


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets or UTF-16 code units
    parts: int


def sms_length(text: str) -> SmsLength:
    try:
        units = len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "ucs2"
    else:
        single, multi, encoding = 160, 153, "gsm7"
    parts = 1 if units <= single else math.ceil(units / multi)
    return SmsLength(encoding, units, parts)


def max_units(encoding: str, parts: int) -> int:
    """The most units a text in ``encoding`` may have to fit ``parts``."""
    single, multi = (160, 153) if encoding == "gsm7" else (70, 67)
    return single if parts <= 1 else multi * parts
