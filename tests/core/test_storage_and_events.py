"""Storage on both databases: migrations match the tables; redelivered events are handled once."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.events import CommandInvoked, EventMeta
from bot.core.identity import ChatRef, MessageRef, UserRef
from storage import migrate
from storage.db import Database
from tests.harness import ConsoleBot


async def test_migrations_reach_head_and_match_the_tables(database_url: str) -> None:
    database = Database(database_url)
    try:
        await migrate.upgrade(database)
        assert await migrate.current_revision(database) == migrate.head_revision()
        await migrate.check(database)  # raises if a table changed without a migration
        await migrate.upgrade(database)  # idempotent
    finally:
        await database.dispose()


async def test_redelivered_event_is_handled_once(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    chat = ChatRef("console", "group", "group")
    event = CommandInvoked(
        meta=EventMeta(event_id="console:redelivered-1", occurred_at=datetime.now(UTC),
                       chat=chat, sender=UserRef("console", "dana"), group="console:group",
                       sender_is_admin=True),
        name="group", args=("rules", "One", "rule"), message=MessageRef(chat, "900"))
    await console_bot.app.runtime.handle(event)
    await console_bot.app.runtime.handle(event)
    await console_bot.app.settle()
    assert console_bot.new_output().count("Saved the group's rules.") == 1
