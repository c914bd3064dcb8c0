"""Benchmark: a check-in wave of 10,000 groups due in the same minute.

Claim: 10,000 groups have their check-in at the same local minute; one sweep claims every
(group, day) and commits its prompt to the outbox; the figure is the time from the sweep's start
until every prompt has reached the platform's send call (an instant recording platform).
Send rate: a smaller wave goes to the fake Telegram Bot API server enforcing Telegram's limits
(30 messages a second overall, 20 a minute per group) through the real Telegram adapter; the
figures are the sustained send rate and the 429 answers seen.

Run: `.venv/bin/python bench/checkins.py [--quick]`; the last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.memory import fill  # noqa: E402
from bot.core.actions import SendMessage  # noqa: E402


class _FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def claim_wave(groups: int) -> float:
    from sqlalchemy import update

    from storage.tables import GroupRow

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'wave.db'}"
        await fill(url, groups, groups)
        from storage.db import Database

        database = Database(url)
        async with database.engine.begin() as connection:
            await connection.execute(update(GroupRow).values(checkin_time="19:00"))
        await database.dispose()
        from bench.harness import RecordingPlatform
        from bot.bootstrap import build_application
        from bot.settings import Settings

        platform = RecordingPlatform()
        app = build_application(Settings.from_env({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}),
                                platforms={"bench": platform},
                                clock=_FixedClock(datetime(2026, 6, 1, 19, 0, 20, tzinfo=UTC)))
        await app.start()
        app.scheduler.stop()
        started = time.perf_counter()
        await app.checkins.prompt_sweep()
        print(f"   claimed in {time.perf_counter() - started:.2f} s", file=sys.stderr)
        while sum(isinstance(a, SendMessage) for _, a in platform.performed) < groups:
            await app.outbox.pump_once(limit=500)
            await app.queue.wait_idle(timeout=60)
        elapsed = time.perf_counter() - started
        await app.stop()
    return elapsed


async def send_rate(groups: int) -> tuple[float, int]:
    from tests.fakes.telegram_api import FakeTelegram

    fake = FakeTelegram()
    for n in range(groups):
        fake.add_group(-1001000000000 - n, f"Group {n}")
    fake.enforce_limits()
    async with fake:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'rate.db'}"
            from bot.bootstrap import build_application
            from bot.core.actions import Priority
            from bot.core.identity import ChatRef
            from bot.settings import Settings

            app = build_application(Settings.from_env({
                "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url}))
            await app.start()
            app.scheduler.stop()
            started = time.perf_counter()
            for n in range(groups):
                app.queue.put(SendMessage(to=ChatRef("telegram", str(-1001000000000 - n), "group"),
                                          text="How are you today?", priority=Priority.BULK))
            await app.queue.wait_idle(timeout=600)
            elapsed = time.perf_counter() - started
            sent = len([r for r in fake.sent if r.method == "sendMessage"])
            await app.stop()
    return sent / elapsed, fake.count_429


def run(quick: bool = False) -> dict[str, float]:
    groups = 2_000 if quick else 10_000
    claim_s = asyncio.run(claim_wave(groups))
    rate, limited = asyncio.run(send_rate(150 if quick else 600))
    suffix = "" if not quick else "_2k_groups"
    return {f"checkin_wave_claim_s{suffix}": round(claim_s, 2),
            "checkin_send_per_s": round(rate, 1), "checkin_429s": limited}


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
