"""The durable outbox: actions committed to the database before they are sent, then delivered.

Guarantees:
    * A delivery is sent at least once: a process killed after committing it leaves it pending,
      and any process (this one restarted, or another) claims it once its lease runs out.
    * A recipient gets the same delivery twice only when a process dies between sending it and
      recording that it was sent.
    * Several processes share the work: a claim takes a lease in one statement, so two
      processes never hold the same delivery at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.actions import Action, Delivered
from bot.core.ports import Clock, DeliveryError
from bot.core.serialize import action_from_json, action_to_json
from bot.delivery import DeliveryQueue, DoneCallback

log = logging.getLogger(__name__)

# A short lease, renewed while a delivery is in flight, so a killed process's deliveries are
# taken over within seconds, while a slow (rate-limited) send is never taken over.
LEASE = timedelta(seconds=5)
RENEW_EVERY_SECONDS = 1.5
MAX_ATTEMPTS = 12
POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A claimed delivery."""

    id: int
    payload: str = ""
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to commit: unique by `dedupe_key` (e.g. "esc:12:open:telegram:42")."""

    dedupe_key: str
    action: Action
    escalation_id: int | None = None
    recipient: str = ""


class OutboxRepository(Protocol):
    """Deliveries in the database."""

    async def add_many(self, deliveries: list[tuple[str, str, int, int | None, str]], *,
                       now: datetime) -> int:
        """Store several (key, payload, priority, escalation, recipient) at once; returns new."""
        ...

    async def claim(self, *, now: datetime, owner: str, lease_until: datetime,
                    limit: int) -> list[PendingDelivery]:
        """Lease up to `limit` due deliveries, most urgent first."""
        ...

    async def mark_sent(self, delivery_id: int, *, at: datetime, message_key: str | None) -> None:
        """Record that it went out."""
        ...

    async def renew(self, delivery_ids: list[int], *, owner: str, lease_until: datetime) -> None:
        """Extend the leases this owner holds."""
        ...

    async def forget_escalations(self, escalation_ids: list[int]) -> None:
        """Blank the stored text of these escalations' finished deliveries."""
        ...

    async def mark_retry(self, delivery_id: int, *, next_at: datetime, error: str,
                         dead: bool) -> None:
        """Release it for a later attempt, or give up (`dead`)."""
        ...


class OutboxStore(Protocol):
    """A unit of work with the outbox."""

    @property
    def outbox(self) -> OutboxRepository:
        """Deliveries."""
        ...

    async def commit(self) -> None:
        """Make the changes durable."""
        ...


def stage(deliveries: list[NewDelivery]) -> list[tuple[str, str, int, int | None, str]]:
    """Encode deliveries for `OutboxRepository.add` (key, payload, priority, escalation, recipient)."""
    return [(d.dedupe_key, action_to_json(d.action), int(d.action.priority), d.escalation_id,
             d.recipient) for d in deliveries]


async def add_all(store: OutboxStore, deliveries: list[NewDelivery], now: datetime) -> int:
    """Add deliveries inside the caller's transaction; returns how many were new."""
    return await store.outbox.add_many(stage(deliveries), now=now)


class OutboxPump:
    """Claims due deliveries and hands them to the delivery queue; records how each ended."""

    def __init__(self, *, store: Callable[[], AbstractAsyncContextManager[OutboxStore]],
                 queue: DeliveryQueue, clock: Clock) -> None:
        self._store = store
        self._queue = queue
        self._clock = clock
        self.owner = f"kindred-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[int] = set()
        self._claiming = asyncio.Lock()  # one claim at a time, so in-flight is always complete
        self._outcomes: list[tuple[PendingDelivery, Delivered | None, BaseException | None,
                                   asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Something was committed: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Start pumping inside the running loop."""
        self._task = asyncio.create_task(self._run(), name="outbox-pump")

    async def stop(self) -> None:
        """Stop claiming; deliveries in flight may still finish (see `release`)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def release(self) -> None:
        """Hand what is still unsent back to the pool at once (clean shutdown)."""
        if self._in_flight:
            try:
                async with self._store() as store:
                    await store.outbox.renew(sorted(self._in_flight), owner=self.owner,
                                             lease_until=self._clock.now())
                    await store.commit()
            except Exception:
                log.exception("could not release leases; they run out by themselves")

    async def _renew(self) -> None:
        if not self._in_flight:
            return
        async with self._store() as store:
            await store.outbox.renew(sorted(self._in_flight), owner=self.owner,
                                     lease_until=self._clock.now() + LEASE)
            await store.commit()

    async def _run(self) -> None:
        last_renewal = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - last_renewal >= RENEW_EVERY_SECONDS:
                    await self._renew()
                    last_renewal = loop.time()
                await self.pump_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pump failed; retrying")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
            except TimeoutError:
                pass

    async def settle(self, timeout: float = 30.0) -> None:
        """Deliver everything due now and wait until it is sent (console scripts, tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            claimed = await self.pump_once()
            await self._queue.wait_idle(timeout=max(0.1, deadline - loop.time()))
            if claimed == 0 and not self._in_flight:
                return

    async def pump_once(self, limit: int = 100) -> int:
        """Claim what is due and queue it; returns how many were claimed."""
        async with self._claiming:
            return await self._claim_and_queue(limit)

    async def _claim_and_queue(self, limit: int) -> int:
        now = self._clock.now()
        async with self._store() as store:
            claimed = await store.outbox.claim(now=now, owner=self.owner,
                                               lease_until=now + LEASE, limit=limit)
            await store.commit()
        for pending in claimed:
            if pending.id in self._in_flight:
                continue
            try:
                action = action_from_json(pending.payload)
            except Exception:
                log.exception("undecodable delivery", extra={"delivery_id": pending.id})
                await self._finish(pending, None, DeliveryError("undecodable"))
                continue
            self._in_flight.add(pending.id)
            self._queue.put(action, on_done=self._done_callback(pending), durable=True)
        return len(claimed)

    def _done_callback(self, pending: PendingDelivery) -> DoneCallback:
        async def callback(delivered: Delivered | None, error: BaseException | None) -> None:
            await self._finish(pending, delivered, error)
        return callback

    async def _finish(self, pending: PendingDelivery, delivered: Delivered | None,
                      error: BaseException | None) -> None:
        # Outcomes are recorded in batches (one transaction for all that end together); the
        # delivery stays in flight, its lease renewed, until its outcome is durable.
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((pending, delivered, error, future))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_outcomes(), name="outbox-outcomes")
        await future

    async def _record_outcomes(self) -> None:
        while self._outcomes:
            await asyncio.sleep(0)
            batch, self._outcomes = self._outcomes[:500], self._outcomes[500:]
            now = self._clock.now()
            try:
                async with self._store() as store:
                    for pending, delivered, error, _ in batch:
                        await self._record(store, pending, delivered, error, now)
                    await store.commit()
            except Exception as problem:
                log.exception("could not record delivery outcomes; their leases run out")
                for pending, _, _, future in batch:
                    self._in_flight.discard(pending.id)
                    if not future.done():
                        future.set_exception(problem)
                continue
            for pending, _, _, future in batch:
                self._in_flight.discard(pending.id)
                if not future.done():
                    future.set_result(None)

    @staticmethod
    async def _record(store: OutboxStore, pending: PendingDelivery, delivered: Delivered | None,
                      error: BaseException | None, now: datetime) -> None:
        if error is None:
            message = delivered.message if delivered else None
            key = f"{message.chat.key}:{message.id}" if message else None
            await store.outbox.mark_sent(pending.id, at=now, message_key=key)
            return
        attempts = pending.attempts + 1
        dead = isinstance(error, DeliveryError) or attempts >= MAX_ATTEMPTS
        backoff = min(300.0, 2.0 ** attempts) * (0.5 + random.random() / 2)
        await store.outbox.mark_retry(pending.id, next_at=now + timedelta(seconds=backoff),
                                      error=type(error).__name__, dead=dead)
        log.warning("delivery failed", extra={"delivery_id": pending.id,
                                              "error": type(error).__name__, "dead": dead})
