"""The real application, logged in to a fake Discord through DISCORD_API_BASE_URL/GATEWAY_URL."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.actions import Button, SendDirect, SendMessage
from bot.core.events import CommandInvoked, MemberJoined, MemberLeft, MessageReceived
from bot.core.identity import ChatRef, UserRef
from tests.discord.world import (
    ALICE,
    BOB,
    CAROL,
    GENERAL,
    GUILD,
    OWNER,
    STAFF,
    THREAD,
    start_kindred,
)
from tests.fakes.discord_api import FakeDiscord, Intents, SentMessage


async def answer(fake: FakeDiscord, interaction: dict[str, object]) -> SentMessage:
    """The bot's reply to an interaction (first answer or follow-up)."""
    wanted = int(str(interaction["id"]))
    return await fake.wait_for(lambda s: s.interaction_id == wanted)


async def test_setup_by_a_server_manager_and_a_member_refused(fake: FakeDiscord,
                                                             database_url: str) -> None:
    kindred = await start_kindred(fake, database_url)
    try:
        invoked = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup")
        reply = await answer(fake, invoked)
        # A public reply answers the slash command itself ("dana used /setup").
        assert reply.via == "interaction" and not reply.ephemeral
        assert "This group is set up" in reply.text and "time zone: UTC" in reply.text
        assert "cannot read" not in reply.text
        event = kindred.handled[0]
        assert isinstance(event, CommandInvoked) and event.meta.sender_is_admin
        assert event.meta.group == f"discord:{GUILD}" and event.meta.chat.id == str(GENERAL)
        again = await fake.user_runs_slash(GUILD, THREAD, OWNER, "setup")
        assert "already set up" in (await answer(fake, again)).text

        fake.enforce_command_permissions = False  # Discord would hide it; the core refuses too
        refused = await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, ALICE, "setup"))
        assert refused.ephemeral
        assert "Sorry, only a group facilitator can use /setup" in refused.text
        # The Facilitator role makes bob a facilitator without Manage Server.
        allowed = await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, BOB, "setup"))
        assert "already set up" in allowed.text
    finally:
        await kindred.close()


async def test_commands_synced_to_the_guild_and_help_by_role_in_spanish(
        fake: FakeDiscord, sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url)
    try:
        commands = {c["name"]: c for c in fake.commands[GUILD]}
        assert {"help", "setup", "group", "moderator", "alerts", "oncall"} <= set(commands)
        assert commands["setup"]["default_member_permissions"] == "32"
        assert commands["help"]["default_member_permissions"] is None
        group = {o["name"]: o for o in commands["group"]["options"]}
        assert group["language"]["type"] == 1
        assert [c["value"] for c in group["language"]["options"][0]["choices"]] == ["en", "es"]
        assert group["rules"]["options"][0]["type"] == 3
        add = next(o for o in commands["moderator"]["options"] if o["name"] == "add")
        assert add["options"][0]["type"] == 6
        assert commands["help"]["description_localizations"]["es-ES"] == "lo que puedo hacer por ti"
        # The DM-only global copies; none is offered inside servers.
        assert {c["name"] for c in fake.commands[None]} == set(commands)
        assert all(c["contexts"] == [1] for c in fake.commands[None])

        await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup"))
        member_help = await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, ALICE, "help"))
        admin_help = await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "help"))
        assert member_help.ephemeral and admin_help.ephemeral
        assert "/rules" in member_help.text and "/setup" not in member_help.text
        assert "/setup" in admin_help.text and "/moderator add" in admin_help.text
        switched = await answer(fake, await fake.user_runs_slash(
            GUILD, GENERAL, OWNER, "group language", {"language": "es"}))
        assert "escribiré en español" in switched.text
        spanish = await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, ALICE, "help"))
        assert "Esto es lo que puedes usar" in spanish.text
    finally:
        await kindred.close()


async def test_moderator_added_with_a_user_option_then_alerts_here_in_a_dm(
        fake: FakeDiscord, database_url: str) -> None:
    kindred = await start_kindred(fake, database_url)
    try:
        await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup"))
        added = await answer(fake, await fake.user_runs_slash(
            GUILD, GENERAL, OWNER, "moderator add", {"user": ALICE}))
        assert "Alice is now a moderator of this group" in added.text
        command = kindred.handled[-1]
        assert isinstance(command, CommandInvoked) and command.args == ("add", "@alice")
        assert command.mentions[0].user == UserRef("discord", str(ALICE))
        # The slash command in a DM (a DM-only global copy of every command).
        here = await answer(fake, await fake.user_runs_slash(None, None, ALICE, "alerts here"))
        assert here.recipient_id == ALICE
        assert "will now receive alerts for" in here.text
        # Typed as text in the DM, it is a command too.
        await fake.user_dms(ALICE, "/alerts off")
        off = await fake.wait_for(lambda s: s.recipient_id == ALICE and s.via == "dm")
        assert "This chat will no longer receive alerts." in off.text
    finally:
        await kindred.close()


async def test_missing_message_content_intent_is_reported_at_start_and_at_setup(
        fake: FakeDiscord, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    fake.set_intents_allowed(message_content=False, members=True)
    with caplog.at_level(logging.ERROR, logger="adapters.discord"):
        kindred = await start_kindred(fake, sqlite_url)
    try:
        assert any("Message Content intent is off" in r.getMessage() for r in caplog.records)
        intents = fake.last_intents
        assert intents is not None and not intents & Intents.MESSAGE_CONTENT
        assert intents & Intents.GUILD_MEMBERS  # kept: the portal allows it
        report = await kindred.platform.check_visibility(None)
        assert not report.can_read_all_messages
        assert report.problems[0].startswith("Discord's Message Content intent is off")
        # Commands still work, and /setup tells the facilitator plainly.
        setup = await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup"))
        assert "crisis screening would miss messages" in setup.text
        assert "switch on Message Content Intent" in setup.text
    finally:
        await kindred.close()


async def test_message_posted_while_stopped_is_caught_up_late_exactly_once(
        fake: FakeDiscord, database_url: str) -> None:
    handled: list[object] = []
    now = datetime.now(UTC)
    missed = fake.message_while_offline(THREAD, ALICE, "posted while Kindred was down",
                                        at=now - timedelta(minutes=20))
    fake.message_while_offline(GENERAL, ALICE, "too long ago", at=now - timedelta(hours=7))
    for _ in range(2):  # two restarts: the core handles it once
        kindred = await start_kindred(fake, database_url, log=handled)  # type: ignore[arg-type]
        try:
            await kindred.platform.wait_caught_up()
        finally:
            await kindred.close()
    late = [e for e in handled if isinstance(e, MessageReceived)]
    assert len(late) == 1
    assert late[0].meta.event_id == f"discord:msg:{missed['id']}"
    assert late[0].meta.late and late[0].text == "posted while Kindred was down"
    assert late[0].meta.chat.id == str(THREAD)


async def test_global_sync_without_a_development_guild(fake: FakeDiscord, sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url, guild=False)
    try:
        assert GUILD not in fake.guild_commands
        assert all(c["contexts"] == [0, 1] for c in fake.commands[None])
        reply = await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, ALICE, "help"))
        assert "Here is what you can use" in reply.text
    finally:
        await kindred.close()


async def test_button_payload_survives_a_restart(fake: FakeDiscord, sqlite_url: str) -> None:
    first = await start_kindred(fake, sqlite_url)
    try:
        delivered = await first.platform.perform(SendMessage(
            to=ChatRef("discord", str(GENERAL), "group"), text="Press me",
            buttons=((Button(label="x", payload="test:1"),),)))
        assert delivered.message is not None
    finally:
        await first.close()
    second = await start_kindred(fake, sqlite_url)
    try:
        click = await fake.user_clicks(GENERAL, int(delivered.message.id), ALICE, "test:1")
        reply = await answer(fake, click)
        assert reply.ephemeral and reply.text == "That button is no longer active."
    finally:
        await second.close()


async def test_closed_dms_fall_back_and_long_text_is_split_and_escaped(
        fake: FakeDiscord, sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url)
    try:
        general = ChatRef("discord", str(GENERAL), "group")
        sent = await kindred.platform.perform(SendDirect(
            to=UserRef("discord", str(ALICE)), text="private words", fallback=general,
            fallback_text="I could not write to you privately."))
        assert not sent.via_fallback and fake.dms_to(ALICE)[-1].text == "private words"
        fake.set_dms_closed(ALICE)
        fallback = await kindred.platform.perform(SendDirect(
            to=UserRef("discord", str(ALICE)), text="private words", fallback=general,
            fallback_text="I could not write to you privately."))
        assert fallback.via_fallback
        posted = fake.sent_in(GENERAL)[-1]
        assert posted.content == f"<@{ALICE}> I could not write to you privately."
        assert [str(u) for u in posted.payload["allowed_mentions"]["users"]] == [str(ALICE)]
        assert "private words" not in posted.text

        text = " ".join(f"w{n:04}" for n in range(500))  # 2,499 characters
        chat = ChatRef("discord", str(THREAD), "group")
        await kindred.platform.perform(SendMessage(to=chat, text=text, buttons=(
            (Button(label="OK", payload="test:ok"),),)))
        parts = fake.sent_in(THREAD)
        assert len(parts) == 2 and all(len(p.content or "") <= 2000 for p in parts)
        assert " ".join(p.content or "" for p in parts) == text
        assert parts[0].custom_ids() == [] and parts[1].custom_ids() == ["test:ok"]
        await kindred.platform.perform(SendMessage(
            to=chat, text="*not bold* and @everyone <@1> see https://example.org/a_b"))
        escaped = fake.sent_in(THREAD)[-1]
        assert escaped.content == ("\\*not bold\\* and @\u200beveryone \\<@1\\> see "
                                   "https://example.org/a_b")
        assert escaped.payload["allowed_mentions"]["parse"] == []
    finally:
        await kindred.close()


async def test_live_messages_edits_joins_and_leaves_reach_the_core(fake: FakeDiscord,
                                                                   sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url)
    try:
        async def wait_for(kind: type, count: int = 1) -> list[object]:
            for _ in range(200):
                found = [e for e in kindred.handled if isinstance(e, kind)]
                if len(found) >= count:
                    return found  # type: ignore[return-value]
                await asyncio.sleep(0.01)
            raise AssertionError(f"no {kind.__name__}")

        posted = await fake.user_says(THREAD, BOB, "hello from the thread")
        await fake.user_says(GENERAL, ALICE, "/setup is only a message in a server")
        await fake.user_edits(THREAD, int(posted["id"]), "hello, edited")
        messages = await wait_for(MessageReceived, 3)
        # discord.py runs each event in its own task, so the core may see them in any order.
        by_text = {m.text: m for m in messages}  # type: ignore[attr-defined]
        first = by_text["hello from the thread"]
        typed = by_text["/setup is only a message in a server"]
        edit = by_text["hello, edited"]
        assert first.meta.sender_is_admin and first.meta.chat.id == str(THREAD)  # Facilitator role
        assert first.message.link == f"https://discord.com/channels/{GUILD}/{THREAD}/{posted['id']}"
        assert not first.edited and not typed.meta.sender_is_admin
        assert edit.edited and edit.meta.event_id.startswith(f"discord:msg:{posted['id']}:edit:")
        await fake.member_joins(GUILD, CAROL, "carol")
        joined = (await wait_for(MemberJoined))[0]
        assert joined.meta.sender == UserRef("discord", str(CAROL))  # type: ignore[attr-defined]
        await fake.member_leaves(GUILD, CAROL)
        left = (await wait_for(MemberLeft))[0]
        assert left.meta.group == f"discord:{GUILD}"  # type: ignore[attr-defined]
    finally:
        await kindred.close()


async def test_crisis_posted_while_stopped_reaches_a_moderator_and_ack_works_after_restart(
        fake: FakeDiscord, database_url: str) -> None:
    fake.add_member(GUILD, CAROL, "carol", global_name="Carol")
    kindred = await start_kindred(fake, database_url)
    try:
        await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup"))
        await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "moderator add",
                                                      {"user": ALICE}))
        await fake.user_dms(ALICE, "/alerts here")
        await fake.wait_for(lambda s: s.recipient_id == ALICE and "receive alerts" in s.text)
    finally:
        await kindred.close()
    crisis = fake.message_while_offline(THREAD, CAROL, "I can't do this anymore, I want to kill "
                                        "myself tonight", at=datetime.now(UTC) - timedelta(minutes=5))
    kindred = await start_kindred(fake, database_url)
    try:
        alert = await fake.wait_for(lambda s: s.recipient_id == ALICE and bool(s.custom_ids()),
                                    timeout=10)
        assert "Posted while I was offline: seen late." in alert.text
        assert f"https://discord.com/channels/{GUILD}/{THREAD}/{crisis['id']}" in alert.text
        assert "Member: Carol" in alert.text
    finally:
        await kindred.close()
    kindred = await start_kindred(fake, database_url)  # yesterday's alert, today's button
    try:
        ack = next(c for c in alert.custom_ids() if c.startswith("crisis:ack:"))
        pressed = await answer(fake, await fake.user_clicks(alert.channel_id, alert.message_id,
                                                            ALICE, ack))
        assert pressed.ephemeral and "You are on alert" in pressed.text
    finally:
        await kindred.close()


async def test_a_private_staff_channel_in_the_server_receives_alerts(
        fake: FakeDiscord, database_url: str) -> None:
    kindred = await start_kindred(fake, database_url)
    try:
        await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup"))
        refused = await answer(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER,
                                                                "alerts here"))
        assert "must not go to a support group" in refused.text
        here = await answer(fake, await fake.user_runs_slash(GUILD, STAFF, OWNER, "alerts here"))
        assert "will now receive alerts for: Parents Together" in here.text
        await fake.user_says(GENERAL, ALICE, "i have the pills ready and tonight is the night")
        alert = await fake.wait_for(lambda s: s.channel_id == STAFF and "URGENT" in s.text)
        assert "Group: Parents Together" in alert.text
        assert alert.custom_ids() == ["crisis:ack:1", "crisis:resolve:1", "crisis:false:1"]
    finally:
        await kindred.close()


async def test_catch_up_reads_back_to_the_last_message_handled_beyond_the_window(
        fake: FakeDiscord, sqlite_url: str) -> None:
    from sqlalchemy import text

    handled: list[object] = []
    kindred = await start_kindred(fake, sqlite_url, log=handled)  # type: ignore[arg-type]
    try:
        await fake.user_says(GENERAL, ALICE, "good morning everyone")
        for _ in range(100):
            if any(isinstance(e, MessageReceived) for e in handled):
                break
            await asyncio.sleep(0.05)
        await kindred.app.settle()
        # The bot was down for ten hours: longer than the default six-hour window.
        async with kindred.app.uow() as store:
            await store.session.execute(text(
                "update processed_events set processed_at = :at"),
                {"at": (datetime.now(UTC) - timedelta(hours=10)).replace(tzinfo=None)})
            await store.commit()
    finally:
        await kindred.close()
    missed = fake.message_while_offline(GENERAL, ALICE, "posted nine hours ago",
                                        at=datetime.now(UTC) - timedelta(hours=9))
    kindred = await start_kindred(fake, sqlite_url, log=handled)  # type: ignore[arg-type]
    try:
        await kindred.platform.wait_caught_up()
    finally:
        await kindred.close()
    late = [e for e in handled if isinstance(e, MessageReceived) and e.meta.late]
    assert [e.meta.event_id for e in late] == [f"discord:msg:{missed['id']}"]
