"""The runtime: hands each inbound event to the dispatcher and its actions to the delivery queue.

Guarantees:
    * `handle` returns only after the event was screened and its effects committed, so an
      adapter that confirms events after `handle` returns never confirms a lost event.
    * An event id seen before is handled once (platforms redeliver after a crash).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from bot.core.events import InboundEvent
from bot.core.ports import Clock
from bot.delivery import DeliveryQueue
from bot.dispatch import Dispatcher

log = logging.getLogger(__name__)


class ProcessedEvents(Protocol):
    """Ids of events already handled."""

    async def seen_among(self, event_ids: list[str]) -> set[str]:
        """Which of these events were handled."""
        ...

    async def add_many(self, event_ids: list[str], at: datetime) -> None:
        """Record several as handled (ids already recorded are skipped)."""
        ...


class RuntimeStore(Protocol):
    """What the runtime needs from storage."""

    @property
    def processed_events(self) -> ProcessedEvents:
        """Handled event ids."""
        ...

    async def commit(self) -> None:
        """Make the changes durable."""
        ...


class Runtime:
    """The inbox every adapter delivers to."""

    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        queue: DeliveryQueue,
        store: Callable[[], AbstractAsyncContextManager[RuntimeStore]],
        clock: Clock,
        on_handled: Callable[[InboundEvent], Awaitable[None]] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.queue = queue
        self._store = store
        self._clock = clock
        self._on_handled = on_handled
        self._ledger = _EventLedger(store, clock)
        self.handled = 0

    async def handle(self, event: InboundEvent) -> None:
        """Screen and route one event, commit its effects, and queue its replies."""
        if await self._ledger.seen(event.meta.event_id):
            log.info("duplicate event skipped", extra={"event_id": event.meta.event_id})
            return
        actions = await self.dispatcher.handle(event)
        await self._ledger.record(event.meta.event_id)
        self.queue.put_all(actions)
        self.handled += 1
        if self._on_handled is not None:
            await self._on_handled(event)


class _EventLedger:
    """Records handled event ids with group commit: one transaction for all that finish together.

    Every caller still returns only after its own id is durable; under load, one commit serves
    many events instead of one each (a commit costs a disk flush on either database).
    """

    def __init__(self, store: Callable[[], AbstractAsyncContextManager[RuntimeStore]],
                 clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._pending: list[tuple[str, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._asked: list[tuple[str, asyncio.Future[bool]]] = []
        self._asker: asyncio.Task[None] | None = None

    async def seen(self, event_id: str) -> bool:
        """Whether the event was handled before; concurrent questions share one query."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._asked.append((event_id, future))
        if self._asker is None or self._asker.done():
            self._asker = asyncio.create_task(self._ask(), name="event-ledger-lookup")
        return await future

    async def _ask(self) -> None:
        while self._asked:
            await asyncio.sleep(0)
            batch, self._asked = self._asked[:500], self._asked[500:]
            try:
                async with self._store() as store:
                    found = await store.processed_events.seen_among([e for e, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for event_id, future in batch:
                if not future.done():
                    future.set_result(event_id in found)

    async def record(self, event_id: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event_id, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="event-ledger")
        await future

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let the events finishing in this tick join the batch
            batch, self._pending = self._pending[:500], self._pending[500:]
            try:
                async with self._store() as store:
                    await store.processed_events.add_many([e for e, _ in batch], self._clock.now())
                    await store.commit()
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
