"""Applying and generating Alembic migrations from inside the event loop."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.db import Database

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_ID = 0x4B494E44  # "KIND": one upgrade at a time when several processes start together


def alembic_config() -> Config:
    """An Alembic config pointing at our migrations folder (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade(database: Database, revision: str = "heads") -> None:
    """Bring the schema up to `revision` (every branch head by default), from several processes.

    Capabilities may add migrations on branches of their own from a shared base; "heads"
    applies them all, so two capabilities developed side by side need no merge revision.
    """
    config = alembic_config()
    async with database.engine.connect() as connection:
        if not database.is_sqlite:
            await connection.execute(text(f"SELECT pg_advisory_lock({_PG_LOCK_ID})"))
            await connection.commit()
        try:
            await connection.run_sync(_upgrade, config, revision)
            await connection.commit()
        finally:
            if not database.is_sqlite:
                await connection.execute(text(f"SELECT pg_advisory_unlock({_PG_LOCK_ID})"))
                await connection.commit()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def current_revision(database: Database) -> str | None:
    """The revisions the database is at, comma-separated and sorted (one per branch)."""
    async with database.engine.connect() as connection:
        heads = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_heads())
    return ",".join(sorted(heads)) or None


def head_revision() -> str | None:
    """The newest revisions in the migrations folder, comma-separated and sorted."""
    return ",".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads())) or None


async def revision(database: Database, message: str, *, revision_id: str | None = None,
                   head: str = "head") -> None:
    """Autogenerate a migration from the difference between the tables and the database.

    With several branch heads, `head` names the one the new revision follows.
    """
    config = alembic_config()
    async with database.engine.connect() as connection:
        await connection.run_sync(_revision, config, message, revision_id, head)


def _revision(connection: Connection, config: Config, message: str, revision_id: str | None,
              head: str) -> None:
    config.attributes["connection"] = connection
    command.revision(config, message=message, autogenerate=True, rev_id=revision_id, head=head)


async def check(database: Database) -> None:
    """Fail when the tables changed without a migration (`alembic check`)."""
    config = alembic_config()
    async with database.engine.connect() as connection:
        await connection.run_sync(_check, config)


def _check(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.check(config)
