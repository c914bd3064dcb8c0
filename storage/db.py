"""The database: engine, sessions, SQLite pragmas, and the URL forms we accept."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage.crypto import FieldCipher

log = logging.getLogger(__name__)


def async_url(url: str) -> str:
    """Turn the URL forms operators paste (`postgres://`, `sqlite:///`) into async driver URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://"):]
    if url.startswith("postgresql+psycopg2://") or url.startswith("postgresql+psycopg://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    return url


class Database:
    """One engine and its session factory, built by the composition root."""

    def __init__(self, url: str, *, cipher: FieldCipher | None = None, echo: bool = False) -> None:
        self.url = async_url(url)
        self.cipher = cipher or FieldCipher(None)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession,
                                           expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the SQLite default (one process at a time)."""
        return self.url.startswith("sqlite")

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one writer commits; synchronous=NORMAL is durable across a
    # process kill (only a power loss can cost the last transactions in WAL mode).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
