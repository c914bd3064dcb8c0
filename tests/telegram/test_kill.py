"""A real bot process killed with SIGKILL around a crisis message, then restarted: the alert arrives.

The fake Bot API server runs in the test; `python -m bot` runs as a separate process against it,
exactly as a deployment would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import DANA, GROUP, SAM, make_fake

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]

ROOT = Path(__file__).resolve().parents[2]
CRISIS = "i cant do this anymore, i have the pills ready and tonight is the night"


async def start_bot(fake: FakeTelegram, database_url: str, tmp_path: Path,
                    log: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update({"DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url, "LOG_LEVEL": "WARNING",
                "KINDRED_ENV_FILE": str(tmp_path / "none.env"),
                "ESCALATION_RENOTIFY_MINUTES": "60"})
    handle = log.open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=str(ROOT), env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=handle, stderr=handle)


async def stop(process: asyncio.subprocess.Process, sig: int) -> int:
    if process.returncode is None:
        process.send_signal(sig)
    return await asyncio.wait_for(process.wait(), timeout=30)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = make_fake()
    async with server:
        yield server


@pytest.mark.parametrize("moment", ["after-fetch", "after-commit"])
async def test_sigkill_around_a_crisis_message_loses_nothing(
        fake: FakeTelegram, database_url: str, tmp_path: Path, moment: str) -> None:
    log = tmp_path / "bot.log"
    bot = await start_bot(fake, database_url, tmp_path, log)
    try:
        fake.user_sends(GROUP, DANA, "/setup")
        await fake.wait_for(lambda r: r.chat_id == GROUP and "set up" in (r.text or ""),
                            timeout=60)
        fake.user_starts_bot(DANA)  # Dana can now be written to privately
        await fake.wait_for(lambda r: r.chat_id == DANA, timeout=30)

        if moment == "after-commit":
            # Every send fails, so the process dies with the escalation stored and unsent.
            fake.fail_all_for(120, status=500, methods=["sendMessage"])
        calls_before = len(fake.calls)
        fake.user_sends(GROUP, SAM, CRISIS)
        if moment == "after-fetch":
            await fake.wait_for_call(lambda c: c.method == "getUpdates" and c.status == 200,
                                     timeout=30, start=calls_before)
        else:
            await fake.wait_for_call(lambda c: c.method == "sendMessage" and c.status == 500,
                                     timeout=30, start=calls_before)
        assert await stop(bot, signal.SIGKILL) == -signal.SIGKILL
        fake.clear_faults()
        alerts_before = [r for r in fake.sent if r.chat_id == DANA and "URGENT" in (r.text or "")]

        bot = await start_bot(fake, database_url, tmp_path, log)
        alert = await fake.wait_for(lambda r: r.chat_id == DANA and "URGENT" in (r.text or ""),
                                    timeout=60, start=0)
        assert "Member: Sam" in (alert.text or "")
        await asyncio.sleep(1.0)
        alerts = [r for r in fake.sent if r.chat_id == DANA and "URGENT" in (r.text or "")]
        # At most one duplicate, and only if the kill fell between a send and its record.
        assert 1 <= len(alerts) <= len(alerts_before) + 1
        assert await stop(bot, signal.SIGTERM) == 0
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert fake.token not in log.read_text(errors="replace")
    assert CRISIS not in log.read_text(errors="replace")
