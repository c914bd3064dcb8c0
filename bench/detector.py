"""Benchmark: crisis-detector throughput versus a plain substring scan of the same lexicon.

Messages are the labelled dev set (when present) plus generated everyday parent messages, mostly
benign as in a real group. Both contenders run on one core over the same messages:

* detector:  `Detector.assess(text)`;
* substring: `any(p in text.lower() for p in phrases)`, with `phrases` every phrase of the lexicon
  (word-list entries and patterns expanded over their alternatives, `Detector.phrases`). A
  "compact" variant scans only the lexicon's literal runs of words as written, unexpanded
  (`Detector.keywords`): far fewer strings, but it cannot express what the rules match.

Run: `.venv/bin/python bench/detector.py [--quick]`. The last line is one JSON object.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.crisis.detector import Detector  # noqa: E402

DEV_CANDIDATES = (
    ROOT.parent / "shared" / "crisis" / "dev.jsonl",
    ROOT / "shared" / "crisis" / "dev.jsonl",
)

_OPENERS = [
    "",
    "quick question: ",
    "update: ",
    "ok so ",
    "hi all, ",
    "ugh, ",
    "good news! ",
    "vent: ",
    "does anyone know ",
    "random but ",
    "thank you all, ",
    "hola! ",
    "",
]
_WHO = [
    "my son",
    "my daughter",
    "our 7yo",
    "my 12 year old",
    "the twins",
    "my teen",
    "our kiddo",
    "my youngest",
    "mi hijo",
    "mi hija",
    "my stepson",
    "he",
    "she",
]
_DID = [
    "had a great session with the OT today",
    "finally tried the new gluten free pasta and liked it",
    "refused to wear socks again this morning",
    "got his first star on the behavior chart",
    "is on the waitlist for a neuropsych eval",
    "melted down at the grocery store but recovered fast",
    "slept through the night for once",
    "has a new aide at school and really likes her",
    "started speech therapy twice a week",
    "said three new words at dinner",
    "is obsessed with trains and elevators lately",
    "did great at the dentist with the weighted blanket",
    "hates the new bus route",
    "tiene cita con la terapeuta de lenguaje el jueves",
    "ya come mejor con la nueva rutina",
]
_QUESTIONS = [
    "any recs for a pediatric dentist who takes medicaid?",
    "how do you all handle transitions after screen time?",
    "what did you put in the IEP for sensory breaks?",
    "is anyone else fighting insurance for ABA hours?",
    "does the 504 plan cover extra time on tests?",
    "where do you buy chewy necklaces that last?",
    "any tips for haircuts with a kid who hates clippers?",
    "who has tried the social skills group at the library?",
    "alguien sabe de un pediatra que hable español?",
    "what apps do you use for visual schedules?",
    "is it normal for the pharmacy to take 3 days on a refill?",
    "how long did your respite waiver take to get approved?",
]
_CLOSERS = ["", " lol", " 🙏", " thanks in advance!", " 💛", " any advice welcome", "", "!!", " 😅"]


def generated_messages(n: int, seed: int = 7) -> list[str]:
    """Build `n` varied, ordinary (benign) parent messages."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.45:
            text = f"{rng.choice(_OPENERS)}{rng.choice(_WHO)} {rng.choice(_DID)}"
        elif kind < 0.8:
            text = f"{rng.choice(_OPENERS)}{rng.choice(_QUESTIONS)}"
        else:
            text = (
                f"{rng.choice(_OPENERS)}{rng.choice(_WHO)} {rng.choice(_DID)}. also, {rng.choice(_QUESTIONS)}"
            )
        out.append(text + rng.choice(_CLOSERS))
    return out


def dev_messages() -> list[str]:
    """The labelled dev-set texts, when the shared data is available."""
    for path in DEV_CANDIDATES:
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                return [json.loads(line)["text"] for line in fh if line.strip()]
    return []


def _rate(fn: Callable[[str], object], messages: Sequence[str], rounds: int) -> float:
    """Messages per second (best of `rounds`), measured in process CPU time."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for msg in messages:
            fn(msg)
        best = min(best, time.process_time() - start)
    return len(messages) / best if best > 0 else float("inf")


def run(quick: bool = False) -> dict[str, float]:
    """Measure both contenders and return the headline figures.

    Args:
        quick: Fewer messages and rounds (for CI smoke runs).

    Returns:
        `detector_msgs_per_s`, `substring_msgs_per_s`, `detector_vs_substring`, plus the
        compact-baseline figures and sizes.
    """
    detector = Detector.load()
    messages = dev_messages() + generated_messages(400 if quick else 3000)
    rounds = 2 if quick else 5
    phrases = [p.lower() for p in detector.phrases]
    compact = [k.lower() for k in detector.keywords]

    def substring(text: str, phrases: list[str] = phrases) -> bool:
        low = text.lower()
        return any(p in low for p in phrases)

    def substring_compact(text: str, phrases: list[str] = compact) -> bool:
        low = text.lower()
        return any(p in low for p in phrases)

    for msg in messages[:200]:  # warm-up
        detector.assess(msg)
    det = _rate(detector.assess, messages, rounds)
    sub = _rate(substring, messages, max(1, rounds // 2))
    sub_c = _rate(substring_compact, messages, rounds)
    return {
        "detector_msgs_per_s": round(det, 1),
        "substring_msgs_per_s": round(sub, 1),
        "detector_vs_substring": round(det / sub, 2),
        "substring_compact_msgs_per_s": round(sub_c, 1),
        "detector_vs_substring_compact": round(det / sub_c, 2),
        "messages": float(len(messages)),
        "phrases": float(len(phrases)),
        "phrases_compact": float(len(compact)),
    }


def main(argv: Sequence[str]) -> int:
    """Print the figures and end with one JSON line."""
    quick = "--quick" in argv
    res = run(quick=quick)
    n = int(res["messages"])
    print(f"messages: {n} (dev set + generated everyday messages), one core, CPU time")
    print(
        f"detector:            {res['detector_msgs_per_s']:>10.0f} msg/s"
        f"  ({1e6 / res['detector_msgs_per_s']:.1f} us/msg)"
    )
    print(
        f"substring (full):    {res['substring_msgs_per_s']:>10.0f} msg/s  over {int(res['phrases'])} phrases"
    )
    print(
        f"substring (compact): {res['substring_compact_msgs_per_s']:>10.0f} msg/s"
        f"  over {int(res['phrases_compact'])} phrases"
    )
    print(
        f"detector vs substring: {res['detector_vs_substring']}x "
        f"(compact: {res['detector_vs_substring_compact']}x)"
    )
    headline = {k: res[k] for k in ("detector_msgs_per_s", "substring_msgs_per_s", "detector_vs_substring")}
    headline["detector_vs_substring_compact"] = res["detector_vs_substring_compact"]
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
