"""Export and erasure of one person across every table, with a registry that must cover them all.

`COVERAGE` names, for every table holding anything about a person, how to export and how to
erase it; `NO_PERSONAL_DATA` names every other table with the reason it holds nothing personal.
A contract test fails when a table is in neither (a new table must decide before it ships).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from bot.core.identity import UserRef
from storage.crypto import FieldCipher
from storage.tables import (
    AlertSubscriptionRow,
    AuditRow,
    CheckinRow,
    ConcernRow,
    ConsentRow,
    DeliveryRow,
    EscalationMessageRow,
    EscalationRow,
    GroupTermRow,
    MembershipRow,
    OnboardingStepRow,
    PersonRow,
    PrivatePromptRow,
    ProcessedEventRow,
)

MIN_NAME_CHARS = 2
SCAN_BATCH = 500


@dataclass(frozen=True, slots=True)
class Subject:
    """The person being exported or erased, and every form their identity takes in storage."""

    user: UserRef
    placeholder: str
    names: frozenset[str]
    private_chats: frozenset[str]  # chat keys of their private chats with the bot

    @property
    def key(self) -> str:
        """The platform-qualified user key."""
        return self.user.key

    @property
    def subjects(self) -> set[str]:
        """Audit subjects that name the person or their private chats."""
        return {f"user:{self.key}", *(f"chat:{chat}" for chat in self.private_chats)}

    @property
    def recipients(self) -> set[str]:
        """Outbox recipient keys that are the person."""
        return {f"user:{self.key}", *self.private_chats}


Rows = list[dict[str, Any]]
Exporter = Callable[[AsyncSession, FieldCipher, Subject], Awaitable[Rows]]
Eraser = Callable[[AsyncSession, FieldCipher, Subject], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Coverage:
    """How one table's rows about a person are exported and erased."""

    export: Exporter
    erase: Eraser


def _affected(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _plain(row: SQLModel, skip: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    values = row.model_dump()
    return {k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in values.items() if k not in skip and not isinstance(v, bytes)}


async def _rows(session: AsyncSession, query: Any) -> list[Any]:
    return list((await session.execute(query)).scalars().all())


# -- rows deleted outright ---------------------------------------------------------------------------
def _deleting(table: type[SQLModel], column: str) -> Coverage:
    """A table whose rows about the person are theirs alone: exported whole, then deleted."""
    field = getattr(table, column)

    async def export(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> Rows:
        return [_plain(r) for r in await _rows(session, select(table).where(
            col(field) == subject.key))]

    async def erase(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> int:
        return _affected(await session.execute(delete(table).where(col(field) == subject.key)))

    return Coverage(export, erase)


# -- check-ins: moods stay as anonymous counts -----------------------------------------------------
async def _export_checkins(session: AsyncSession, cipher: FieldCipher, subject: Subject) -> Rows:
    rows = await _rows(session, select(CheckinRow).where(col(CheckinRow.user_key) == subject.key)
                       .order_by(col(CheckinRow.local_date)))
    return [{**_plain(r, ("id", "user_key", "mood")),
             "mood": cipher.open(r.mood)[0] if r.mood is not None else "skipped"} for r in rows]


async def _erase_checkins(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> int:
    return _affected(await session.execute(update(CheckinRow).where(
        col(CheckinRow.user_key) == subject.key).values(user_key=subject.placeholder)))


# -- quiet concerns: a reason and a date, without the person ---------------------------------------
async def _export_concerns(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> Rows:
    rows = await _rows(session, select(ConcernRow).where(col(ConcernRow.subject_key) == subject.key))
    return [_plain(r) for r in rows]


async def _erase_concerns(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> int:
    return _affected(await session.execute(update(ConcernRow).where(
        col(ConcernRow.subject_key) == subject.key).values(subject_key=subject.placeholder,
                                                           subject_name="")))


# -- escalations: kept for accountability, without identity or excerpt ------------------------------
def _about(subject: Subject) -> Any:
    return col(EscalationRow.subject_key) == subject.key


async def _export_escalations(session: AsyncSession, cipher: FieldCipher, subject: Subject) -> Rows:
    rows = await _rows(session, select(EscalationRow).where(or_(
        _about(subject), col(EscalationRow.acknowledged_by) == subject.key,
        col(EscalationRow.resolved_by) == subject.key)).order_by(col(EscalationRow.id)))
    out = []
    for row in rows:
        entry = _plain(row, ())
        if row.subject_key == subject.key:
            entry["about_you"] = True
            entry["excerpt"] = cipher.open_text(row.excerpt) if row.excerpt else None
            entry["resolution_note"] = (cipher.open_text(row.resolution_note)
                                        if row.resolution_note else None)
        out.append(entry)
    return out


async def _erase_escalations(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> int:
    about = await session.execute(update(EscalationRow).where(_about(subject)).values(
        subject_key=subject.placeholder, subject_name="", excerpt=None, resolution_note=None,
        message_link=None, chat_key=subject.placeholder, thread_id=None,
        # Nobody left to tell: the member is never written to again about it.
        member_told_unanswered=True, purged=True))
    acknowledged = await session.execute(update(EscalationRow).where(
        col(EscalationRow.acknowledged_by) == subject.key).values(
        acknowledged_by=subject.placeholder, acknowledged_name=""))
    resolved = await session.execute(update(EscalationRow).where(
        col(EscalationRow.resolved_by) == subject.key).values(resolved_by=subject.placeholder))
    return _affected(about) + _affected(acknowledged) + _affected(resolved)


async def _their_escalations(session: AsyncSession, subject: Subject) -> list[int]:
    rows = await session.execute(select(col(EscalationRow.id)).where(_about(subject)))
    return [int(r[0]) for r in rows.all() if r[0] is not None]


async def _export_escalation_messages(session: AsyncSession, _cipher: FieldCipher,
                                      subject: Subject) -> Rows:
    ids = await _their_escalations(session, subject)
    if not ids:
        return []
    rows = await _rows(session, select(EscalationMessageRow).where(
        col(EscalationMessageRow.escalation_id).in_(ids)))
    return [_plain(r) for r in rows]


async def _erase_escalation_messages(session: AsyncSession, _cipher: FieldCipher,
                                     subject: Subject) -> int:
    # Runs before escalations are anonymised (COVERAGE order), while they still name the person.
    ids = await _their_escalations(session, subject)
    if not ids:
        return 0
    rows = await _rows(session, select(EscalationMessageRow).where(
        col(EscalationMessageRow.escalation_id).in_(ids)))
    for row in rows:
        row.message_key = f"{subject.placeholder}:{row.id}"  # a private chat's id was in it
        session.add(row)
    await session.flush()
    return len(rows)


# -- group terms: the term stays with the group, not who added it ---------------------------------
async def _export_terms(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> Rows:
    rows = await _rows(session, select(GroupTermRow).where(col(GroupTermRow.added_by) == subject.key))
    return [_plain(r) for r in rows]


async def _erase_terms(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> int:
    return _affected(await session.execute(update(GroupTermRow).where(
        col(GroupTermRow.added_by) == subject.key).values(added_by="")))


# -- the audit log: what happened stays, who it was does not --------------------------------------
async def _export_audit(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> Rows:
    rows = await _rows(session, select(AuditRow).where(or_(
        col(AuditRow.actor_key) == subject.key, col(AuditRow.subject).in_(subject.subjects)))
        .order_by(col(AuditRow.id)))
    return [_plain(r) for r in rows]


async def _erase_audit(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> int:
    actor = await session.execute(update(AuditRow).where(col(AuditRow.actor_key) == subject.key)
                                  .values(actor_key=subject.placeholder))
    about = await session.execute(update(AuditRow).where(col(AuditRow.subject).in_(
        subject.subjects)).values(subject=f"user:{subject.placeholder}"))
    return _affected(actor) + _affected(about)


# -- handled platform updates: some ids embed a member id (Discord joins) --------------------------
def _event_match(subject: Subject) -> Any:
    prefix = f"{subject.user.platform}:%"
    return col(ProcessedEventRow.event_id).like(prefix) & or_(
        col(ProcessedEventRow.event_id).like(f"%:{subject.user.id}:%"),
        col(ProcessedEventRow.event_id).like(f"%:{subject.user.id}"))


async def _export_events(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> Rows:
    return [_plain(r, ()) for r in await _rows(session, select(ProcessedEventRow).where(
        _event_match(subject)))]


async def _erase_events(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> int:
    return _affected(await session.execute(delete(ProcessedEventRow).where(_event_match(subject))))


# -- the outbox: what was sent to them goes; what others were sent loses their name ----------------
async def _export_deliveries(session: AsyncSession, _cipher: FieldCipher, subject: Subject) -> Rows:
    rows = await _rows(session, select(DeliveryRow).where(
        col(DeliveryRow.recipient_key).in_(subject.recipients)).order_by(col(DeliveryRow.id)))
    return [{"created_at": r.created_at.isoformat(), "status": r.status,
             "sent_at": r.sent_at.isoformat() if r.sent_at else None} for r in rows]


def _tokens(subject: Subject) -> list[str]:
    """How the person can appear inside a stored action: their key, their JSON id, their names."""
    tokens = {subject.key, json.dumps(subject.user.id)}
    tokens.update(json.dumps(chat.partition(":")[2]) for chat in subject.private_chats)
    tokens.update(n for n in subject.names if len(n) >= MIN_NAME_CHARS)
    return sorted(tokens)


async def _erase_deliveries(session: AsyncSession, cipher: FieldCipher, subject: Subject) -> int:
    touched = _affected(await session.execute(delete(DeliveryRow).where(
        col(DeliveryRow.recipient_key).in_(subject.recipients))))
    tokens = _tokens(subject)
    blank = cipher.seal_text("{}")
    last_id = 0
    # Finished deliveries to others (alerts, digests, notices) may name the person: blank them.
    # A delivery still pending is left to go out, so an alert already on its way is never lost.
    while True:
        batch = (await session.execute(
            select(col(DeliveryRow.id), col(DeliveryRow.payload), col(DeliveryRow.dedupe_key))
            .where(col(DeliveryRow.id) > last_id, col(DeliveryRow.status) != "pending")
            .order_by(col(DeliveryRow.id)).limit(SCAN_BATCH))).all()
        if not batch:
            break
        for delivery_id, payload, dedupe_key in batch:
            last_id = int(delivery_id or 0)
            text = cipher.open_text(payload)
            values: dict[str, Any] = {}
            if any(token in text for token in tokens):
                values["payload"] = blank
            if subject.key in dedupe_key:
                values["dedupe_key"] = dedupe_key.replace(subject.key, subject.placeholder)
            if values:
                await session.execute(update(DeliveryRow).where(
                    col(DeliveryRow.id) == delivery_id).values(**values))
                touched += 1
    return touched


# -- the registry --------------------------------------------------------------------------------
# Order matters: rows are read to learn the person's names and chats before any is erased, and
# escalation messages are rewritten while their escalations still name the person.
COVERAGE: dict[str, Coverage] = {
    "people": _deleting(PersonRow, "user_key"),
    "memberships": _deleting(MembershipRow, "user_key"),
    "alert_subscriptions": _deleting(AlertSubscriptionRow, "subscriber_key"),
    "consents": _deleting(ConsentRow, "user_key"),
    "onboarding_steps": _deleting(OnboardingStepRow, "user_key"),
    "private_prompts": _deleting(PrivatePromptRow, "user_key"),
    "checkins": Coverage(_export_checkins, _erase_checkins),
    "concerns": Coverage(_export_concerns, _erase_concerns),
    "escalation_messages": Coverage(_export_escalation_messages, _erase_escalation_messages),
    "escalations": Coverage(_export_escalations, _erase_escalations),
    "group_terms": Coverage(_export_terms, _erase_terms),
    "audit_log": Coverage(_export_audit, _erase_audit),
    "processed_events": Coverage(_export_events, _erase_events),
    "deliveries": Coverage(_export_deliveries, _erase_deliveries),
}

NO_PERSONAL_DATA: dict[str, str] = {
    "groups": "a group's own settings and texts, written by its facilitators for the group",
    "welcome_windows": "per group, the time of the last welcome and a count of joins, never who",
    "checkin_prompts": "per group and day, that a prompt was posted",
    "checkin_reports": "per group and week, that the report was sent",
    "resources": "the directory of services and help lines, never anything about a member",
    "resource_directory": "one change counter",
}


class SqlPersonalData:
    """Export and erase one person in every table of the registry."""

    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    async def _subject(self, user: UserRef, placeholder: str) -> Subject:
        names: set[str] = set()
        for query in (
            select(col(PersonRow.display_name)).where(col(PersonRow.user_key) == user.key),
            select(col(MembershipRow.display_name)).where(col(MembershipRow.user_key) == user.key),
            select(col(EscalationRow.subject_name)).where(col(EscalationRow.subject_key) == user.key),
            select(col(EscalationRow.acknowledged_name)).where(
                col(EscalationRow.acknowledged_by) == user.key),
            select(col(ConcernRow.subject_name)).where(col(ConcernRow.subject_key) == user.key),
        ):
            names.update(n for (n,) in (await self._session.execute(query)).all() if n)
        chats = {f"{user.platform}:{user.id}"}  # Telegram: the private chat's id is the user's
        for query in (
            select(col(AlertSubscriptionRow.chat_key)).where(
                col(AlertSubscriptionRow.subscriber_key) == user.key,
                col(AlertSubscriptionRow.chat_kind) == "direct"),
            select(col(EscalationRow.chat_key)).where(col(EscalationRow.subject_key) == user.key,
                                                      col(EscalationRow.chat_kind) == "direct"),
        ):
            chats.update(c for (c,) in (await self._session.execute(query)).all() if c)
        return Subject(user=user, placeholder=placeholder, names=frozenset(names),
                       private_chats=frozenset(chats))

    async def export(self, user: UserRef) -> dict[str, Rows]:
        """Every row about `user`, by table."""
        subject = await self._subject(user, "")
        return {table: await coverage.export(self._session, self._cipher, subject)
                for table, coverage in COVERAGE.items()}

    async def erase(self, user: UserRef, placeholder: str) -> dict[str, int]:
        """Erase or anonymise every row about `user`; the caller commits."""
        subject = await self._subject(user, placeholder)
        counts = {}
        for table, coverage in COVERAGE.items():
            counts[table] = await coverage.erase(self._session, self._cipher, subject)
        await self._session.flush()
        return counts
