"""Runs every benchmark and ends with one JSON line of named figures (SPEC.md "Benchmarks").

Each figure is measured against its own baseline in the same run where it has one (the detector
against a plain substring scan of the same lexicon), so ratios hold on a noisy machine.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# module, what it measures
BENCHMARKS = [
    ("bench.detector", "crisis detector throughput vs a substring scan"),
    ("bench.resources", "resource search over 10,000 entries, relevance"),
    ("bench.message_path", "ordinary messages through screen, dispatcher and storage"),
    ("bench.escalation", "crisis arrival to alert send under 500 msg/s"),
    ("bench.checkins", "check-in wave: 10,000 groups due in one minute"),
    ("bench.memory", "resident memory at 10,000 groups, start-up time"),
    ("bench.hostile", "hostile input: 100,000 Hypothesis examples, every command and role"),
]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    figures: dict[str, object] = {"machine": f"{platform.machine()} {platform.processor() or ''}"
                                  .strip(), "cpus": __import__("os").cpu_count(),
                                  "quick": quick}
    failed = []
    for module_name, what in BENCHMARKS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            print(f"-- {module_name}: not present, skipped", flush=True)
            continue
        print(f"-- {module_name}: {what}", flush=True)
        started = time.perf_counter()
        try:
            result = module.run(quick=quick)
        except Exception:
            traceback.print_exc()
            failed.append(module_name)
            continue
        for key, value in result.items():
            print(f"   {key}: {value}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
        figures.update(result)
    if failed:
        figures["failed"] = failed
    print(json.dumps(figures))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
