"""The one outbound queue: every action goes through it, alerts first, with retries.

Guarantees:
    * An item of a higher priority (lower number) is always sent before a ready item of a lower
      one; a chat that is at its rate limit never holds up messages to other chats.
    * A rate-limit answer is retried after the platform's `retry_after`; transient errors are
      retried with exponential backoff and jitter (for alerts and safety replies at most a few
      seconds apart, so one goes out within seconds of an outage ending); a permanent refusal
      is reported, not retried.
    * Nothing is dropped silently: a give-up is logged and reported to the item's callback.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.core.actions import Action, Delivered, Priority, platform_of_action
from bot.core.ports import DeliveryError, Platform, RateLimited, TransientError

log = logging.getLogger(__name__)

DoneCallback = Callable[[Delivered | None, BaseException | None], Awaitable[None]]

MAX_TRANSIENT_ATTEMPTS = 8
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 60.0
# Alerts keep trying every couple of seconds for about two minutes before the outbox's own,
# slower retries take over: an outage must not leave an alert waiting a minute after it ends.
URGENT_BACKOFF_CAP_S = 2.0
URGENT_TRANSIENT_ATTEMPTS = 60


@dataclass(slots=True)
class _Item:
    priority: int
    seq: int
    action: Action
    on_done: DoneCallback | None
    ready_at: float = 0.0
    attempts: int = 0
    durable: bool = False


@dataclass(slots=True)
class _Lane:
    """One platform's share of the queue: ready items by priority, waiting items by time."""

    ready: list[tuple[int, int, _Item]] = field(default_factory=list)
    waiting: list[tuple[float, int, _Item]] = field(default_factory=list)
    paused_until: float = 0.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class DeliveryStats:
    """Counters for metrics and benchmarks."""

    sent: int = 0
    retried: int = 0
    rate_limited: int = 0
    failed: int = 0


class DeliveryQueue:
    """Priority queue and sender workers, one lane per platform."""

    def __init__(self, platforms: Mapping[str, Platform], *, workers_per_platform: int = 4) -> None:
        self._platforms = dict(platforms)
        self._lanes = {name: _Lane() for name in self._platforms}
        self._workers_per_platform = workers_per_platform
        self._tasks: list[asyncio.Task[None]] = []
        self._seq = itertools.count()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self.stats = DeliveryStats()

    def add_platform(self, platform: Platform) -> None:
        """Add a platform before `start`."""
        self._platforms[platform.name] = platform
        self._lanes[platform.name] = _Lane()

    def start(self) -> None:
        """Start the sender workers inside the running loop."""
        for name in self._platforms:
            for index in range(self._workers_per_platform):
                self._tasks.append(asyncio.create_task(self._worker(name), name=f"send-{name}-{index}"))

    async def stop(self, *, drain_seconds: float = 5.0) -> None:
        """Finish what can be finished within `drain_seconds`, then stop the workers."""
        self._closing = True
        if self._pending:
            try:
                await asyncio.wait_for(self._idle.wait(), timeout=drain_seconds)
            except TimeoutError:
                log.warning("stopping with undelivered actions", extra={"count": self._pending})
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def put(self, action: Action, *, on_done: DoneCallback | None = None,
            durable: bool = False) -> None:
        """Queue one action; `on_done` learns how it ended."""
        name = platform_of_action(action)
        lane = self._lanes.get(name)
        if lane is None:
            log.error("no platform for action", extra={"platform": name})
            return
        item = _Item(priority=int(action.priority), seq=next(self._seq), action=action,
                     on_done=on_done, durable=durable)
        heapq.heappush(lane.ready, (item.priority, item.seq, item))
        self._pending += 1
        self._idle.clear()
        lane.wake.set()

    def put_all(self, actions: Iterable[Action]) -> None:
        """Queue several actions."""
        for action in actions:
            self.put(action)

    @property
    def pending(self) -> int:
        """Actions queued or in flight."""
        return self._pending

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or in flight; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def _next(self, name: str) -> _Item:
        lane = self._lanes[name]
        while True:
            now = time.monotonic()
            while lane.waiting and lane.waiting[0][0] <= now:
                _, _, item = heapq.heappop(lane.waiting)
                heapq.heappush(lane.ready, (item.priority, item.seq, item))
            if lane.paused_until > now:
                timeout: float | None = lane.paused_until - now
            elif lane.ready:
                return heapq.heappop(lane.ready)[2]
            else:
                timeout = lane.waiting[0][0] - now if lane.waiting else None
            lane.wake.clear()
            try:
                await asyncio.wait_for(lane.wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

    def _later(self, name: str, item: _Item, delay: float) -> None:
        item.ready_at = time.monotonic() + delay
        lane = self._lanes[name]
        heapq.heappush(lane.waiting, (item.ready_at, item.seq, item))
        lane.wake.set()

    async def _worker(self, name: str) -> None:
        platform = self._platforms[name]
        while True:
            item = await self._next(name)
            wait = platform.reserve(item.action)
            if wait > 0:
                self._later(name, item, wait)
                continue
            try:
                delivered = await platform.perform(item.action)
            except RateLimited as limited:
                self.stats.rate_limited += 1
                item.attempts += 1
                if limited.scope == "global":
                    self._lanes[name].paused_until = time.monotonic() + limited.retry_after
                self._later(name, item, limited.retry_after)
                log.warning("rate limited; will retry", extra={
                    "platform": name, "retry_after": limited.retry_after})
                continue
            except DeliveryError as refused:
                await self._finish(item, None, refused)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as error:
                item.attempts += 1
                if not isinstance(error, TransientError):
                    log.exception("unexpected delivery error", extra={"platform": name})
                urgent = item.priority <= Priority.SAFETY_REPLY
                if item.attempts >= (URGENT_TRANSIENT_ATTEMPTS if urgent
                                     else MAX_TRANSIENT_ATTEMPTS):
                    await self._finish(item, None, error)
                    continue
                self.stats.retried += 1
                backoff = min(URGENT_BACKOFF_CAP_S if urgent else BACKOFF_CAP_S,
                              BACKOFF_BASE_S * 2 ** min(item.attempts, 10))
                self._later(name, item, backoff * (0.5 + random.random() / 2))
                continue
            await self._finish(item, delivered, None)

    async def _finish(self, item: _Item, delivered: Delivered | None,
                      error: BaseException | None) -> None:
        if error is None:
            self.stats.sent += 1
        else:
            self.stats.failed += 1
            log.warning("delivery gave up", extra={
                "action": type(item.action).__name__, "error": type(error).__name__})
        try:
            if item.on_done is not None:
                await item.on_done(delivered, error)
        except Exception:
            log.exception("delivery callback failed")
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()
