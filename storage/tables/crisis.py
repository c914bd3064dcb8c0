"""Tables of the crisis capability: escalations, their messages, group terms, quiet concerns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.tables.columns import big_column, id_column, ref_column, utc_column


class EscalationRow(SQLModel, table=True):
    """One crisis, from detection to resolution."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalation_open", "status", "next_renotify_at"),
                      Index("ix_escalation_subject", "group_id", "subject_key", "status"))

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int | None = Field(default=None, sa_column=ref_column("groups.id", nullable=True,
                                                                     ondelete="SET NULL"))
    subject_key: str = Field(max_length=96)
    subject_name: str = Field(default="", max_length=128)
    severity: int
    about: str = Field(max_length=16)
    reason: str = Field(max_length=48)
    status: str = Field(default="open", max_length=16)  # open | acknowledged | resolved | false_alarm
    opened_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    last_message_at: datetime = Field(sa_column=utc_column(nullable=False))
    chat_key: str = Field(max_length=96)
    chat_kind: str = Field(max_length=16)
    thread_id: str | None = Field(default=None, max_length=64)
    message_link: str | None = Field(default=None, max_length=256)
    excerpt: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    late: bool = False
    acknowledged_by: str | None = Field(default=None, max_length=96)
    acknowledged_name: str | None = Field(default=None, max_length=128)
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column())
    resolved_by: str | None = Field(default=None, max_length=96)
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    resolution_note: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    renotify_count: int = 0
    next_renotify_at: datetime | None = Field(default=None, sa_column=utc_column())
    member_told_unanswered: bool = False
    purged: bool = False


class EscalationMessageRow(SQLModel, table=True):
    """A message that opened or joined an escalation (by id only), so a redelivery is not re-counted."""

    __tablename__ = "escalation_messages"
    __table_args__ = (UniqueConstraint("message_key", name="uq_escalation_message"),)

    id: int | None = Field(default=None, sa_column=id_column())
    escalation_id: int = Field(sa_column=ref_column("escalations.id"))
    message_key: str = Field(max_length=192)
    severity: int
    at: datetime = Field(sa_column=utc_column(nullable=False))


class GroupTermRow(SQLModel, table=True):
    """A facilitator's addition to the crisis lexicon for one group (`/keywords add`)."""

    __tablename__ = "group_terms"
    __table_args__ = (UniqueConstraint("group_id", "term", name="uq_group_term"),)

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int = Field(sa_column=ref_column("groups.id"))
    term: str = Field(max_length=100)
    added_by: str = Field(default="", max_length=96)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class ConcernRow(SQLModel, table=True):
    """A quiet severity-1 concern for the facilitators' daily digest (no message text)."""

    __tablename__ = "concerns"

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int = Field(sa_column=ref_column("groups.id"))
    subject_key: str = Field(max_length=96, index=True)
    subject_name: str = Field(default="", max_length=128)
    reason: str = Field(max_length=48)
    source: str = Field(default="message", max_length=16)  # message | checkins
    created_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    digested_at: datetime | None = Field(default=None, sa_column=utc_column())
    digest_day: str | None = Field(default=None, max_length=10)
    escalation_ref: int | None = Field(default=None, sa_column=big_column())
