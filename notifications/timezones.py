"""The citizen's time zone, from the region code of their address.

Quiet hours are the citizen's night, not Moscow's. The table maps the
two-digit region codes of the population registry to IANA zones; an
unknown or empty code falls back to Moscow time. The table itself is
``cabinet.regions``, shared with the time triggers.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from cabinet.regions import region_timezones

DEFAULT_TIMEZONE = "Europe/Moscow"

# Region code -> IANA zone: the project's one table (cabinet.regions).
REGION_TIMEZONES: dict[str, str] = region_timezones()


def region_timezone(region_code: str) -> ZoneInfo:
    return ZoneInfo(REGION_TIMEZONES.get(region_code or "", DEFAULT_TIMEZONE))


def citizen_timezone(citizen) -> ZoneInfo:
    return region_timezone(getattr(citizen, "region_code", ""))
