"""When prompts are due: local time in IANA zones across daylight-saving changes, and catch-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.checkins.schedule import due_occurrence, iso_week, occurrence_on

EVERY_DAY = range(7)
SEVEN_PM = time(19, 0)


@pytest.mark.parametrize(("day", "utc_hour"), [
    (date(2026, 3, 28), 18), (date(2026, 3, 29), 17),  # Madrid springs forward on 29 March
    (date(2026, 10, 24), 17), (date(2026, 10, 25), 18),  # and falls back on 25 October
])
def test_local_time_stays_while_utc_shifts(day: date, utc_hour: int) -> None:
    occurrence = occurrence_on(day, SEVEN_PM, "Europe/Madrid")
    assert occurrence.at == datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)


def test_a_time_skipped_in_spring_comes_just_after_the_gap() -> None:
    occurrence = occurrence_on(date(2026, 3, 29), time(2, 30), "Europe/Madrid")
    assert occurrence.at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 local summer time


def test_a_repeated_hour_in_autumn_fires_once() -> None:
    at = time(2, 30)
    first_pass = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time
    due = [due_occurrence(first_pass + timedelta(minutes=m), "Europe/Madrid", at, EVERY_DAY)
           for m in range(0, 180, 10)]
    assert {d.local_date for d in due if d} == {date(2026, 10, 25)}
    assert due[0] is not None and due[0].at == first_pass


def test_due_only_from_its_time_until_two_hours_later() -> None:
    at = datetime(2026, 3, 2, 19, tzinfo=UTC)
    assert due_occurrence(at - timedelta(seconds=1), "UTC", SEVEN_PM, EVERY_DAY) is None
    assert due_occurrence(at, "UTC", SEVEN_PM, EVERY_DAY) is not None
    assert due_occurrence(at + timedelta(hours=1, minutes=59), "UTC", SEVEN_PM, EVERY_DAY)
    assert due_occurrence(at + timedelta(hours=2), "UTC", SEVEN_PM, EVERY_DAY) is None


def test_a_late_evening_prompt_is_caught_up_after_midnight() -> None:
    late = time(23, 30)
    due = due_occurrence(datetime(2026, 3, 3, 0, 45, tzinfo=UTC), "UTC", late, EVERY_DAY)
    assert due is not None and due.local_date == date(2026, 3, 2)


def test_only_on_the_group_days() -> None:
    monday_evening = datetime(2026, 3, 2, 19, 5, tzinfo=UTC)
    assert due_occurrence(monday_evening, "UTC", SEVEN_PM, (1, 3)) is None
    assert due_occurrence(monday_evening, "UTC", SEVEN_PM, (0,)) is not None


def test_unknown_zone_falls_back_to_utc() -> None:
    assert occurrence_on(date(2026, 3, 2), SEVEN_PM, "Mars/Olympus").at.hour == 19


def test_iso_week() -> None:
    assert iso_week(date(2026, 3, 30)) == "2026-W14"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"
