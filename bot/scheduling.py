"""The one scheduler, owned by the core (APScheduler 3.x); every job is an idempotent sweep.

Jobs decide what is due from the database on every tick and claim work there before acting, so
a restart loses nothing and two processes never do the same work twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Sweep = Callable[[], Awaitable[None]]


class Scheduler:
    """A thin wrapper so capabilities register sweeps without knowing APScheduler."""

    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._sweeps: dict[str, Sweep] = {}
        self._intervals: dict[str, tuple[float, float | None]] = {}

    def every(self, seconds: float, sweep: Sweep, *, name: str,
              first_after: float | None = None) -> None:
        """Run `sweep` every `seconds`; a slow run is never overlapped by the next.

        With `first_after`, the first run comes that many seconds after `start` rather than a
        whole interval later: a process restarted in a crash loop still runs it.
        """
        self._sweeps[name] = sweep
        self._intervals[name] = (seconds, first_after)

    def _add_job(self, name: str) -> None:
        sweep = self._sweeps[name]
        seconds, first_after = self._intervals[name]

        async def guarded() -> None:
            try:
                await sweep()
            except Exception:
                log.exception("sweep failed", extra={"sweep": name})

        first = (datetime.now(UTC) + timedelta(seconds=first_after)
                 if first_after is not None else None)
        self._scheduler.add_job(guarded, "interval", seconds=seconds, id=name, name=name,
                                max_instances=1, coalesce=True, misfire_grace_time=30,
                                replace_existing=True,
                                **({"next_run_time": first} if first is not None else {}))

    @property
    def names(self) -> tuple[str, ...]:
        """The registered sweeps."""
        return tuple(self._sweeps)

    async def run_now(self, name: str) -> None:
        """Run one sweep at once (start-up catch-up, tests)."""
        await self._sweeps[name]()

    def start(self) -> None:
        """Start ticking (inside the running loop); intervals count from now."""
        for name in self._sweeps:
            self._add_job(name)
        self._scheduler.start()

    def stop(self) -> None:
        """Stop ticking; running jobs finish on their own."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
