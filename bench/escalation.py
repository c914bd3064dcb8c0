"""Benchmark: crisis message arrival to the alert's send call, while ordinary messages flow.

Ordinary messages arrive at 500 per second (paced, across 50 groups); every 100 ms a crisis
message arrives in another group. The latency is from the moment the crisis event is handed to
the runtime to the moment the platform's `perform` is called with its alert.

Run: `.venv/bin/python bench/escalation.py [--quick]`; the last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.detector import generated_messages
from bench.harness import bench_app, message, register_groups
from bot.core.actions import Priority

CRISIS = "i cant do this anymore, i have the pills ready and tonight is the night"
ORDINARY_PER_S = 500


async def measure(backend: str, seconds: float) -> dict[str, float]:
    texts = generated_messages(1000)
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_app(backend, Path(tmp)) as (app, platform):
            await register_groups(app, 50 + 200)
            arrivals: dict[str, float] = {}
            tasks: set[asyncio.Task[None]] = set()

            def hand_over(event: object) -> None:
                task = asyncio.create_task(app.runtime.handle(event))  # type: ignore[arg-type]
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            started = time.perf_counter()
            n = 0
            crisis_group = 50
            next_crisis = started
            while time.perf_counter() - started < seconds:
                now = time.perf_counter()
                due = int((now - started) * ORDINARY_PER_S)
                while n < due:
                    hand_over(message(rng.randrange(50), rng.randrange(40), rng.choice(texts), n))
                    n += 1
                if now >= next_crisis:
                    event = message(crisis_group, 1, CRISIS, n)
                    arrivals[f"Group {crisis_group}"] = time.perf_counter()
                    hand_over(event)
                    crisis_group += 1
                    next_crisis += 0.1
                await asyncio.sleep(0.002)
            await asyncio.gather(*tasks)
            await app.settle()
            latencies = []
            for at, action in platform.performed:
                if action.priority != Priority.ALERT:
                    continue
                text = getattr(action, "text", "")
                for group, arrived in list(arrivals.items()):
                    if f"Group: {group}\n" in text:
                        latencies.append((at - arrived) * 1000)
                        del arrivals[group]
                        break
            ordinary_rate = n / (time.perf_counter() - started)
    latencies.sort()
    return {"escalation_p50_ms": round(statistics.median(latencies), 1),
            "escalation_p99_ms": round(latencies[min(len(latencies) - 1,
                                                     int(len(latencies) * 0.99))], 1),
            "escalation_alerts": len(latencies), "escalation_lost": len(arrivals),
            "escalation_background_msgs_per_s": round(ordinary_rate, 1)}


def run(quick: bool = False) -> dict[str, float]:
    return asyncio.run(measure("sqlite", 4.0 if quick else 15.0))


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
