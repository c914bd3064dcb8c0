"""Offline evaluation of the crisis detector on labelled JSONL files (`kindred detector eval`).

Each record needs `text` and `label` ("crisis" or "none"); `id`, `severity` (0-3), `about` and
`lang` are used when present. A message counts as caught when the detector's severity is 2 or 3.
This is an offline tool: it prints the dataset text of misses to help lexicon work; it never runs
on live messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.crisis.detector import SEVERITY_RISK, Detector


@dataclass(frozen=True, slots=True)
class Outcome:
    """One evaluated record.

    Attributes:
        id: The record id (or its 1-based position when it has none).
        text: The record's text (for the offline report only).
        crisis: The gold label.
        severity: The gold severity, or None when the record has none.
        about: The gold `about`, or None.
        lang: The gold language, or None.
        predicted: The detector's severity.
        predicted_about: The detector's `about`.
        reason: The detector's reason code.
        rules: The rules that fired.
    """

    id: str
    text: str
    crisis: bool
    severity: int | None
    about: str | None
    lang: str | None
    predicted: int
    predicted_about: str
    reason: str
    rules: tuple[str, ...]

    @property
    def caught(self) -> bool:
        """The detector alerted (severity 2 or 3)."""
        return self.predicted >= SEVERITY_RISK


@dataclass(slots=True)
class EvalReport:
    """Aggregate results of an evaluation run.

    Attributes:
        outcomes: Every evaluated record, in input order.
    """

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of records."""
        return len(self.outcomes)

    @property
    def positives(self) -> list[Outcome]:
        """Records labelled crisis."""
        return [o for o in self.outcomes if o.crisis]

    @property
    def negatives(self) -> list[Outcome]:
        """Records labelled none."""
        return [o for o in self.outcomes if not o.crisis]

    @property
    def misses(self) -> list[Outcome]:
        """Crisis records the detector did not alert on."""
        return [o for o in self.positives if not o.caught]

    @property
    def false_alarms(self) -> list[Outcome]:
        """Non-crisis records the detector alerted on."""
        return [o for o in self.negatives if o.caught]

    @property
    def recall(self) -> float:
        """Share of crisis records caught."""
        pos = self.positives
        return _ratio(sum(o.caught for o in pos), len(pos))

    @property
    def precision(self) -> float:
        """Share of alerts that were crisis records."""
        alerts = [o for o in self.outcomes if o.caught]
        return _ratio(sum(o.crisis for o in alerts), len(alerts))

    @property
    def false_positive_rate(self) -> float:
        """Share of non-crisis records alerted on."""
        neg = self.negatives
        return _ratio(sum(o.caught for o in neg), len(neg))

    def recall_where(self, key: str, value: Any) -> tuple[float, int]:
        """Recall over crisis records whose field `key` equals `value`, and their count."""
        sel = [o for o in self.positives if getattr(o, key) == value]
        return _ratio(sum(o.caught for o in sel), len(sel)), len(sel)

    def fpr_where(self, key: str, value: Any) -> tuple[float, int]:
        """False-positive rate over non-crisis records whose `key` equals `value`, and count."""
        sel = [o for o in self.negatives if getattr(o, key) == value]
        return _ratio(sum(o.caught for o in sel), len(sel)), len(sel)

    @property
    def about_accuracy(self) -> float:
        """Share of caught crisis records whose `about` matches the gold label."""
        sel = [o for o in self.positives if o.caught and o.about is not None]
        return _ratio(sum(o.predicted_about == o.about for o in sel), len(sel))

    @property
    def exact_severity(self) -> float:
        """Share of records with a gold severity that got exactly that severity."""
        sel = [o for o in self.outcomes if o.severity is not None]
        return _ratio(sum(o.predicted == o.severity for o in sel), len(sel))

    def summary(self) -> dict[str, Any]:
        """The headline figures as a JSON-ready mapping."""
        sev3, n3 = self.recall_where("severity", 3)
        sev2, n2 = self.recall_where("severity", 2)
        fpr1, n1 = self.fpr_where("severity", 1)
        fpr0, n0 = self.fpr_where("severity", 0)
        return {
            "n": self.n,
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "false_positive_rate": round(self.false_positive_rate, 4),
            "severity2_recall": round(sev2, 4) if n2 else None,
            "severity3_recall": round(sev3, 4) if n3 else None,
            "fpr_severity0": round(fpr0, 4) if n0 else None,
            "fpr_severity1": round(fpr1, 4) if n1 else None,
            "misses": len(self.misses),
            "false_alarms": len(self.false_alarms),
            "about_accuracy": round(self.about_accuracy, 4),
            "exact_severity": round(self.exact_severity, 4),
        }


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _severity(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def evaluate(detector: Detector, records: Iterable[Mapping[str, Any]]) -> EvalReport:
    """Run the detector over labelled records.

    Args:
        detector: The detector to evaluate.
        records: Mappings with at least `text` and `label` ("crisis" or anything else for none).

    Returns:
        The report with one outcome per record.

    Raises:
        ValueError: A record lacks `text` or `label`.
    """
    report = EvalReport()
    for i, rec in enumerate(records, start=1):
        if "text" not in rec or "label" not in rec:
            raise ValueError(f"record {i} needs 'text' and 'label'")
        text = str(rec["text"])
        result = detector.assess(text)
        about = rec.get("about")
        lang = rec.get("lang")
        report.outcomes.append(
            Outcome(
                id=str(rec.get("id", i)),
                text=text,
                crisis=str(rec["label"]).strip().lower() == "crisis",
                severity=_severity(rec.get("severity")),
                about=str(about) if about is not None else None,
                lang=str(lang) if lang is not None else None,
                predicted=result.severity,
                predicted_about=result.about,
                reason=result.reason,
                rules=result.rules,
            )
        )
    return report


def load_records(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file of records, skipping blank lines.

    Args:
        path: The file.

    Returns:
        The decoded records.

    Raises:
        ValueError: A line is not a JSON object.
    """
    out: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError(f"{path}:{lineno}: not a JSON object")
            out.append(rec)
    return out


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def write_report(report: EvalReport, out: TextIO) -> None:
    """Print the human-readable report, ending with one JSON line of headline figures.

    Args:
        report: The evaluation results.
        out: Where to write.
    """
    p = out.write
    pos, neg = report.positives, report.negatives
    p(f"records: {report.n}  (crisis {len(pos)}, none {len(neg)})\n")
    p(f"recall:              {_pct(report.recall)}  ({len(pos) - len(report.misses)}/{len(pos)})\n")
    p(f"precision:           {_pct(report.precision)}\n")
    p(f"false positive rate: {_pct(report.false_positive_rate)}  ({len(report.false_alarms)}/{len(neg)})\n")
    p("recall by true severity:\n")
    for sev in (2, 3):
        r, n = report.recall_where("severity", sev)
        if n:
            p(f"  severity {sev}: {_pct(r)}  (n={n})\n")
    p("false positive rate by true severity:\n")
    for sev in (0, 1):
        r, n = report.fpr_where("severity", sev)
        if n:
            p(f"  severity {sev}: {_pct(r)}  (n={n})\n")
    abouts = sorted({o.about for o in pos if o.about is not None})
    if abouts:
        p("recall by about:\n")
        for about in abouts:
            r, n = report.recall_where("about", about)
            p(f"  {about:<6} {_pct(r)}  (n={n})\n")
    langs = sorted({o.lang for o in report.outcomes if o.lang is not None})
    if langs:
        p("by language:\n")
        for lang in langs:
            r, n = report.recall_where("lang", lang)
            f, m = report.fpr_where("lang", lang)
            p(f"  {lang}: recall {_pct(r)} (n={n}), false positive rate {_pct(f)} (n={m})\n")
    p(f"about accuracy on caught crisis records: {_pct(report.about_accuracy)}\n")
    p(f"exact severity match: {_pct(report.exact_severity)}\n")
    p(f"misses ({len(report.misses)}):\n")
    for o in report.misses:
        p(f"  {o.id} true={o.severity} predicted={o.predicted} [{o.reason}] {o.text}\n")
    p(f"false alarms ({len(report.false_alarms)}):\n")
    for o in report.false_alarms:
        p(f"  {o.id} true={o.severity} predicted={o.predicted} [{o.reason}] {','.join(o.rules)}\n")
    p(json.dumps(report.summary(), sort_keys=True) + "\n")


def run_eval(path: Path, out: TextIO) -> int:
    """Evaluate the shipped detector on a JSONL file and print the report.

    Args:
        path: A JSONL file of records with `text` and `label`.
        out: Where to print the report.

    Returns:
        The process exit code (0).
    """
    detector = Detector.load()
    write_report(evaluate(detector, load_records(path)), out)
    return 0
