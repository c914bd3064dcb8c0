"""Tables of the resource directory: its entries (deployment-wide and group-local) and a change counter."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.tables.columns import id_column, ref_column, utc_column


class ResourceRow(SQLModel, table=True):
    """One directory entry (Open Referral HSDS names where one fits).

    `scope` is "*" for deployment-wide entries and "g<group id>" for a group's own, so one unique
    key covers both (a NULL group id would not be unique in SQL). `origin` is "shipped" while the
    row is exactly what Kindred ships, and "local" once an operator or facilitator wrote it:
    start-up seeding updates shipped rows and never touches local ones.
    """

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("scope", "resource_id", name="uq_resource_scope_id"),
        Index("ix_resource_order", "position", "id"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    resource_id: str = Field(max_length=128)
    scope: str = Field(default="*", max_length=24)
    group_id: int | None = Field(default=None, sa_column=ref_column("groups.id", nullable=True))
    origin: str = Field(default="local", max_length=16)  # shipped | local
    shipped_hash: str | None = Field(default=None, max_length=64)
    position: int | None = Field(default=None)  # order in the shipped file; None after it
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    categories: str = Field(max_length=256)  # category codes joined by ";", main first
    service_area: str = Field(default="national", max_length=16)
    country: str | None = Field(default=None, max_length=2)
    region: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    city: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    phone: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    text_line: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    email: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    hours: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    languages: str = Field(default="", max_length=128)  # ISO 639-1 codes joined by ";"
    minimum_age: int | None = None
    maximum_age: int | None = None
    cost: str | None = Field(default=None, max_length=16)
    payment_notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    assured_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    is_emergency: bool = False
    verification: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class ResourceDirectoryRow(SQLModel, table=True):
    """One row: a counter raised by every change, so each process knows when to reload its index."""

    __tablename__ = "resource_directory"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
