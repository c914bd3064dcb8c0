"""Friendly time-zone choices: a few cities of the group's country, one per distinct clock."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.places import country_zones

MAX_PAYLOAD_ZONE = 48  # "onb:tz:" + the zone must fit a 60-byte button payload

# Where several zones keep the same clock, the city most people would recognise.
_PREFERRED = frozenset({
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Toronto",
    "America/Vancouver", "America/Edmonton", "America/Winnipeg", "America/Halifax",
    "America/Mexico_City", "America/Tijuana", "America/Cancun", "Europe/Madrid",
    "Atlantic/Canary", "Australia/Sydney", "Australia/Perth", "Australia/Brisbane",
    "America/Sao_Paulo", "America/Argentina/Buenos_Aires",
})


def city_of(zone: str) -> str:
    """A zone's city as people write it: "America/New_York" -> "New York"."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


@cache
def _clock(zone: str) -> tuple[float, float]:
    """The zone's UTC offsets in January and July, which tell its clock apart from others'."""
    info = ZoneInfo(zone)
    offsets = []
    for month in (1, 7):
        offset = datetime(2026, month, 15, 12, tzinfo=UTC).astimezone(info).utcoffset()
        offsets.append(offset.total_seconds() if offset else 0.0)
    return offsets[0], offsets[1]


def zone_choices(region: str, group_zone: str | None, limit: int = 7) -> list[str]:
    """Zones to offer as buttons: the group's first, then one per distinct clock in its country."""
    chosen: list[str] = []
    clocks: dict[tuple[float, float], int] = {}

    def offer(zone: str) -> None:
        if zone in chosen or len(zone) > MAX_PAYLOAD_ZONE:
            return
        try:
            clock = _clock(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return
        if clock in clocks:
            index = clocks[clock]
            if zone in _PREFERRED and chosen[index] not in _PREFERRED and index > 0:
                chosen[index] = zone
            return
        clocks[clock] = len(chosen)
        chosen.append(zone)

    if group_zone:
        offer(group_zone)
    for zone in country_zones(region):
        offer(zone)
    start = 1 if group_zone else 0
    rest = sorted(chosen[start:], key=lambda zone: zone not in _PREFERRED)  # stable: country order
    return (chosen[:start] + rest)[:limit]
