"""Column helpers shared by the tables: 64-bit ids and timezone-aware timestamps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer


def id_column() -> Any:
    """A 64-bit autoincrement primary key (INTEGER on SQLite, where only that autoincrements)."""
    return Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                  autoincrement=True)


def ref_column(target: str, *, nullable: bool = False, index: bool = True,
               ondelete: str = "CASCADE") -> Any:
    """A 64-bit foreign key to `target` (e.g. "groups.id")."""
    return Column(BigInteger().with_variant(Integer, "sqlite"),
                  ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    """A timestamp with time zone (stored as UTC)."""
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


def big_column(*, nullable: bool = True, index: bool = True) -> Any:
    """A plain 64-bit integer (an id kept without a foreign key, e.g. in the audit log)."""
    return Column(BigInteger, nullable=nullable, index=index)
