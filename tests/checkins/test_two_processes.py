"""Two real processes on one PostgreSQL database never send two prompts for a group and day."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from bot.core.identity import ChatRef
from bot.core.models import Group
from storage import migrate
from storage.db import Database
from storage.unit_of_work import UnitOfWorkFactory

ROOT = Path(__file__).resolve().parents[2]
GROUPS = 40


async def prepare(url: str) -> None:
    database = Database(url)
    try:
        await migrate.upgrade(database)
        async with UnitOfWorkFactory(database)() as store:
            for n in range(GROUPS):
                await store.groups.add(Group(
                    key=f"fake:{n}", platform="fake", home_chat=ChatRef("fake", str(n), "group"),
                    timezone="Europe/Madrid", checkin_time=time(19, 0)))
            await store.commit()
    finally:
        await database.dispose()


async def run_pair(url: str, at: datetime) -> list[list[str]]:
    """Start two worker processes, let them sweep at the same moment, return what each sent."""
    workers = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.checkins.worker", url, at.isoformat(), cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "LOG_LEVEL": "WARNING"}) for _ in range(2)]
    for worker in workers:
        assert worker.stdout is not None
        line = await asyncio.wait_for(worker.stdout.readline(), timeout=60)
        assert line.strip() == b"ready", line
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    results = []
    for worker in workers:
        out, _ = await asyncio.wait_for(worker.communicate(), timeout=60)
        assert worker.returncode == 0
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


async def test_two_processes_never_send_two_prompts_for_a_group_and_day(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share one database only on PostgreSQL")
    await prepare(database_url)
    first, second = await run_pair(database_url, datetime(2026, 3, 2, 18, 5, tzinfo=UTC))
    sent = first + second
    assert sorted(sent) == sorted(str(n) for n in range(GROUPS))  # each group exactly once
    # Both restarted, still within the catch-up window: nothing more.
    again = await run_pair(database_url, datetime(2026, 3, 2, 19, 30, tzinfo=UTC))
    assert again == [[], []]
