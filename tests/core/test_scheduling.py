"""The scheduler: a sweep can run soon after start instead of a whole interval later."""

from __future__ import annotations

import asyncio

from bot.scheduling import Scheduler


async def test_a_sweep_with_first_after_runs_soon_after_start() -> None:
    ran: list[str] = []
    soon = asyncio.Event()

    async def prompts() -> None:
        ran.append("prompts")
        soon.set()

    async def purge() -> None:
        ran.append("purge")

    scheduler = Scheduler()
    scheduler.every(3600, prompts, name="prompts", first_after=0.1)
    scheduler.every(3600, purge, name="purge")
    scheduler.start()
    try:
        await asyncio.wait_for(soon.wait(), timeout=5)
        await asyncio.sleep(0.2)
    finally:
        scheduler.stop()
    assert ran == ["prompts"]  # the other waits its hour
