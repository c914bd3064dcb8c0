"""Tables of onboarding: consents, the step a member is at, and join counts for batched welcomes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.tables.columns import big_column, id_column, ref_column, utc_column


class ConsentRow(SQLModel, table=True):
    """A person agreed to a group's rules and the privacy notice."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("group_id", "user_key", name="uq_consent"),)

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int = Field(sa_column=ref_column("groups.id"))
    user_key: str = Field(max_length=96, index=True)
    agreed_at: datetime = Field(sa_column=utc_column(nullable=False))


class OnboardingStepRow(SQLModel, table=True):
    """The question a person who agreed is answering now (time zone, language, check-ins)."""

    __tablename__ = "onboarding_steps"

    user_key: str = Field(primary_key=True, max_length=96)
    group_id: int | None = Field(default=None, sa_column=big_column(index=False))
    step: str = Field(max_length=16)  # tz | lang | ci | ci_time
    flow: str = Field(default="onb", max_length=8)  # onb: walk every step | set: one setting
    updated_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))


class WelcomeWindowRow(SQLModel, table=True):
    """When a group's last welcome went out and how many joined since: counts, never who."""

    __tablename__ = "welcome_windows"
    __table_args__ = (UniqueConstraint("group_id", name="uq_welcome_window"),)

    id: int | None = Field(default=None, sa_column=id_column())
    group_id: int = Field(sa_column=ref_column("groups.id", index=False))
    last_welcome_at: datetime = Field(sa_column=utc_column(nullable=False))
    joins: int = 1
