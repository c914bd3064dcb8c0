"""Check-in reports: participation and the mood trend over some days, with no names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.checkins.model import LOW_MOOD, DayAnswer
from bot.core.i18n import Translator

# A day's average is shown only when at least this many answered, so that in a small group no
# single member's mood can be read off the chart.
MIN_ANSWERS_FOR_AVERAGE = 3


@dataclass(frozen=True, slots=True)
class DayStats:
    """One day: how many answered, how many skipped, and the average mood when it may be shown."""

    day: date
    answers: int
    skips: int
    average: float | None


@dataclass(frozen=True, slots=True)
class Report:
    """A period's participation and mood trend."""

    first: date
    last: date
    days: tuple[DayStats, ...]
    answers: int
    skips: int
    people: int
    members: int
    average: float | None
    previous_average: float | None
    hard: int
    middle: int
    good: int

    @property
    def empty(self) -> bool:
        """Nobody answered in the period."""
        return self.answers == 0 and self.skips == 0


def _average(moods: Sequence[int]) -> float | None:
    return round(sum(moods) / len(moods), 1) if len(moods) >= MIN_ANSWERS_FOR_AVERAGE else None


def build_report(first: date, last: date, answers: Sequence[DayAnswer],
                 previous: Sequence[DayAnswer], members: int) -> Report:
    """Count answers per day between `first` and `last`; `previous` is the period before."""
    by_day: dict[str, list[DayAnswer]] = {}
    for answer in answers:
        by_day.setdefault(answer.local_date, []).append(answer)
    days = []
    current = first
    while current <= last:
        todays = by_day.get(current.isoformat(), [])
        moods = [a.mood for a in todays if a.mood is not None]
        days.append(DayStats(current, len(moods), len(todays) - len(moods), _average(moods)))
        current += timedelta(days=1)
    moods = [a.mood for a in answers if a.mood is not None]
    earlier = [a.mood for a in previous if a.mood is not None]
    people = len({a.member for a in answers if a.mood is not None})
    return Report(
        first=first, last=last, days=tuple(days), answers=len(moods),
        skips=len(answers) - len(moods), people=people, members=max(members, people),
        average=_average(moods), previous_average=_average(earlier),
        hard=sum(1 for m in moods if m <= LOW_MOOD), middle=sum(1 for m in moods if m == 3),
        good=sum(1 for m in moods if m > 3))


def report_text(tr: Translator, lang: str, title: str, report: Report) -> str:
    """The report as a few short lines."""
    span = len(report.days)
    lines = [tr.tr(lang, "📊 Check-in report for {group}, {first} to {last}", group=title,
                   first=report.first.isoformat(), last=report.last.isoformat())]
    if report.empty:
        lines.append(tr.tr(lang, "Nobody checked in during these days."))
        return "\n".join(lines)
    share = round(100 * report.people / report.members) if report.members else 0
    lines.append(tr.tr(lang, "• check-ins: {answers}, from {people} of {members} members "
                             "({share}%)", answers=report.answers, people=report.people,
                       members=report.members, share=share))
    lines.append(tr.tr(lang, "• skipped: {skips}", skips=report.skips))
    if report.average is not None:
        lines.append(tr.tr(lang, "• average mood: {average} of 5", average=report.average))
        if report.previous_average is not None:
            lines.append(tr.tr(lang, "• the {days} days before: {average} of 5", days=span,
                               average=report.previous_average))
    lines.append(tr.tr(lang, "• hard days (1-2): {hard} · so-so (3): {middle} · good days (4-5): "
                             "{good}", hard=report.hard, middle=report.middle, good=report.good))
    lines.append(tr.tr(lang, "No names are shown, and a day's average only when at least {n} "
                             "answered.", n=MIN_ANSWERS_FOR_AVERAGE))
    return "\n".join(lines)
