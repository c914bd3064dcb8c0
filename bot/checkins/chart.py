"""The report chart: check-ins per day as bars and the average mood as a line (PNG, no names).

Rendering uses matplotlib's object API on the Agg canvas (no pyplot global state), so it is
safe to call from a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from bot.checkins.report import Report


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """The chart's words, already translated."""

    title: str
    answers: str
    mood: str


def render_chart(report: Report, labels: ChartLabels) -> bytes:
    """The report as a PNG image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    bars = figure.add_subplot()
    positions = list(range(len(report.days)))
    bars.bar(positions, [d.answers for d in report.days], color="#9ecae1", label=labels.answers)
    bars.set_ylabel(labels.answers)
    bars.set_ylim(0, max([d.answers for d in report.days] + [3]) + 1)
    step = max(1, len(positions) // 10)
    bars.set_xticks(positions[::step],
                    [d.day.strftime("%d/%m") for d in report.days][::step])
    line = bars.twinx()
    shown = [(p, d.average) for p, d in zip(positions, report.days, strict=True)
             if d.average is not None]
    if shown:
        line.plot([p for p, _ in shown], [a for _, a in shown], color="#e6550d", marker="o",
                  label=labels.mood)
    line.set_ylim(0.5, 5.5)
    line.set_yticks([1, 2, 3, 4, 5])
    line.set_ylabel(labels.mood)
    # parse_math off: a group named "Parents $^^$" is a name, not a formula to typeset.
    figure.suptitle(labels.title, parse_math=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
