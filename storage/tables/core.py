"""Tables of the core: groups, people, roles, alert subscriptions, handled events, outbox, audit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.tables.columns import big_column, id_column, ref_column, utc_column


class GroupRow(SQLModel, table=True):
    """A managed support group."""

    __tablename__ = "groups"

    id: int | None = Field(default=None, sa_column=id_column())
    key: str = Field(max_length=128, unique=True, index=True)
    platform: str = Field(max_length=32)
    home_chat_id: str = Field(max_length=64)
    home_thread_id: str | None = Field(default=None, max_length=64)
    title: str = Field(default="", max_length=256)
    language: str = Field(default="en", max_length=8)
    timezone: str = Field(default="UTC", max_length=64)
    region: str = Field(default="US", max_length=8)
    rules: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    welcome: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    hold_new_members: bool = False
    checkin_time: str | None = Field(default=None, max_length=5)  # "HH:MM" local time
    checkin_days: str = Field(default="0123456", max_length=7)
    created_at: datetime | None = Field(default=None, sa_column=utc_column())


class PersonRow(SQLModel, table=True):
    """A person's own settings (kept only after they agree, or when safety needs it)."""

    __tablename__ = "people"

    id: int | None = Field(default=None, sa_column=id_column())
    user_key: str = Field(max_length=96, unique=True, index=True)
    display_name: str = Field(default="", max_length=128)
    language: str | None = Field(default=None, max_length=8)
    timezone: str | None = Field(default=None, max_length=64)
    private_checkins: bool = False
    private_checkin_time: str | None = Field(default=None, max_length=5)
    consented_at: datetime | None = Field(default=None, sa_column=utc_column())
    can_message: bool = False
    paused_until: datetime | None = Field(default=None, sa_column=utc_column())


class MembershipRow(SQLModel, table=True):
    """A person's role in one group."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("group_id", "user_key", name="uq_membership"),)

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int = Field(sa_column=ref_column("groups.id"))
    user_key: str = Field(max_length=96, index=True)
    display_name: str = Field(default="", max_length=128)
    granted_role: str = Field(default="member", max_length=16)
    is_platform_admin: bool = False
    on_call: bool = False


class AlertSubscriptionRow(SQLModel, table=True):
    """A chat receiving the alerts of every group its subscriber facilitates."""

    __tablename__ = "alert_subscriptions"
    __table_args__ = (UniqueConstraint("chat_key", "subscriber_key", name="uq_alert_sub"),)

    id: int | None = Field(default=None, sa_column=id_column())
    chat_key: str = Field(max_length=96)
    chat_kind: str = Field(max_length=16)
    thread_id: str | None = Field(default=None, max_length=64)
    subscriber_key: str = Field(max_length=96, index=True)
    created_at: datetime | None = Field(default=None, sa_column=utc_column())


class ProcessedEventRow(SQLModel, table=True):
    """An inbound event already handled, so a redelivered one is handled once."""

    __tablename__ = "processed_events"

    event_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))


class DeliveryRow(SQLModel, table=True):
    """The outbox: an action committed before it is sent, claimed by one process at a time."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_delivery_dedupe"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    dedupe_key: str = Field(max_length=160)
    escalation_id: int | None = Field(default=None, sa_column=big_column())
    recipient_key: str = Field(default="", max_length=96, index=True)
    priority: int = 5
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # encrypted at rest
    status: str = Field(default="pending", max_length=16)  # pending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False))
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    sent_message_key: str | None = Field(default=None, max_length=160)
    last_error: str | None = Field(default=None, max_length=64)


class AuditRow(SQLModel, table=True):
    """Who changed what, when: every state change of an escalation and every role change."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, sa_column=id_column())
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    actor_key: str = Field(default="", max_length=96, index=True)  # "" = the bot itself
    action: str = Field(max_length=48)
    subject: str = Field(default="", max_length=96, index=True)  # e.g. "escalation:12"
    group_id: int | None = Field(default=None, sa_column=big_column())
    detail: str = Field(default="", max_length=256)  # never message text
