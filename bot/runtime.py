"""The runtime: hands each inbound event to the dispatcher and its actions to the delivery queue.

Guarantees:
    * `handle` returns only after the event was screened and its effects committed, so an
      adapter that confirms events after `handle` returns never confirms a lost event.
    * An event id seen before is handled once (platforms redeliver after a crash).
"""

from __future__ import annotations

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

    async def seen(self, event_id: str) -> bool:
        """Whether this event was handled."""
        ...

    async def add(self, event_id: str, at: datetime) -> None:
        """Record it as handled."""
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
        self.handled = 0

    async def handle(self, event: InboundEvent) -> None:
        """Screen and route one event, commit its effects, and queue its replies."""
        async with self._store() as store:
            if await store.processed_events.seen(event.meta.event_id):
                log.info("duplicate event skipped", extra={"event_id": event.meta.event_id})
                return
        actions = await self.dispatcher.handle(event)
        async with self._store() as store:
            await store.processed_events.add(event.meta.event_id, self._clock.now())
            try:
                await store.commit()
            except Exception:  # a concurrent redelivery recorded it first; handled either way
                log.info("event recorded twice", extra={"event_id": event.meta.event_id})
        self.queue.put_all(actions)
        self.handled += 1
        if self._on_handled is not None:
            await self._on_handled(event)
