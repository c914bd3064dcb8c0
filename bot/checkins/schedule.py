"""When a prompt is due: local times in IANA zones, correct across daylight-saving changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CATCH_UP = timedelta(hours=2)  # after downtime, a missed prompt is sent only this late


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One scheduled prompt: its local date and the UTC instant of its local time."""

    local_date: date
    at: datetime


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The zone called `name`, or `fallback` when it is unknown."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local_today(now: datetime, zone_name: str | None) -> date:
    """Today's date in the zone."""
    return now.astimezone(zone(zone_name)).date()


def occurrence_on(day: date, at: time, zone_name: str | None) -> Occurrence:
    """The UTC instant of local `at` on `day`.

    A local time that does not exist (the hour skipped in spring) is read with the offset before
    the change, so it falls just after the skipped hour; a repeated hour (autumn) is its first pass.
    """
    local = datetime.combine(day, at, tzinfo=zone(zone_name))
    return Occurrence(day, local.astimezone(UTC))


def due_occurrence(now: datetime, zone_name: str | None, at: time, days: Iterable[int],
                   catch_up: timedelta = CATCH_UP) -> Occurrence | None:
    """The occurrence due at `now`: its time has come and passed by less than `catch_up`.

    Looks at today and yesterday (a late-evening prompt caught up after midnight); at most one
    can qualify, because two occurrences are a day apart and `catch_up` is shorter than a day.
    """
    weekdays = set(days)
    today = local_today(now, zone_name)
    for day in (today, today - timedelta(days=1)):
        if day.weekday() not in weekdays:
            continue
        occurrence = occurrence_on(day, at, zone_name)
        if occurrence.at <= now < occurrence.at + catch_up:
            return occurrence
    return None


def iso_week(day: date) -> str:
    """The ISO week of `day`, e.g. "2026-W14"."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
