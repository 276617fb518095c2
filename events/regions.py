"""The citizen's own time zone, derived from the region code.

The mapping is data, shared with notifications (``cabinet.regions``). Time and age
triggers compare dates with the citizen's local date, computed by
PostgreSQL from one instant (``now``) so that tests can freeze time.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Case, CharField, DateField, Expression, Func, Value, When

from cabinet.regions import region_timezones, timezone_of  # noqa: F401


def zones() -> dict[str, list[str]]:
    by_zone: dict[str, list[str]] = {}
    for region, zone in sorted(region_timezones().items()):
        by_zone.setdefault(zone, []).append(region)
    return by_zone


def timezone_expression(region_ref: str = "citizen__region_code") -> Expression:
    return Case(
        *[
            When(**{f"{region_ref}__in": regions}, then=Value(zone))
            for zone, regions in zones().items()
        ],
        default=Value(settings.TIME_ZONE),
        output_field=CharField(),
    )


class _LocalDate(Func):
    template = "((%(expressions)s))::date"
    arg_joiner = " AT TIME ZONE "
    output_field = DateField()


def local_date_expression(
    now: datetime.datetime, region_ref: str = "citizen__region_code"
) -> Expression:
    """The calendar date at ``now`` in the time zone of each row's region."""
    return _LocalDate(Value(now), timezone_expression(region_ref))


def local_date_sql(region_column: str) -> str:
    """The same as SQL text, for hand-written statements; takes the instant
    as the one parameter ``%(now)s``."""
    whens = " ".join(
        f"WHEN {region_column} IN ({', '.join(repr(r) for r in regions)}) THEN '{zone}'"
        for zone, regions in zones().items()
    )
    return (
        f"((%(now)s::timestamptz AT TIME ZONE "
        f"(CASE {whens} ELSE '{settings.TIME_ZONE}' END)))::date"
    )
