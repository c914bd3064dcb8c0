"""Onboarding repositories in SQL: consents, onboarding steps, and welcome windows (counts only)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.core.identity import UserRef
from bot.onboarding.model import OnboardingStep
from storage.tables import ConsentRow, OnboardingStepRow, WelcomeWindowRow


def _affected(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class SqlOnboardingRepository:
    """Consents, steps and welcome windows in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def has_consent(self, group_id: int, user: UserRef) -> bool:
        """Whether `user` agreed to this group."""
        found = await self._session.execute(select(col(ConsentRow.id)).where(
            col(ConsentRow.group_id) == group_id, col(ConsentRow.user_key) == user.key))
        return found.first() is not None

    async def agreed_at(self, group_id: int, user: UserRef) -> datetime | None:
        """When `user` agreed to this group."""
        found = await self._session.execute(select(col(ConsentRow.agreed_at)).where(
            col(ConsentRow.group_id) == group_id, col(ConsentRow.user_key) == user.key))
        row = found.first()
        return row[0] if row else None

    async def add_consent(self, group_id: int, user: UserRef, at: datetime) -> bool:
        """Record consent; False if it was recorded before (also by another process)."""
        if await self.has_consent(group_id, user):
            return False
        try:
            async with self._session.begin_nested():
                self._session.add(ConsentRow(group_id=group_id, user_key=user.key, agreed_at=at))
        except IntegrityError:
            return False
        return True

    async def consented_groups(self, user: UserRef) -> list[int]:
        """The groups `user` agreed to, oldest first."""
        rows = await self._session.execute(select(col(ConsentRow.group_id)).where(
            col(ConsentRow.user_key) == user.key).order_by(col(ConsentRow.id)))
        return [int(r[0]) for r in rows.all()]

    async def member_count(self, group_id: int) -> int:
        """How many people agreed to this group."""
        rows = await self._session.execute(select(func.count()).select_from(ConsentRow).where(
            col(ConsentRow.group_id) == group_id))
        return int(rows.scalar_one())

    async def step(self, user: UserRef) -> OnboardingStep | None:
        """The question `user` is answering."""
        row = await self._session.get(OnboardingStepRow, user.key, populate_existing=True)
        if row is None:
            return None
        return OnboardingStep(user=user, group_id=row.group_id, step=row.step, flow=row.flow,
                              updated_at=row.updated_at)

    async def set_step(self, step: OnboardingStep) -> None:
        """Insert or replace the person's step."""
        row = await self._session.get(OnboardingStepRow, step.user.key) or OnboardingStepRow(
            user_key=step.user.key, step=step.step, updated_at=step.updated_at)
        row.group_id = step.group_id
        row.step = step.step
        row.flow = step.flow
        row.updated_at = step.updated_at
        self._session.add(row)
        await self._session.flush()

    async def clear_step(self, user: UserRef) -> None:
        """The person answered the last question."""
        await self._session.execute(delete(OnboardingStepRow).where(
            col(OnboardingStepRow.user_key) == user.key))

    async def forget_steps_before(self, cutoff: datetime) -> int:
        """Drop steps nobody answered since `cutoff`."""
        result = await self._session.execute(delete(OnboardingStepRow).where(
            col(OnboardingStepRow.updated_at) < cutoff))
        return _affected(result)

    async def claim_welcome(self, group_id: int, now: datetime, window: timedelta) -> bool:
        """Take the group's welcome window, or count one more join inside it.

        The conditional UPDATE is re-checked by PostgreSQL against the committed row, and the
        INSERT races on a unique key, so only one of several processes ever wins a window.
        """
        taken = await self._session.execute(
            update(WelcomeWindowRow).where(col(WelcomeWindowRow.group_id) == group_id,
                                           col(WelcomeWindowRow.last_welcome_at) <= now - window)
            .values(last_welcome_at=now, joins=1))
        if _affected(taken) == 1:
            return True
        exists = await self._session.execute(select(col(WelcomeWindowRow.id)).where(
            col(WelcomeWindowRow.group_id) == group_id))
        if exists.first() is None:
            try:
                async with self._session.begin_nested():
                    self._session.add(WelcomeWindowRow(group_id=group_id, last_welcome_at=now))
                return True
            except IntegrityError:
                pass  # another process opened the window a moment ago
        await self._session.execute(
            update(WelcomeWindowRow).where(col(WelcomeWindowRow.group_id) == group_id)
            .values(joins=col(WelcomeWindowRow.joins) + 1))
        return False
