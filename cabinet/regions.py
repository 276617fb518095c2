"""The citizen's own time zone, derived from the region code.

One table for the whole project (``cabinet/data/region_timezones.json``):
time and age triggers count days in it, and notifications keep quiet
hours in it. Regions not listed, and citizens with no region, use the
project's ``TIME_ZONE``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from django.conf import settings

DATA = Path(__file__).resolve().parent / "data" / "region_timezones.json"


@cache
def region_timezones() -> dict[str, str]:
    """Region code -> IANA time zone."""
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    return {
        region: zone
        for zone, regions in raw.items()
        if not zone.startswith("_")
        for region in regions
    }


def timezone_of(region_code: str) -> str:
    return region_timezones().get(region_code or "", settings.TIME_ZONE)
