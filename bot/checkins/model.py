"""Domain records of check-ins: prompts, answers, and what reports read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.identity import UserRef

SKIP = 0  # the Skip button; stored as "no mood"
LOW_MOOD = 2  # 1 and 2 are hard days
LOW_STREAK = 3  # this many hard answers in a row raise a quiet concern

SCHEDULED = "scheduled"
MANUAL = "manual"  # /checkins now
SKIPPED = "skipped"  # the time was set after it had passed today: no prompt today


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """A group's claimed prompt for one local date."""

    id: int
    group_id: int
    local_date: str
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One member's answer for one day in one group; `mood` None is a skip."""

    group_id: int
    user: UserRef
    local_date: str
    mood: int | None
    prompt_id: int | None
    via: str  # group | private | command
    at: datetime


@dataclass(frozen=True, slots=True)
class RecentAnswer:
    """An answer as the low-streak rule reads it."""

    id: int
    local_date: str
    mood: int | None
    flagged: bool


@dataclass(frozen=True, slots=True)
class DayAnswer:
    """An answer as a report reads it: `member` is an opaque key, used only to count people."""

    local_date: str
    member: str
    mood: int | None
