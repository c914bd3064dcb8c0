"""The member's privacy controls through the console: SPEC.md "Privacy", issue #4 item 7."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlmodel import SQLModel

from bot.core.identity import UserRef
from storage.privacy import COVERAGE, NO_PERSONAL_DATA
from storage.tables import CheckinRow, ConcernRow, EscalationRow
from tests.harness import ConsoleBot, start_console_bot
from tests.onboarding.flows import button, join_and_agree, sweep

ZELDA = UserRef("console", "zelda")
CRISIS = "i cant do this anymore, i have the pills ready and tonight is the night"


def test_every_table_is_covered_by_export_and_erase_or_holds_nothing_personal() -> None:
    tables = {table.name for table in SQLModel.metadata.sorted_tables}
    declared = set(COVERAGE) | set(NO_PERSONAL_DATA)
    assert tables - declared == set(), "declare these in storage/privacy.py"
    assert set(COVERAGE) & set(NO_PERSONAL_DATA) == set()
    assert all(reason.strip() for reason in NO_PERSONAL_DATA.values())


async def a_member_who_did_everything(bot: ConsoleBot) -> None:
    """zelda agrees, checks in (privately too), has hard days, and raises two escalations."""
    await bot.say("dana: /setup", "dana -> bot: hi", "dana -> bot: /alerts here",
                  "dana: /checkins at 19:00")
    agree = await join_and_agree(bot, "zelda", private_at="21:00")
    await join_and_agree(bot, "sam", agree=agree)
    await bot.say("zelda -> bot: /settings timezone Madrid")
    for day in (2, 3, 4):
        out = await sweep(bot, datetime(2026, 3, day, 19, 0, tzinfo=UTC))
        await bot.say(f".press zelda {button(out, '2')}", f".press sam {button(out, '4')}")
        out = await sweep(bot, datetime(2026, 3, day, 20, 0, tzinfo=UTC))  # 21:00 in Madrid
        assert "Your daily check-in" in out
        await bot.say(f".press zelda {button(out, '1')}")
    await bot.say(f"zelda: {CRISIS}", "dana -> bot: /ack 1",
                  "dana -> bot: /resolve 1 called Zelda, she is safe with her sister",
                  f"zelda -> bot: {CRISIS}", "zelda -> bot: /pause 3")
    await bot.app.crisis.digest_sweep()
    await bot.app.settle()
    bot.new_output()


async def test_mydata_sends_everything_kept_as_json(console_bot: ConsoleBot) -> None:
    await a_member_who_did_everything(console_bot)
    out = await console_bot.say("zelda -> bot: /mydata")
    assert "[private → zelda] Kindred: Everything I keep about you, as JSON:" in out
    body = "\n".join(line.removeprefix("    ") for line in out.splitlines()[1:])
    data = json.loads(body)["data"]
    assert data["people"][0]["timezone"] == "Europe/Madrid"
    assert data["people"][0]["private_checkin_time"] == "21:00"
    assert len(data["consents"]) == 1
    assert [c["mood"] for c in data["checkins"]] == [1, 1, 1]  # the later answer of each day
    assert {c["reason"] for c in data["concerns"]} == {"low_moods"}
    assert [e["excerpt"] for e in data["escalations"]] == [CRISIS, CRISIS]
    assert data["private_prompts"] and data["deliveries"] and data["audit_log"]
    out = await console_bot.say("zelda: /mydata")
    assert "[only zelda sees] Kindred: I'm sending you your data in our private chat." in out
    assert "[group]" not in out


async def test_forgetme_asks_first_and_only_the_asker_can_confirm(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    agree = await join_and_agree(console_bot, "zelda")
    await join_and_agree(console_bot, "sam", agree=agree)
    out = await console_bot.say("zelda: /forgetme")
    assert "[only zelda sees] Kindred: This erases everything I keep about you" in out
    confirm, cancel = button(out, "Yes, erase everything"), button(out, "Cancel")
    out = await console_bot.say(f".press sam {confirm}")
    assert "This button is for the person who asked to be forgotten" in out
    out = await console_bot.say(f".press zelda {cancel}")
    assert "Cancelled. Nothing was erased." in out
    console_bot.clock.advance(minutes=31)
    out = await console_bot.say(f".press zelda {confirm}")
    assert "That confirmation has expired" in out
    async with console_bot.app.uow() as store:
        assert await store.onboarding.consented_groups(ZELDA) == [1]
        assert await store.onboarding.consented_groups(UserRef("console", "sam")) == [1]


async def traces_of(bot: ConsoleBot, name: str) -> list[str]:
    """Every text or bytes value, in every row of every table, that contains `name`."""
    found = []
    async with bot.app.database.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                for column, value in zip(table.columns, row, strict=True):
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if isinstance(value, str) and name in value.lower():
                        found.append(f"{table.name}.{column.name}")
    return found


async def test_forgetme_leaves_no_trace_of_the_member_in_the_database(
        console_bot: ConsoleBot) -> None:
    await a_member_who_did_everything(console_bot)
    before = set(await traces_of(console_bot, "zelda"))
    assert "escalations.excerpt" in await traces_of(console_bot, "pills ready")
    assert {"people.user_key", "consents.user_key", "checkins.user_key", "concerns.subject_name",
            "escalations.subject_key", "escalations.resolution_note",
            "escalation_messages.message_key", "deliveries.payload", "audit_log.actor_key",
            "private_prompts.user_key"} <= before
    out = await console_bot.say("zelda -> bot: /forgetme")
    out = await console_bot.say(f".press zelda {button(out, 'Yes, erase everything')}")
    assert "Done. I have erased everything I kept about you." in out
    await console_bot.app.settle()
    assert await traces_of(console_bot, "zelda") == []
    assert await traces_of(console_bot, "pills ready") == []  # her words, in excerpts and alerts
    async with console_bot.app.database.engine.connect() as connection:
        counts = {name: (await connection.execute(select(func.count()).select_from(
            table))).scalar_one() for name, table in (
            ("escalations", EscalationRow.__table__), ("checkins", CheckinRow.__table__),
            ("concerns", ConcernRow.__table__))}
    # What stays is counts with no identity: the answers of both members, both escalations.
    assert counts == {"escalations": 2, "checkins": 6, "concerns": 1}
    out = await console_bot.say("dana: /report 3")
    assert "• check-ins: 6, from 2 of 1 members" not in out
    assert "from 2 of 2 members" in out  # the erased member still counts, as no one


async def test_moods_are_sealed_at_rest_with_a_key(database_url: str, tmp_path: Path) -> None:
    bot = await start_console_bot(database_url, tmp_path,
                                  env={"DATA_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    try:
        await bot.say("dana: /setup")
        await join_and_agree(bot, "zelda")
        await bot.say("zelda -> bot: /checkin 2")
        async with bot.app.database.engine.connect() as connection:
            stored = (await connection.execute(select(CheckinRow.__table__.c.mood))).scalar_one()
        assert stored.startswith(b"f:") and len(stored) > 50
        out = await bot.say("zelda -> bot: /mydata")
        assert '"mood": 2' in out
    finally:
        await bot.close()
