"""Protocols the core depends on; adapters/ and storage/ implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.core.actions import Action, Delivered
from bot.core.events import InboundEvent
from bot.core.identity import UserRef

Inbox = Callable[[InboundEvent], Awaitable[None]]
"""Hand one event to the core; returns once it is screened and its effects are committed."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform can do, so the core can word things right and adapters can downgrade."""

    buttons: bool = True
    direct_messages: bool = True
    max_text_length: int = 4096
    forms: bool = False


@dataclass(frozen=True, slots=True)
class VisibilityReport:
    """Whether the bot can read every message where it must screen them (SPEC "Seeing what it needs")."""

    can_read_all_messages: bool
    problems: tuple[str, ...] = ()  # message keys for the translation catalogue


class DeliveryError(Exception):
    """The platform refused an action for good (unknown chat, blocked bot, bad request)."""


class RateLimited(Exception):
    """The platform asked us to wait `retry_after` seconds before trying again."""

    def __init__(self, retry_after: float, *, scope: str = "chat") -> None:
        super().__init__(f"rate limited for {retry_after:.2f}s ({scope})")
        self.retry_after = retry_after
        self.scope = scope


class TransientError(Exception):
    """A failure worth retrying: a 5xx answer, a timeout, a dropped connection."""


class Platform(Protocol):
    """A chat service. Adapters translate; they hold no business rules.

    Contract:
        * `start` MUST return once connected, then deliver every observed event to `inbox`
          and MUST confirm an event to the platform only after `inbox` returned.
        * `perform` MUST raise RateLimited, TransientError or DeliveryError rather than
          swallow a failure, so the delivery queue can retry or give up knowingly.
        * `stop` MUST be safe to call twice.
    """

    name: str
    capabilities: Capabilities

    async def start(self, inbox: Inbox) -> None:
        """Connect, then deliver events to `inbox`."""
        ...

    async def stop(self) -> None:
        """Disconnect and release resources."""
        ...

    async def perform(self, action: Action) -> Delivered:
        """Deliver one action, downgrading unsupported features."""
        ...

    async def group_admins(self, group: str) -> list[UserRef]:
        """The platform admins of a group (Telegram administrators, Discord Manage Server)."""
        ...

    async def check_visibility(self, group: str | None) -> VisibilityReport:
        """Whether crisis screening can see every message (in `group`, or anywhere if None)."""
        ...

    def reserve(self, action: Action) -> float:
        """Take a send slot for `action` under the platform's own rate limits.

        Returns 0 when the slot is taken (send now), else the seconds to wait, taking nothing.
        """
        ...


class Clock(Protocol):
    """The time, injectable so tests can walk through days and DST changes."""

    def now(self) -> datetime:
        """Timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        return datetime.now(UTC)
