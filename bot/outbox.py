"""The durable outbox: actions committed to the database before they are sent, then delivered.

Guarantees:
    * A delivery is sent at least once: a process killed after committing it leaves it pending,
      and any process (this one restarted, or another) claims it once its lease runs out.
    * A recipient gets the same delivery twice only when a send's outcome is lost: the process
      died between sending it and recording it, or the platform took the send but its answer
      never came back (a timeout, a dropped connection), so it is sent again. At least once,
      never at most once: for an alert a repeat is far better than silence.
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

from bot.core.actions import Action, Delivered, Priority
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
CLAIM_LIMIT = 500
# Bulk deliveries (check-in waves) are claimed only while fewer than this are in flight here,
# so a wave is shared between processes and lease renewals stay small; urgent ones always are.
MAX_BULK_IN_FLIGHT = 1_000


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A claimed delivery."""

    id: int
    payload: str = ""
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class DirectHandover:
    """How storage hands urgent new deliveries to this process's sender right after commit.

    They are inserted already leased to `owner`, so no other process (and no claim of this one)
    takes them, and `adopt` queues them once the transaction is durable: an alert needs no
    second transaction to be claimed. If the process dies first, the lease runs out as usual.
    """

    owner: str
    lease: timedelta
    below_priority: int
    adopt: Callable[[list[PendingDelivery]], None]


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

    async def claim(self, *, now: datetime, owner: str, lease_until: datetime, limit: int,
                    below_priority: int | None = None) -> list[PendingDelivery]:
        """Lease up to `limit` due deliveries, most urgent first; only below `below_priority`."""
        ...

    async def mark_sent(self, sent: list[tuple[int, str | None]], *, at: datetime) -> None:
        """Record that these (delivery id, sent message key) went out."""
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
        self._outcomes: list[tuple[PendingDelivery, Delivered | None, BaseException | None]] = []
        self._recorder: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Something was committed: look now rather than at the next poll."""
        self._wake.set()

    def handover(self) -> DirectHandover:
        """The handover storage uses for urgent deliveries (everything above bulk)."""
        return DirectHandover(owner=self.owner, lease=LEASE, below_priority=int(Priority.BULK),
                              adopt=self.adopt)

    def adopt(self, deliveries: list[PendingDelivery]) -> None:
        """Queue deliveries just committed already leased to this process."""
        for pending in deliveries:
            self._queue_claimed(pending)

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
        """Record the outcomes still pending, then hand what is unsent back to the pool at once.

        On a clean shutdown (a deploy) nothing sent is sent again, and nothing unsent waits for
        its lease to run out.
        """
        await self._outcomes_recorded()
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
            await self._outcomes_recorded()
            if claimed == 0 and not self._in_flight:
                return

    async def pump_once(self, limit: int = CLAIM_LIMIT) -> int:
        """Claim what is due and queue it; returns how many were claimed."""
        async with self._claiming:
            return await self._claim_and_queue(limit)

    async def _claim_and_queue(self, limit: int) -> int:
        now = self._clock.now()
        room = MAX_BULK_IN_FLIGHT - len(self._in_flight)
        async with self._store() as store:
            claimed = await store.outbox.claim(
                now=now, owner=self.owner, lease_until=now + LEASE, limit=limit,
                below_priority=None if room > 0 else int(Priority.BULK))
            await store.commit()
        for pending in claimed:
            self._queue_claimed(pending)
        return len(claimed)

    def _queue_claimed(self, pending: PendingDelivery) -> None:
        if pending.id in self._in_flight:
            return
        self._in_flight.add(pending.id)
        try:
            action = action_from_json(pending.payload)
        except Exception:
            log.exception("undecodable delivery", extra={"delivery_id": pending.id})
            self._finish_later(pending, None, DeliveryError("undecodable"))
            return
        self._queue.put(action, on_done=self._done_callback(pending), durable=True)

    def _done_callback(self, pending: PendingDelivery) -> DoneCallback:
        async def callback(delivered: Delivered | None, error: BaseException | None) -> None:
            self._finish_later(pending, delivered, error)
        return callback

    def _finish_later(self, pending: PendingDelivery, delivered: Delivered | None,
                      error: BaseException | None) -> None:
        # Outcomes are recorded in batches (one transaction for all that end together), and the
        # sender does not wait for them: the delivery stays in flight, its lease renewed, until
        # its outcome is durable.
        self._outcomes.append((pending, delivered, error))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_outcomes(), name="outbox-outcomes")

    async def _outcomes_recorded(self) -> None:
        """Wait until every outcome handed to the recorder so far is durable (or given up)."""
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)

    async def _record_outcomes(self) -> None:
        while self._outcomes:
            await asyncio.sleep(0)
            batch, self._outcomes = self._outcomes[:500], self._outcomes[500:]
            now = self._clock.now()
            try:
                async with self._store() as store:
                    sent: list[tuple[int, str | None]] = []
                    for pending, delivered, error in batch:
                        if error is None:
                            message = delivered.message if delivered else None
                            sent.append((pending.id, f"{message.chat.key}:{message.id}"
                                         if message else None))
                        else:
                            await self._record_failure(store, pending, error, now)
                    await store.outbox.mark_sent(sent, at=now)
                    await store.commit()
            except Exception:
                log.exception("could not record delivery outcomes; their leases run out")
            for pending, _, _ in batch:
                self._in_flight.discard(pending.id)

    @staticmethod
    async def _record_failure(store: OutboxStore, pending: PendingDelivery,
                              error: BaseException, now: datetime) -> None:
        attempts = pending.attempts + 1
        dead = isinstance(error, DeliveryError) or attempts >= MAX_ATTEMPTS
        backoff = min(300.0, 2.0 ** attempts) * (0.5 + random.random() / 2)
        await store.outbox.mark_retry(pending.id, next_at=now + timedelta(seconds=backoff),
                                      error=type(error).__name__, dead=dead)
        log.warning("delivery failed", extra={"delivery_id": pending.id,
                                              "error": type(error).__name__, "dead": dead})
