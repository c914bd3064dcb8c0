"""Domain records of the crisis capability."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core.identity import ChatRef, UserRef

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
FALSE_ALARM = "false_alarm"
ACTIVE_STATUSES = (OPEN, ACKNOWLEDGED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """One crisis, from detection to resolution."""

    id: int
    group_id: int | None
    subject: UserRef
    subject_name: str = field(default="", repr=False)
    severity: int
    about: str
    reason: str
    status: str
    opened_at: datetime
    last_message_at: datetime
    chat: ChatRef
    message_link: str | None = None
    excerpt: str | None = field(default=None, repr=False)
    late: bool = False
    acknowledged_by: UserRef | None = None
    acknowledged_name: str = ""
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    renotify_count: int = 0
    next_renotify_at: datetime | None = None
    member_told_unanswered: bool = False

    @property
    def is_active(self) -> bool:
        """Open or acknowledged, not yet resolved."""
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEscalation:
    """What the screen knows when it opens an escalation."""

    group_id: int | None
    subject: UserRef
    subject_name: str = field(repr=False)
    severity: int
    about: str
    reason: str
    at: datetime
    chat: ChatRef
    message_link: str | None
    excerpt: str = field(repr=False)
    late: bool
    next_renotify_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Concern:
    """A quiet severity-1 concern waiting for the facilitators' digest."""

    id: int
    group_id: int
    subject: UserRef
    subject_name: str = field(repr=False)
    reason: str
    source: str
    created_at: datetime
