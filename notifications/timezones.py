"""The citizen's time zone, from the region code of their address.

Quiet hours are the citizen's night, not Moscow's. The table maps the
two-digit region codes of the population registry to IANA zones; an
unknown or empty code falls back to Moscow time. Other apps that need a
citizen's local time use :func:`citizen_timezone` from here.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/Moscow"

_ZONES = {
    "Europe/Kaliningrad": ["39"],
    "Europe/Samara": ["18", "63"],
    "Asia/Yekaterinburg": ["02", "45", "56", "59", "66", "72", "74", "86", "89"],
    "Asia/Omsk": ["55"],
    "Asia/Novosibirsk": ["22", "04", "54", "70", "42"],
    "Asia/Krasnoyarsk": ["17", "19", "24"],
    "Asia/Irkutsk": ["03", "38"],
    "Asia/Chita": ["75"],
    "Asia/Yakutsk": ["14", "28"],
    "Asia/Vladivostok": ["25", "27", "79"],
    "Asia/Magadan": ["49", "65"],
    "Asia/Kamchatka": ["41", "87"],
    "Europe/Astrakhan": ["30"],
    "Europe/Volgograd": ["34"],
    "Europe/Ulyanovsk": ["73"],
    "Europe/Saratov": ["64"],
}

REGION_TIMEZONES: dict[str, str] = {
    code: zone for zone, codes in _ZONES.items() for code in codes
}


def region_timezone(region_code: str) -> ZoneInfo:
    return ZoneInfo(REGION_TIMEZONES.get(region_code or "", DEFAULT_TIMEZONE))


def citizen_timezone(citizen) -> ZoneInfo:
    return region_timezone(getattr(citizen, "region_code", ""))
