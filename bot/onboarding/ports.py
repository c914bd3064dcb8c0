"""What onboarding needs from storage."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from bot.core.identity import UserRef
from bot.groups.ports import GroupsStore
from bot.onboarding.model import OnboardingStep


class OnboardingRepository(Protocol):
    """Consents, onboarding steps and welcome windows."""

    async def has_consent(self, group_id: int, user: UserRef) -> bool:
        """Whether `user` agreed to this group's rules and the privacy notice."""
        ...

    async def agreed_at(self, group_id: int, user: UserRef) -> datetime | None:
        """When `user` agreed to this group, if they did."""
        ...

    async def add_consent(self, group_id: int, user: UserRef, at: datetime) -> bool:
        """Record consent; False if it was recorded before."""
        ...

    async def consented_groups(self, user: UserRef) -> list[int]:
        """The ids of the groups `user` agreed to, oldest first."""
        ...

    async def member_count(self, group_id: int) -> int:
        """How many people agreed to this group."""
        ...

    async def step(self, user: UserRef) -> OnboardingStep | None:
        """The question `user` is answering, if any."""
        ...

    async def set_step(self, step: OnboardingStep) -> None:
        """Insert or replace the person's step."""
        ...

    async def clear_step(self, user: UserRef) -> None:
        """The person answered the last question."""
        ...

    async def forget_steps_before(self, cutoff: datetime) -> int:
        """Drop steps nobody answered since `cutoff`."""
        ...

    async def claim_welcome(self, group_id: int, now: datetime, window: timedelta) -> bool:
        """True when no welcome went to the group within `window`: the caller posts one.

        Otherwise counts the join (a number, never who) and returns False. Safe across processes.
        """
        ...


class OnboardingStore(GroupsStore, Protocol):
    """A unit of work over what onboarding uses."""

    @property
    def onboarding(self) -> OnboardingRepository:
        """Consents, steps and welcome windows."""
        ...
