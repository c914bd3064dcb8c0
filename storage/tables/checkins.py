"""Tables of check-ins: claimed prompts, answers (moods sealed at rest), private prompts, reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.tables.columns import big_column, id_column, ref_column, utc_column


class CheckinPromptRow(SQLModel, table=True):
    """A group's prompt for one local date; the unique key is the claim (one prompt a day)."""

    __tablename__ = "checkin_prompts"
    __table_args__ = (UniqueConstraint("group_id", "local_date", name="uq_checkin_prompt"),)

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int = Field(sa_column=ref_column("groups.id"))
    local_date: str = Field(max_length=10)  # YYYY-MM-DD in the group's time zone
    kind: str = Field(default="scheduled", max_length=16)  # scheduled | manual | skipped
    scheduled_for: datetime | None = Field(default=None, sa_column=utc_column())
    claimed_at: datetime = Field(sa_column=utc_column(nullable=False))


class CheckinRow(SQLModel, table=True):
    """One member's answer for one local day in one group (a second press changes it)."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("group_id", "user_key", "local_date", name="uq_checkin"),
                      Index("ix_checkin_group_day", "group_id", "local_date"))

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int = Field(sa_column=ref_column("groups.id", index=False))
    user_key: str = Field(max_length=96, index=True)
    local_date: str = Field(max_length=10)
    # Sealed with the storage cipher (health data); None is a skip.
    mood: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    prompt_id: int | None = Field(default=None, sa_column=big_column(index=False))
    via: str = Field(default="group", max_length=16)  # group | private | command
    answered_at: datetime = Field(sa_column=utc_column(nullable=False))
    flagged: bool = False  # this answer raised the quiet concern of its low streak


class PrivatePromptRow(SQLModel, table=True):
    """A private prompt claimed for one person and one local date."""

    __tablename__ = "private_prompts"
    __table_args__ = (UniqueConstraint("user_key", "local_date", name="uq_private_prompt"),)

    id: int | None = Field(default=None, sa_column=id_column())
    user_key: str = Field(max_length=96, index=True)
    local_date: str = Field(max_length=10)
    claimed_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))


class CheckinReportRow(SQLModel, table=True):
    """A weekly report claimed for one group and ISO week."""

    __tablename__ = "checkin_reports"
    __table_args__ = (UniqueConstraint("group_id", "period", name="uq_checkin_report"),)

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int = Field(sa_column=ref_column("groups.id"))
    period: str = Field(max_length=10)  # e.g. 2026-W14
    claimed_at: datetime = Field(sa_column=utc_column(nullable=False))
