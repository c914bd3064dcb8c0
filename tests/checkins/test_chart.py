"""The /report chart: any group name renders as text, never as a formula."""

from __future__ import annotations

from datetime import date

from bot.checkins.chart import ChartLabels, render_chart
from bot.checkins.model import DayAnswer
from bot.checkins.report import build_report


def test_a_group_name_with_dollar_signs_is_drawn_as_it_is() -> None:
    """Found by the hostile-input benchmark: matplotlib read "$^^$" as maths and failed."""
    answers = [DayAnswer(local_date="2026-03-02", member="a", mood=3)]
    report = build_report(date(2026, 3, 1), date(2026, 3, 7), answers, [], members=4)
    for title in ("Parents $^^$", r"$\frac{$", "50$ a week $$"):
        image = render_chart(report, ChartLabels(title=title, answers="Answers", mood="Mood"))
        assert image.startswith(b"\x89PNG")
