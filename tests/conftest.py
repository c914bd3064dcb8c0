"""Shared fixtures: a database on SQLite and on PostgreSQL, and a running bot behind the console."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.harness import ConsoleBot, start_console_bot

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_pg_state: dict[str, str | None] = {}


def _postgres_admin_url() -> str | None:
    """The admin URL if PostgreSQL answers; None (and a reason) otherwise."""
    if "url" in _pg_state:
        return _pg_state["url"]
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_ADMIN_URL)
    import asyncio

    async def probe() -> None:
        connection = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
    except Exception as error:
        _pg_state["url"] = None
        where = url.split("@")[-1]
        _pg_state["reason"] = (f"PostgreSQL not reachable at {where} ({type(error).__name__}); "
                               "set TEST_DATABASE_URL to run the PostgreSQL half of the tests")
        return None
    _pg_state["url"] = url
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kindred-test.db'}"
        return
    admin = _postgres_admin_url()
    if admin is None:
        if os.environ.get("KINDRED_REQUIRE_POSTGRES") == "1":
            pytest.fail(str(_pg_state.get("reason")))
        pytest.skip(str(_pg_state.get("reason")))
    name = f"kindred_test_{uuid.uuid4().hex[:12]}"
    import asyncio

    async def create() -> None:
        connection = await asyncpg.connect(admin.replace("+asyncpg", ""))
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(admin.replace("+asyncpg", ""))
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    asyncio.run(create())
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(drop())


@pytest.fixture
async def console_bot(database_url: str, tmp_path: Path) -> AsyncIterator[ConsoleBot]:
    """The whole bot, running with the console adapter on in-memory streams."""
    bot = await start_console_bot(database_url, tmp_path)
    try:
        yield bot
    finally:
        await bot.close()
