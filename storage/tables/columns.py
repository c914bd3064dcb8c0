"""Column helpers shared by the tables: 64-bit ids and timezone-aware timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Dialect, ForeignKey, Integer
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on every database.

    SQLite keeps no time zone, so values come back naive; they are always UTC here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store as UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    return Column(UtcDateTime(), nullable=nullable, index=index)


def big_column(*, nullable: bool = True, index: bool = True) -> Any:
    """A plain 64-bit integer (an id kept without a foreign key, e.g. in the audit log)."""
    return Column(BigInteger, nullable=nullable, index=index)
