"""Crisis repositories in SQL: escalations (excerpts sealed at rest), group terms, concerns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.core.identity import ChatRef, UserRef
from bot.crisis.model import ACTIVE_STATUSES, OPEN, Concern, Escalation, NewEscalation
from storage.crypto import FieldCipher
from storage.tables import ConcernRow, EscalationMessageRow, EscalationRow, GroupTermRow


def _affected(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class SqlEscalationRepository:
    """Escalations in SQL."""

    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    def _record(self, row: EscalationRow) -> Escalation:
        platform, _, chat_id = row.chat_key.partition(":")
        assert row.id is not None
        return Escalation(
            id=row.id, group_id=row.group_id, subject=UserRef.from_key(row.subject_key),
            subject_name=row.subject_name, severity=row.severity, about=row.about,
            reason=row.reason, status=row.status, opened_at=row.opened_at,
            last_message_at=row.last_message_at,
            chat=ChatRef(platform, chat_id, "direct" if row.chat_kind == "direct" else "group",
                         row.thread_id),
            message_link=row.message_link,
            excerpt=self._cipher.open_text(row.excerpt) if row.excerpt else None,
            late=row.late,
            acknowledged_by=UserRef.from_key(row.acknowledged_by) if row.acknowledged_by else None,
            acknowledged_name=row.acknowledged_name or "", acknowledged_at=row.acknowledged_at,
            resolved_at=row.resolved_at, renotify_count=row.renotify_count,
            next_renotify_at=row.next_renotify_at,
            member_told_unanswered=row.member_told_unanswered)

    async def get(self, escalation_id: int) -> Escalation | None:
        """One escalation."""
        row = await self._session.get(EscalationRow, escalation_id, populate_existing=True)
        return self._record(row) if row else None

    async def active_for(self, group_id: int | None, subject: UserRef,
                         since: datetime) -> Escalation | None:
        """The subject's active escalation in the group with a message since `since`."""
        query = select(EscalationRow).where(
            col(EscalationRow.subject_key) == subject.key,
            col(EscalationRow.status).in_(ACTIVE_STATUSES),
            col(EscalationRow.last_message_at) >= since)
        query = query.where(col(EscalationRow.group_id).is_(None) if group_id is None
                            else col(EscalationRow.group_id) == group_id)
        row = (await self._session.execute(query.order_by(col(EscalationRow.id).desc()))).first()
        return self._record(row[0]) if row else None

    async def message_seen(self, message_key: str) -> bool:
        """Whether this message already raised or joined an escalation."""
        found = await self._session.execute(select(col(EscalationMessageRow.id)).where(
            col(EscalationMessageRow.message_key) == message_key[:192]))
        return found.first() is not None

    async def open(self, new: NewEscalation) -> Escalation:
        """Store a new escalation."""
        row = EscalationRow(
            group_id=new.group_id, subject_key=new.subject.key,
            subject_name=new.subject_name[:128], severity=new.severity, about=new.about,
            reason=new.reason, status=OPEN, opened_at=new.at, last_message_at=new.at,
            chat_key=new.chat.key, chat_kind=new.chat.kind, thread_id=new.chat.thread,
            message_link=(new.message_link or "")[:256] or None,
            excerpt=self._cipher.seal_text(new.excerpt), late=new.late,
            next_renotify_at=new.next_renotify_at)
        self._session.add(row)
        await self._session.flush()
        return self._record(row)

    async def add_message(self, escalation_id: int, message_key: str, severity: int,
                          at: datetime) -> None:
        """Record a message of an escalation (a redelivered one is already counted)."""
        insert = (pg_insert if self._session.get_bind().dialect.name == "postgresql"
                  else sqlite_insert)
        await self._session.execute(insert(EscalationMessageRow).values(
            escalation_id=escalation_id, message_key=message_key[:192], severity=severity,
            at=at).on_conflict_do_nothing(index_elements=["message_key"]))

    async def join(self, escalation_id: int, *, at: datetime, severity: int, about: str,
                   reason: str, excerpt: str) -> None:
        """A further message joined; a more severe one replaces the summary and excerpt."""
        row = await self._session.get(EscalationRow, escalation_id)
        if row is None:
            return
        row.last_message_at = max(row.last_message_at, at)
        if severity > row.severity:
            row.severity, row.about, row.reason = severity, about, reason
            row.excerpt = self._cipher.seal_text(excerpt)
        self._session.add(row)
        await self._session.flush()

    async def acknowledge(self, escalation_id: int, *, by: UserRef, name: str,
                          at: datetime) -> bool:
        """First acknowledgement wins."""
        result = await self._session.execute(
            update(EscalationRow).where(col(EscalationRow.id) == escalation_id,
                                        col(EscalationRow.status) == OPEN)
            .values(status="acknowledged", acknowledged_by=by.key, acknowledged_name=name[:128],
                    acknowledged_at=at, next_renotify_at=None))
        return _affected(result) == 1

    async def close(self, escalation_id: int, *, status: str, by: UserRef, at: datetime,
                    note: str | None) -> bool:
        """Resolve or mark a false alarm."""
        values: dict[str, object] = {"status": status, "resolved_by": by.key, "resolved_at": at,
                                     "next_renotify_at": None}
        if note:
            values["resolution_note"] = self._cipher.seal_text(note[:500])
        result = await self._session.execute(
            update(EscalationRow).where(col(EscalationRow.id) == escalation_id,
                                        col(EscalationRow.status).in_(ACTIVE_STATUSES))
            .values(**values))
        return _affected(result) == 1

    async def active_in(self, group_ids: list[int]) -> list[Escalation]:
        """Active escalations of these groups, oldest first."""
        if not group_ids:
            return []
        rows = await self._session.execute(select(EscalationRow).where(
            col(EscalationRow.group_id).in_(group_ids),
            col(EscalationRow.status).in_(ACTIVE_STATUSES)).order_by(col(EscalationRow.id)))
        return [self._record(r[0]) for r in rows.all()]

    async def due_for_renotify(self, now: datetime, limit: int) -> list[Escalation]:
        """Unacknowledged escalations whose next re-notification is due."""
        rows = await self._session.execute(select(EscalationRow).where(
            col(EscalationRow.status) == OPEN, col(EscalationRow.next_renotify_at) <= now)
            .order_by(col(EscalationRow.severity).desc(), col(EscalationRow.id)).limit(limit))
        return [self._record(r[0]) for r in rows.all()]

    async def claim_renotify(self, escalation_id: int, *, expected_count: int,
                             next_at: datetime | None) -> bool:
        """Advance the count once (a conditional update: two processes cannot both win)."""
        result = await self._session.execute(
            update(EscalationRow).where(col(EscalationRow.id) == escalation_id,
                                        col(EscalationRow.status) == OPEN,
                                        col(EscalationRow.renotify_count) == expected_count)
            .values(renotify_count=expected_count + 1, next_renotify_at=next_at))
        return _affected(result) == 1

    async def claim_member_told(self, escalation_id: int) -> bool:
        """Mark once that the member was told nobody answered yet."""
        result = await self._session.execute(
            update(EscalationRow).where(col(EscalationRow.id) == escalation_id,
                                        col(EscalationRow.member_told_unanswered).is_(False))
            .values(member_told_unanswered=True, next_renotify_at=None))
        return _affected(result) == 1

    async def purge_excerpts(self, resolved_before: datetime) -> list[int]:
        """Blank excerpts and notes of escalations resolved before the cutoff."""
        rows = await self._session.execute(select(col(EscalationRow.id)).where(
            col(EscalationRow.resolved_at) < resolved_before,
            col(EscalationRow.purged).is_(False)))
        ids = [r[0] for r in rows.all()]
        if ids:
            await self._session.execute(update(EscalationRow).where(
                col(EscalationRow.id).in_(ids)).values(excerpt=None, resolution_note=None,
                                                       purged=True))
        return [int(i) for i in ids if i is not None]


class SqlGroupTermRepository:
    """Group terms in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list(self, group_id: int) -> list[str]:
        """A group's terms."""
        rows = await self._session.execute(select(col(GroupTermRow.term)).where(
            col(GroupTermRow.group_id) == group_id).order_by(col(GroupTermRow.term)))
        return [r[0] for r in rows.all()]

    async def add(self, group_id: int, term: str, *, by: UserRef, at: datetime) -> bool:
        """Add; False if present."""
        if term in await self.list(group_id):
            return False
        self._session.add(GroupTermRow(group_id=group_id, term=term[:100], added_by=by.key,
                                       created_at=at))
        return True

    async def remove(self, group_id: int, term: str) -> bool:
        """Remove; False if absent."""
        result = await self._session.execute(delete(GroupTermRow).where(
            col(GroupTermRow.group_id) == group_id, col(GroupTermRow.term) == term))
        return _affected(result) > 0


class SqlConcernRepository:
    """Quiet concerns in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, *, group_id: int, subject: UserRef, subject_name: str, reason: str,
                  source: str, at: datetime) -> None:
        """Record one."""
        self._session.add(ConcernRow(group_id=group_id, subject_key=subject.key,
                                     subject_name=subject_name[:128], reason=reason,
                                     source=source, created_at=at))

    @staticmethod
    def _record(row: ConcernRow) -> Concern:
        assert row.id is not None
        return Concern(id=row.id, group_id=row.group_id, subject=UserRef.from_key(row.subject_key),
                       subject_name=row.subject_name, reason=row.reason, source=row.source,
                       created_at=row.created_at)

    async def undigested(self, group_id: int) -> list[Concern]:
        """Concerns not yet in a digest."""
        rows = await self._session.execute(select(ConcernRow).where(
            col(ConcernRow.group_id) == group_id, col(ConcernRow.digested_at).is_(None))
            .order_by(col(ConcernRow.id)))
        return [self._record(r[0]) for r in rows.all()]

    async def groups_with_undigested(self) -> list[int]:
        """Groups with something to digest."""
        rows = await self._session.execute(select(col(ConcernRow.group_id)).where(
            col(ConcernRow.digested_at).is_(None)).distinct())
        return [r[0] for r in rows.all()]

    async def claim_digest(self, group_id: int, day: str, at: datetime) -> list[Concern]:
        """Mark a group's undigested concerns as digested for `day`; [] if another took them."""
        pending = await self.undigested(group_id)
        if not pending:
            return []
        ids = [c.id for c in pending]
        result = await self._session.execute(update(ConcernRow).where(
            col(ConcernRow.id).in_(ids), col(ConcernRow.digested_at).is_(None))
            .values(digested_at=at, digest_day=day))
        return pending if _affected(result) == len(ids) else []
