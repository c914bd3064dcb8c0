"""Benchmark: ordinary group messages per second through screen, dispatcher and storage.

Each message goes the whole way an adapter's does: `Runtime.handle` checks the event id, looks up
the group and the person, runs the crisis screen, routes, and commits the event id, so the
message is durable before `handle` returns (when an adapter would confirm it). 64 in flight.

Run: `.venv/bin/python bench/message_path.py [--quick]`; the last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.detector import generated_messages
from bench.harness import bench_app, message, register_groups

IN_FLIGHT = 64


async def rate(backend: str, count: int) -> float:
    texts = generated_messages(2000)
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_app(backend, Path(tmp)) as (app, _platform):
            await register_groups(app, 50)
            events = [message(rng.randrange(50), rng.randrange(2000), rng.choice(texts), n)
                      for n in range(count)]
            for event in events[:50]:  # warm caches and connections
                await app.runtime.handle(event)
            work = events[50:]
            semaphore = asyncio.Semaphore(IN_FLIGHT)

            async def one(event: object) -> None:
                async with semaphore:
                    await app.runtime.handle(event)  # type: ignore[arg-type]

            started = time.perf_counter()
            await asyncio.gather(*(one(e) for e in work))
            elapsed = time.perf_counter() - started
    return len(work) / elapsed


def run(quick: bool = False) -> dict[str, float]:
    count = 800 if quick else 4000
    figures = {"message_path_msgs_per_s_sqlite": round(asyncio.run(rate("sqlite", count)), 1)}
    try:
        figures["message_path_msgs_per_s_postgres"] = round(asyncio.run(rate("postgres", count)), 1)
    except OSError as error:
        print(f"postgres unavailable: {error}", file=sys.stderr)
    return figures


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
