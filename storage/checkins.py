"""Check-in repositories in SQL: prompts claimed by unique keys, answers with sealed moods."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.checkins.model import SKIPPED, Answer, DayAnswer, Prompt, RecentAnswer
from bot.core.identity import UserRef
from bot.core.models import Group, Person
from storage.crypto import FieldCipher
from storage.repositories import group_from_row, person_from_row
from storage.tables import (
    CheckinPromptRow,
    CheckinReportRow,
    CheckinRow,
    DeliveryRow,
    GroupRow,
    PersonRow,
    PrivatePromptRow,
    table_of,
)


def _affected(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class SqlCheckinRepository:
    """Prompts, answers, private prompts and weekly reports in SQL."""

    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    # -- moods are sealed at rest: a number about a parent's day is health data ------------------
    def _seal(self, mood: int | None) -> bytes | None:
        return None if mood is None else self._cipher.seal(bytes([mood]))

    def _open(self, sealed: bytes | None) -> int | None:
        return None if sealed is None else self._cipher.open(sealed)[0]

    async def scheduled_groups(self) -> list[Group]:
        """Every group with daily check-ins on."""
        rows = await self._session.execute(select(GroupRow).where(
            col(GroupRow.checkin_time).is_not(None)).order_by(col(GroupRow.id)))
        return [group_from_row(r) for r in rows.scalars().all()]

    async def claimed(self, group_ids: list[int], dates: list[str]) -> set[tuple[int, str]]:
        """Which (group, date) pairs already have a prompt."""
        if not group_ids or not dates:
            return set()
        rows = await self._session.execute(
            select(col(CheckinPromptRow.group_id), col(CheckinPromptRow.local_date)).where(
                col(CheckinPromptRow.group_id).in_(group_ids),
                col(CheckinPromptRow.local_date).in_(dates)))
        return {(int(g), str(d)) for g, d in rows.all()}

    async def claim_prompt(self, group_id: int, local_date: str, *, kind: str,
                           scheduled_for: datetime | None, at: datetime) -> int | None:
        """Claim through the unique (group, date) key; None when another claim won."""
        row = CheckinPromptRow(group_id=group_id, local_date=local_date, kind=kind,
                               scheduled_for=scheduled_for, claimed_at=at)
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            return None
        return row.id

    async def claim_prompts(self, claims: list[tuple[int, str, datetime | None]], *, kind: str,
                            at: datetime) -> dict[tuple[int, str], int]:
        """Claim many (group, local date) pairs in one statement through the unique key.

        Returns the prompt id of each pair this call won; pairs another claim won are absent.
        """
        if not claims:
            return {}
        insert = (pg_insert if self._session.get_bind().dialect.name == "postgresql"
                  else sqlite_insert)
        table = table_of(CheckinPromptRow)
        # executemany: one cached statement, batched by SQLAlchemy's "insertmanyvalues".
        statement = (insert(table)
                     .on_conflict_do_nothing(index_elements=["group_id", "local_date"])
                     .returning(table.c.id, table.c.group_id, table.c.local_date))
        connection = await self._session.connection()
        rows = (await connection.execute(statement, [
            {"group_id": g, "local_date": d, "kind": kind, "scheduled_for": s, "claimed_at": at}
            for g, d, s in claims])).all()
        return {(int(group_id), str(day)): int(prompt_id) for prompt_id, group_id, day in rows
                if prompt_id is not None}

    @staticmethod
    def _prompt(row: CheckinPromptRow) -> Prompt:
        assert row.id is not None
        return Prompt(id=row.id, group_id=row.group_id, local_date=row.local_date, kind=row.kind)

    async def prompt(self, prompt_id: int) -> Prompt | None:
        """One prompt."""
        row = await self._session.get(CheckinPromptRow, prompt_id)
        return self._prompt(row) if row else None

    async def prompt_on(self, group_id: int, local_date: str) -> Prompt | None:
        """The group's prompt for a date."""
        row = (await self._session.execute(select(CheckinPromptRow).where(
            col(CheckinPromptRow.group_id) == group_id,
            col(CheckinPromptRow.local_date) == local_date))).scalars().first()
        return self._prompt(row) if row else None

    async def reclaim_skipped(self, prompt_id: int, at: datetime) -> bool:
        """A skipped day becomes a manual prompt, once."""
        result = await self._session.execute(
            update(CheckinPromptRow).where(col(CheckinPromptRow.id) == prompt_id,
                                           col(CheckinPromptRow.kind) == SKIPPED)
            .values(kind="manual", claimed_at=at))
        return _affected(result) == 1

    async def prompt_message_key(self, prompt_id: int) -> str | None:
        """The sent message, as the outbox recorded it."""
        row = (await self._session.execute(select(col(DeliveryRow.sent_message_key)).where(
            col(DeliveryRow.dedupe_key) == f"ci:prompt:{prompt_id}"))).first()
        return row[0] if row else None

    async def save_answer(self, answer: Answer) -> None:
        """Insert, or change the member's answer for that day (also when two presses race)."""
        values: dict[str, Any] = {"mood": self._seal(answer.mood), "prompt_id": answer.prompt_id,
                                  "via": answer.via, "answered_at": answer.at}
        where = (col(CheckinRow.group_id) == answer.group_id,
                 col(CheckinRow.user_key) == answer.user.key,
                 col(CheckinRow.local_date) == answer.local_date)
        changed = await self._session.execute(update(CheckinRow).where(*where).values(**values))
        if _affected(changed):
            return
        try:
            async with self._session.begin_nested():
                self._session.add(CheckinRow(group_id=answer.group_id, user_key=answer.user.key,
                                             local_date=answer.local_date, **values))
        except IntegrityError:  # the member's other press inserted first: this one wins
            await self._session.execute(update(CheckinRow).where(*where).values(**values))

    async def count_answers(self, group_id: int, local_date: str) -> int:
        """How many gave a mood (not a skip) for the day."""
        rows = await self._session.execute(select(func.count()).select_from(CheckinRow).where(
            col(CheckinRow.group_id) == group_id, col(CheckinRow.local_date) == local_date,
            col(CheckinRow.mood).is_not(None)))
        return int(rows.scalar_one())

    async def recent_answers(self, group_id: int, user: UserRef, limit: int) -> list[RecentAnswer]:
        """The member's latest answers, newest first."""
        rows = await self._session.execute(select(CheckinRow).where(
            col(CheckinRow.group_id) == group_id, col(CheckinRow.user_key) == user.key)
            .order_by(col(CheckinRow.local_date).desc()).limit(limit))
        return [RecentAnswer(r.id or 0, r.local_date, self._open(r.mood), r.flagged)
                for r in rows.scalars().all()]

    async def flag(self, answer_id: int) -> None:
        """Mark the answer that raised its streak's concern."""
        await self._session.execute(update(CheckinRow).where(col(CheckinRow.id) == answer_id)
                                    .values(flagged=True))

    async def answers_between(self, group_id: int, first: str, last: str) -> list[DayAnswer]:
        """Every answer between two local dates (inclusive)."""
        rows = await self._session.execute(
            select(col(CheckinRow.local_date), col(CheckinRow.user_key), col(CheckinRow.mood))
            .where(col(CheckinRow.group_id) == group_id, col(CheckinRow.local_date) >= first,
                   col(CheckinRow.local_date) <= last))
        return [DayAnswer(d, u, self._open(m)) for d, u, m in rows.all()]

    async def private_checkin_people(self, now: datetime) -> list[Person]:
        """People who agreed, chose private check-ins, and are not paused."""
        rows = await self._session.execute(select(PersonRow).where(
            col(PersonRow.private_checkins).is_(True),
            col(PersonRow.private_checkin_time).is_not(None),
            col(PersonRow.consented_at).is_not(None),
            or_(col(PersonRow.paused_until).is_(None), col(PersonRow.paused_until) <= now)))
        return [person_from_row(r) for r in rows.scalars().all()]

    async def claim_private(self, user: UserRef, local_date: str, at: datetime) -> bool:
        """Claim a private prompt through its unique (person, date) key."""
        try:
            async with self._session.begin_nested():
                self._session.add(PrivatePromptRow(user_key=user.key, local_date=local_date,
                                                   claimed_at=at))
        except IntegrityError:
            return False
        return True

    async def forget_private_before(self, cutoff: datetime) -> int:
        """Drop private-prompt claims made before `cutoff`."""
        result = await self._session.execute(delete(PrivatePromptRow).where(
            col(PrivatePromptRow.claimed_at) < cutoff))
        return _affected(result)

    async def reports_claimed(self, periods: list[str]) -> set[tuple[int, str]]:
        """Which (group, week) reports of these weeks were claimed."""
        if not periods:
            return set()
        rows = await self._session.execute(
            select(col(CheckinReportRow.group_id), col(CheckinReportRow.period)).where(
                col(CheckinReportRow.period).in_(periods)))
        return {(int(g), str(p)) for g, p in rows.all()}

    async def claim_report(self, group_id: int, period: str, at: datetime) -> bool:
        """Claim the weekly report through its unique (group, week) key."""
        try:
            async with self._session.begin_nested():
                self._session.add(CheckinReportRow(group_id=group_id, period=period,
                                                   claimed_at=at))
        except IntegrityError:
            return False
        return True
