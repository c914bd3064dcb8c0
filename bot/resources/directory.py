"""The stored directory as each process sees it: an in-memory search index, reloaded when entries change.

Guarantees:
    * Crisis lines are never missing: until the stored directory has loaded (or while storage is
      unreachable) the shipped lines are served.
    * A change made in this process is searchable as soon as the change is committed
      (`changed()`); a change made by another process is picked up within `check_seconds`
      (a one-row version counter in the database, read at most that often).
    * The shipped entries are seeded into storage once per process, before the first load:
      new shipped entries are added, changed ones updated, retired ones removed, and rows written
      by an operator or facilitator are never overwritten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import overload

from bot.core.ports import Clock
from bot.resources.model import Resource
from bot.resources.ports import ResourcesStore, SeedReport
from bot.resources.search import ResourceIndex

log = logging.getLogger(__name__)

StoreFactory = Callable[[], AbstractAsyncContextManager[ResourcesStore]]

CHECK_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _Snapshot:
    version: int
    entries: tuple[Resource, ...]
    crisis: tuple[Resource, ...]
    index: ResourceIndex | None


class CrisisLinesView(Sequence[Resource]):
    """The crisis-category entries of the directory as it is now (every group's own included).

    A live sequence: each iteration reads the directory's current snapshot, so the crisis
    capability, which filters by group with `Resource.visible_to(group.key)`, always gives the
    lines a facilitator added a moment ago.
    """

    def __init__(self, directory: ResourceDirectory) -> None:
        self._directory = directory

    def __len__(self) -> int:
        return len(self._directory.snapshot_crisis())

    @overload
    def __getitem__(self, index: int) -> Resource: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Resource]: ...

    def __getitem__(self, index: int | slice) -> Resource | Sequence[Resource]:
        return self._directory.snapshot_crisis()[index]

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._directory.snapshot_crisis())


class ResourceDirectory:
    """Keeps one search index per process over the stored directory.

    Args:
        store: Unit-of-work factory.
        shipped: The entries Kindred ships (seeded into storage; served until the first load).
        clock: For the time stamps of seeded rows.
        check_seconds: How often, at most, the database's version counter is read.
        monotonic: Seconds clock for the check interval (tests pass their own).
    """

    def __init__(
        self,
        *,
        store: StoreFactory,
        shipped: Sequence[Resource],
        clock: Clock,
        check_seconds: float = CHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._shipped = tuple(shipped)
        self._clock = clock
        self._check_seconds = check_seconds
        self._monotonic = monotonic
        self._snapshot = _Snapshot(
            version=-1, entries=self._shipped,
            crisis=tuple(r for r in self._shipped if r.is_crisis_line), index=None)
        self._loaded = False
        self._seeded = False
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        self.crisis_lines = CrisisLinesView(self)
        self.loads = 0

    @property
    def loaded(self) -> bool:
        """Whether the stored directory has been loaded at least once."""
        return self._loaded

    @property
    def entries(self) -> tuple[Resource, ...]:
        """Every entry of the current snapshot."""
        return self._snapshot.entries

    def snapshot_crisis(self) -> tuple[Resource, ...]:
        """The crisis-category entries of the current snapshot."""
        return self._snapshot.crisis

    async def index(self) -> ResourceIndex:
        """The search index, reloaded first if the directory changed since it was built."""
        await self.refresh()
        snapshot = self._snapshot
        if snapshot.index is None:
            # Only before the first successful load: index the shipped entries.
            built = await asyncio.to_thread(ResourceIndex, snapshot.entries)
            if self._snapshot is snapshot:
                self._snapshot = _Snapshot(snapshot.version, snapshot.entries, snapshot.crisis, built)
            return built
        return snapshot.index

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if the stored directory changed; returns whether it reloaded.

        Reads the version counter at most every `check_seconds` unless `force`. A storage failure
        is logged and the current snapshot kept (searches and crisis lines go on working).
        """
        if not force and self._loaded and self._monotonic() - self._checked_at < self._check_seconds:
            return False
        async with self._lock:
            if not force and self._loaded and self._monotonic() - self._checked_at < self._check_seconds:
                return False
            try:
                return await self._reload(force)
            except Exception:
                log.exception("resource directory could not be loaded; serving the last copy")
                return False

    async def changed(self) -> None:
        """Call after committing a change: the next search and crisis reply see it."""
        await self.refresh(force=True)

    async def refresh_sweep(self) -> None:
        """Scheduler job: pick up changes other processes made (and load at start)."""
        await self.refresh()

    async def _reload(self, force: bool) -> bool:
        if not self._seeded:
            await self._seed()
        async with self._store() as store:
            version = await store.resources.version()
            self._checked_at = self._monotonic()
            if self._loaded and not force and version == self._snapshot.version:
                return False
            stored = await store.resources.all()
        entries = tuple(s.resource for s in stored)
        index = await asyncio.to_thread(ResourceIndex, entries)
        self._snapshot = _Snapshot(
            version=version, entries=entries,
            crisis=tuple(r for r in entries if r.is_crisis_line), index=index)
        self._loaded = True
        self.loads += 1
        log.info("resource directory loaded", extra={"entries": len(entries), "version": version})
        return True

    async def _seed(self) -> None:
        try:
            report = await self._seed_once()
        except Exception:
            # Two processes starting together may both insert a shipped row; the one that lost
            # finds the row there on its second try.
            report = await self._seed_once()
        self._seeded = True
        if report.changed:
            log.info("shipped resources seeded", extra={
                "added": report.added, "updated": report.updated, "removed": report.removed,
                "kept_local": report.kept_local})

    async def _seed_once(self) -> SeedReport:
        return await seed_shipped(self._store, self._shipped, at=self._clock.now())


async def seed_shipped(store: StoreFactory, shipped: Sequence[Resource], *, at: datetime) -> SeedReport:
    """Store the shipped entries in one transaction (raising the version counter if anything changed).

    New shipped entries are added, changed ones updated, retired ones removed; rows an operator
    or facilitator wrote are left as they are.
    """
    async with store() as unit:
        report = await unit.resources.seed_shipped(shipped, at=at)
        if report.changed:
            await unit.resources.bump_version()
        await unit.commit()
    return report
