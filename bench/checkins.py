"""Benchmark: a check-in wave of 10,000 groups due in the same minute.

Claim: 10,000 groups have their check-in at the same local minute; one sweep claims every
(group, day) and commits its prompt to the outbox. Two figures: the time until the sweep has
claimed and durably queued every prompt (`checkin_wave_claim_s`, the issue's target), and the
time until every prompt has reached the platform's send call on an instant recording platform
(`checkin_wave_all_sent_s`: claim, send and record each outcome).
Send rate: a smaller wave goes to the fake Telegram Bot API server enforcing Telegram's limits
(30 messages a second overall, 20 a minute per group), run in a process of its own as Telegram
is (bench/telegram_server.py), through the real Telegram adapter; the figures are the sustained
send rate as the server saw it (first to last arrival) and the 429 answers it gave.

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


async def claim_wave(groups: int) -> tuple[float, float]:
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
        claimed = time.perf_counter() - started
        while sum(isinstance(a, SendMessage) for _, a in platform.performed) < groups:
            await app.outbox.pump_once(limit=500)
            await app.queue.wait_idle(timeout=60)
        elapsed = time.perf_counter() - started
        await app.stop()
    return claimed, elapsed


async def send_rate(groups: int) -> tuple[float, int]:
    """Sustained sends a second as the fake (in its own process) saw them, and its 429s."""
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.telegram_server", "--groups", str(groups), cwd=str(ROOT),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert server.stdin is not None and server.stdout is not None
    address = json.loads(await server.stdout.readline())
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'rate.db'}"
        from bench.telegram_server import FIRST_GROUP
        from bot.bootstrap import build_application
        from bot.core.actions import Priority
        from bot.core.identity import ChatRef
        from bot.settings import Settings

        app = build_application(Settings.from_env({
            "DATABASE_URL": url, "LOG_LEVEL": "ERROR", "TELEGRAM_BOT_TOKEN": address["token"],
            "TELEGRAM_API_BASE_URL": address["base_url"]}))
        await app.start()
        app.scheduler.stop()
        for n in range(groups):
            app.queue.put(SendMessage(to=ChatRef("telegram", str(FIRST_GROUP - n), "group"),
                                      text="How are you today?", priority=Priority.BULK))
        await app.queue.wait_idle(timeout=600)
        await app.stop()
    server.stdin.close()
    seen = json.loads(await server.stdout.readline())
    await server.wait()
    if seen["sent"] < groups:
        raise RuntimeError(f"only {seen['sent']} of {groups} prompts arrived")
    return float(seen["sustained_per_s"]), int(seen["count_429"])


def run(quick: bool = False) -> dict[str, float]:
    groups = 2_000 if quick else 10_000
    claim_s, all_sent_s = asyncio.run(claim_wave(groups))
    rate, limited = asyncio.run(send_rate(150 if quick else 600))
    suffix = "" if not quick else "_2k_groups"
    return {f"checkin_wave_claim_s{suffix}": round(claim_s, 2),
            f"checkin_wave_all_sent_s{suffix}": round(all_sent_s, 2),
            "checkin_send_per_s": round(rate, 1), "checkin_429s": limited}


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
