"""The outbox in SQL: deliveries sealed at rest, claimed with a lease (SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.outbox import DirectHandover, PendingDelivery
from storage.crypto import FieldCipher
from storage.tables import DeliveryRow, table_of


class SqlOutboxRepository:
    """Deliveries in SQL."""

    def __init__(self, session: AsyncSession, cipher: FieldCipher,
                 handover: DirectHandover | None = None) -> None:
        self._session = session
        self._cipher = cipher
        self._handover = handover
        # Urgent deliveries inserted already leased to this process, handed over after commit.
        self.leased: list[PendingDelivery] = []

    async def add_many(self, deliveries: list[tuple[str, str, int, int | None, str]], *,
                       now: datetime) -> int:
        """Store several in one statement; keys that exist already are skipped. Returns new.

        With a handover, the urgent ones are inserted leased to this process and listed in
        `leased`, so they go to the send queue at commit without being claimed again.
        """
        if not deliveries:
            return 0
        handover = self._handover
        rows = []
        for key, payload, priority, escalation_id, recipient in deliveries:
            leased = handover is not None and priority < handover.below_priority
            rows.append({"dedupe_key": key[:160], "escalation_id": escalation_id,
                         "recipient_key": recipient[:96], "priority": priority,
                         "payload": self._cipher.seal_text(payload), "status": "pending",
                         "attempts": 0, "next_attempt_at": now, "created_at": now,
                         "lease_owner": f"{handover.owner}:new" if leased and handover else None,
                         "lease_until": now + handover.lease if leased and handover else None})
        table = table_of(DeliveryRow)
        insert = (pg_insert if self._session.get_bind().dialect.name == "postgresql"
                  else sqlite_insert)
        # executemany through Core: one cached statement, batched by SQLAlchemy's
        # "insertmanyvalues", rather than compiling a statement with thousands of VALUES.
        statement = (insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
                     .returning(table.c.id, table.c.dedupe_key, table.c.lease_owner))
        connection = await self._session.connection()
        inserted = (await connection.execute(statement, rows)).all()
        if handover is not None:
            payloads = {key[:160]: payload for key, payload, *_ in deliveries}
            self.leased.extend(PendingDelivery(id=row_id, payload=payloads[key])
                               for row_id, key, owner in inserted if owner is not None)
        return len(inserted)

    async def claim(self, *, now: datetime, owner: str, lease_until: datetime, limit: int,
                    below_priority: int | None = None) -> list[PendingDelivery]:
        """Lease up to `limit` due deliveries, most urgent first."""
        due = and_(col(DeliveryRow.status) == "pending", col(DeliveryRow.next_attempt_at) <= now,
                   or_(col(DeliveryRow.lease_until).is_(None),
                       col(DeliveryRow.lease_until) < now))
        if below_priority is not None:
            due = and_(due, col(DeliveryRow.priority) < below_priority)
        candidates = (select(col(DeliveryRow.id)).where(due)
                      .order_by(col(DeliveryRow.priority), col(DeliveryRow.id)).limit(limit))
        if self._session.bind is not None and self._session.bind.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = [row[0] for row in (await self._session.execute(candidates)).all()]
        if not ids:
            return []
        # Each claim has its own token, so two claims of one process never see each other's rows.
        claim = f"{owner}:{uuid.uuid4().hex[:12]}"
        # The conditions are repeated so a row another process leased meanwhile is skipped.
        await self._session.execute(
            update(DeliveryRow).where(col(DeliveryRow.id).in_(ids), due)
            .values(lease_owner=claim, lease_until=lease_until))
        rows = (await self._session.execute(
            select(col(DeliveryRow.id), col(DeliveryRow.payload), col(DeliveryRow.attempts)).where(
                col(DeliveryRow.id).in_(ids), col(DeliveryRow.lease_owner) == claim)
            .order_by(col(DeliveryRow.priority), col(DeliveryRow.id)))).all()
        return [PendingDelivery(id=r[0], payload=self._cipher.open_text(r[1]), attempts=r[2])
                for r in rows if r[0] is not None]

    async def mark_sent(self, sent: list[tuple[int, str | None]], *, at: datetime) -> None:
        """Record that these (delivery id, sent message key) went out, in one executemany."""
        if not sent:
            return
        table = table_of(DeliveryRow)
        statement = (update(table).where(table.c.id == bindparam("delivery_id"))
                     .values(status="sent", sent_at=at, lease_until=None,
                             sent_message_key=bindparam("message_key")))
        connection = await self._session.connection()
        await connection.execute(statement, [{"delivery_id": delivery_id, "message_key": key}
                                             for delivery_id, key in sent])

    async def renew(self, delivery_ids: list[int], *, owner: str, lease_until: datetime) -> None:
        """Extend the leases this owner holds."""
        await self._session.execute(update(DeliveryRow).where(
            col(DeliveryRow.id).in_(delivery_ids), col(DeliveryRow.lease_owner).startswith(f"{owner}:"),
            col(DeliveryRow.status) == "pending").values(lease_until=lease_until))

    async def mark_retry(self, delivery_id: int, *, next_at: datetime, error: str,
                         dead: bool) -> None:
        """Release it for a later attempt, or give up."""
        await self._session.execute(
            update(DeliveryRow).where(col(DeliveryRow.id) == delivery_id).values(
                status="dead" if dead else "pending", next_attempt_at=next_at,
                lease_until=None, last_error=error[:64],
                attempts=col(DeliveryRow.attempts) + 1))

    async def pending_count(self) -> int:
        """Deliveries not yet sent (metrics)."""
        rows = await self._session.execute(select(col(DeliveryRow.id)).where(
            col(DeliveryRow.status) == "pending"))
        return len(rows.all())

    async def forget_escalations(self, escalation_ids: list[int]) -> None:
        """Blank the payloads of an escalation's deliveries (they contain the excerpt)."""
        if escalation_ids:
            await self._session.execute(
                update(DeliveryRow).where(col(DeliveryRow.escalation_id).in_(escalation_ids),
                                          col(DeliveryRow.status) != "pending")
                .values(payload=self._cipher.seal_text("{}")))
