"""What check-ins need from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.checkins.model import Answer, DayAnswer, Prompt, RecentAnswer
from bot.core.identity import UserRef
from bot.core.models import Group, Person
from bot.onboarding.ports import OnboardingStore
from bot.outbox import OutboxRepository


class CheckinRepository(Protocol):
    """Prompts, answers, private prompts and weekly reports."""

    async def scheduled_groups(self) -> list[Group]:
        """Every group with daily check-ins on."""
        ...

    async def claimed(self, group_ids: list[int], dates: list[str]) -> set[tuple[int, str]]:
        """Which of these (group, local date) pairs already have a prompt."""
        ...

    async def claim_prompts(self, claims: list[tuple[int, str, datetime | None]], *, kind: str,
                            at: datetime) -> dict[tuple[int, str], int]:
        """Claim many (group, local date, scheduled time) at once; returns the pairs won."""
        ...

    async def claim_prompt(self, group_id: int, local_date: str, *, kind: str,
                           scheduled_for: datetime | None, at: datetime) -> int | None:
        """Claim the group's prompt for the date; its id, or None if it was claimed already."""
        ...

    async def prompt(self, prompt_id: int) -> Prompt | None:
        """One prompt."""
        ...

    async def prompt_on(self, group_id: int, local_date: str) -> Prompt | None:
        """The group's prompt for a date."""
        ...

    async def reclaim_skipped(self, prompt_id: int, at: datetime) -> bool:
        """Turn a day marked skipped into a manual prompt (once)."""
        ...

    async def prompt_message_key(self, prompt_id: int) -> str | None:
        """The platform message the prompt was sent as ("chat key:message id"), once sent."""
        ...

    async def save_answer(self, answer: Answer) -> None:
        """Insert, or change the member's answer for that day."""
        ...

    async def count_answers(self, group_id: int, local_date: str) -> int:
        """How many members gave a mood (not a skip) for the day."""
        ...

    async def recent_answers(self, group_id: int, user: UserRef, limit: int) -> list[RecentAnswer]:
        """The member's latest answers in the group, newest first."""
        ...

    async def flag(self, answer_id: int) -> None:
        """Mark the answer that raised its streak's concern."""
        ...

    async def answers_between(self, group_id: int, first: str, last: str) -> list[DayAnswer]:
        """Every answer of the group between two local dates (inclusive)."""
        ...

    async def private_checkin_people(self, now: datetime) -> list[Person]:
        """People who agreed, chose private check-ins and are not paused."""
        ...

    async def claim_private(self, user: UserRef, local_date: str, at: datetime) -> bool:
        """Claim the person's private prompt for the date; False if claimed already."""
        ...

    async def forget_private_before(self, cutoff: datetime) -> int:
        """Drop private-prompt claims made before `cutoff` (they only guard against repeats)."""
        ...

    async def reports_claimed(self, periods: list[str]) -> set[tuple[int, str]]:
        """Which (group, week) reports of these weeks were claimed."""
        ...

    async def claim_report(self, group_id: int, period: str, at: datetime) -> bool:
        """Claim the weekly report; False if claimed already."""
        ...


class CheckinsStore(OnboardingStore, Protocol):
    """A unit of work over what check-ins use."""

    @property
    def checkins(self) -> CheckinRepository:
        """Prompts and answers."""
        ...

    @property
    def outbox(self) -> OutboxRepository:
        """Deliveries."""
        ...
