"""What the crisis capability needs from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.core.identity import UserRef
from bot.crisis.model import Concern, Escalation, NewEscalation
from bot.groups.ports import GroupsStore
from bot.outbox import OutboxRepository


class EscalationRepository(Protocol):
    """Escalations and the messages that raised them."""

    async def get(self, escalation_id: int) -> Escalation | None:
        """One escalation."""
        ...

    async def active_for(self, group_id: int | None, subject: UserRef, since: datetime) -> Escalation | None:
        """The subject's active escalation in the group with a message since `since`."""
        ...

    async def message_seen(self, message_key: str) -> bool:
        """Whether this message already raised or joined an escalation."""
        ...

    async def open(self, new: NewEscalation) -> Escalation:
        """Store a new escalation."""
        ...

    async def add_message(self, escalation_id: int, message_key: str, severity: int, at: datetime) -> None:
        """Record a message of an escalation."""
        ...

    async def join(
        self, escalation_id: int, *, at: datetime, severity: int, about: str, reason: str, excerpt: str
    ) -> None:
        """A further message joined: newer last message; a more severe one replaces the summary."""
        ...

    async def acknowledge(self, escalation_id: int, *, by: UserRef, name: str, at: datetime) -> bool:
        """First acknowledgement wins; False if it was already acknowledged or closed."""
        ...

    async def close(
        self, escalation_id: int, *, status: str, by: UserRef, at: datetime, note: str | None
    ) -> bool:
        """Resolve or mark a false alarm; False if it was already closed."""
        ...

    async def active_in(self, group_ids: list[int]) -> list[Escalation]:
        """Active escalations of these groups, oldest first."""
        ...

    async def due_for_renotify(self, now: datetime, limit: int) -> list[Escalation]:
        """Unacknowledged escalations whose next re-notification is due."""
        ...

    async def claim_renotify(
        self, escalation_id: int, *, expected_count: int, next_at: datetime | None
    ) -> bool:
        """Advance the re-notification count once (False if another process did)."""
        ...

    async def claim_member_told(self, escalation_id: int) -> bool:
        """Mark once that the member was told nobody answered yet."""
        ...

    async def purge_excerpts(self, resolved_before: datetime) -> list[int]:
        """Blank excerpts and notes of escalations resolved before the cutoff."""
        ...


class GroupTermRepository(Protocol):
    """Facilitators' additions to the lexicon."""

    async def list(self, group_id: int) -> list[str]:
        """A group's terms."""
        ...

    async def add(self, group_id: int, term: str, *, by: UserRef, at: datetime) -> bool:
        """Add; False if present."""
        ...

    async def remove(self, group_id: int, term: str) -> bool:
        """Remove; False if absent."""
        ...


class ConcernRepository(Protocol):
    """Quiet concerns for the daily digest."""

    async def add(
        self, *, group_id: int, subject: UserRef, subject_name: str, reason: str, source: str, at: datetime
    ) -> None:
        """Record one."""
        ...

    async def undigested(self, group_id: int) -> list[Concern]:
        """Concerns not yet in a digest."""
        ...

    async def groups_with_undigested(self) -> list[int]:
        """Groups with something to digest."""
        ...

    async def claim_digest(self, group_id: int, day: str, at: datetime) -> list[Concern]:
        """Mark a group's undigested concerns as digested for `day` and return them; [] if done."""
        ...


class CrisisStore(GroupsStore, Protocol):
    """A unit of work over what the crisis capability uses."""

    @property
    def escalations(self) -> EscalationRepository:
        """Escalations."""
        ...

    @property
    def group_terms(self) -> GroupTermRepository:
        """Group terms."""
        ...

    @property
    def concerns(self) -> ConcernRepository:
        """Quiet concerns."""
        ...

    @property
    def outbox(self) -> OutboxRepository:
        """Deliveries."""
        ...
