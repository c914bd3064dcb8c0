"""The whole application on Telegram: the real python-telegram-bot against the fake Bot API server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.core.actions import Button, SendMessage
from bot.core.events import InboundEvent
from bot.core.identity import ChatRef
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import (
    BASIC,
    DANA,
    FORUM,
    GROUP,
    ROBIN,
    SAM,
    Bot,
    free_port,
    make_fake,
    start_app,
)

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def message_id_of(fake: FakeTelegram, update_id: int) -> int:
    update = fake.get_update(update_id)
    assert update is not None
    return int(update["message"]["message_id"])


async def setup_group(bot: Bot, chat: int = GROUP) -> None:
    bot.fake.user_sends(chat, DANA, "/setup")
    await bot.reply_to(chat, "set up")


# -- set-up, roles, help -------------------------------------------------------------------------
async def test_admin_setup_reports_settings(bot: Bot) -> None:
    bot.fake.user_sends(GROUP, DANA, "/setup")
    reply = await bot.reply_to(GROUP, "This group is set up")
    assert reply.parse_mode == "HTML"
    assert "• time zone: UTC" in (reply.rendered_text or "")
    assert "cannot read every message" not in (reply.rendered_text or "")
    bot.fake.user_sends(GROUP, DANA, "/setup@kindred_test_bot")
    again = await bot.reply_to(GROUP, "already set up")
    assert "Settings:" in (again.rendered_text or "")


async def test_member_is_refused_a_facilitator_command(lite_bot: Bot) -> None:
    await setup_group(lite_bot)
    lite_bot.fake.user_sends(GROUP, SAM, "/group timezone Madrid")
    refusal = await lite_bot.reply_to(GROUP, "Sorry, only a group facilitator")
    assert "/group" in (refusal.rendered_text or "")
    lite_bot.fake.user_sends(GROUP, DANA, "/setup")
    settings = await lite_bot.reply_to(GROUP, "already set up")
    assert "time zone: UTC" in (settings.rendered_text or "")  # nothing changed


async def test_help_differs_by_role_and_follows_the_group_language(bot: Bot) -> None:
    await setup_group(bot)
    bot.fake.user_sends(GROUP, SAM, "/help")
    member_help = (await bot.reply_to(GROUP, "Here is what you can use")).rendered_text or ""
    bot.fake.user_sends(GROUP, DANA, "/help")
    admin_help = (await bot.reply_to(GROUP, "Here is what you can use")).rendered_text or ""
    assert "/setup" not in member_help and "/setup" in admin_help
    assert "/rules" in member_help
    bot.fake.user_sends(GROUP, DANA, "/group language es")
    await bot.reply_to(GROUP)
    bot.fake.user_sends(GROUP, SAM, "/help")
    spanish = await bot.reply_to(GROUP, "Esto es lo que puedes usar")
    assert "/setup" not in (spanish.rendered_text or "")


async def test_moderator_add_as_a_reply_to_a_members_message(bot: Bot) -> None:
    await setup_group(bot)
    said = bot.fake.user_sends(GROUP, SAM, "hello everyone")
    bot.fake.user_sends(GROUP, DANA, "/moderator add", reply_to=message_id_of(bot.fake, said))
    reply = await bot.reply_to(GROUP, "is now a moderator")
    assert (reply.rendered_text or "").startswith("Sam is now a moderator")
    # By @username too, once the bot has seen that person.
    bot.fake.user_sends(GROUP, DANA, "/facilitator add @sam_parent")
    assert (await bot.reply_to(GROUP, "facilitator")).rendered_text == \
        "Sam is now a facilitator of this group."


async def test_alerts_here_in_a_private_chat(lite_bot: Bot) -> None:
    await setup_group(lite_bot)
    lite_bot.fake.user_starts_bot(DANA)
    lite_bot.fake.user_sends(DANA, DANA, "/alerts here")
    reply = await lite_bot.reply_to(DANA, "will now receive alerts")
    assert "Parents Circle" in (reply.rendered_text or "")
    assert reply.thread_id is None


async def test_a_command_in_a_forum_topic_is_answered_in_that_topic(lite_bot: Bot) -> None:
    topic = lite_bot.fake.create_topic(FORUM, "Staff corner", by_user=DANA)
    lite_bot.fake.user_sends(FORUM, DANA, "/setup", thread_id=topic)
    reply = await lite_bot.reply_to(FORUM, "set up")
    assert reply.thread_id == topic


async def test_a_command_for_another_bot_is_ignored(lite_bot: Bot) -> None:
    lite_bot.fake.user_sends(GROUP, SAM, "/help@other_bot")
    lite_bot.fake.user_sends(GROUP, SAM, "/help@Kindred_Test_Bot")
    await lite_bot.reply_to(GROUP, "Here is what you can use")
    await lite_bot.settle()
    assert len(lite_bot.fake.messages_to(GROUP)) == 1  # per chat in order: the first came first


async def test_group_to_supergroup_migration_keeps_the_settings(bot: Bot) -> None:
    await setup_group(bot, BASIC)
    bot.fake.user_sends(BASIC, DANA, "/group timezone Madrid")
    await bot.reply_to(BASIC, "Europe/Madrid")
    upgraded = BASIC * 1000 - 1_000_000_000_000
    bot.fake.migrate_group(BASIC, upgraded)
    await bot.settle()
    bot.fake.user_sends(upgraded, DANA, "/setup")
    reply = await bot.reply_to(upgraded, "already set up")
    assert "time zone: Europe/Madrid" in (reply.rendered_text or "")


async def test_command_menus_per_scope_and_language(lite_bot: Bot) -> None:
    fake = lite_bot.fake

    def names(scope: str, language: str = "") -> list[str]:
        commands = fake.commands({"type": scope}, language)
        assert commands is not None, (scope, language)
        return [c["command"] for c in commands]

    assert "help" in names("all_group_chats") and "setup" not in names("all_group_chats")
    assert "setup" in names("all_chat_administrators") and "moderator" in names(
        "all_chat_administrators")
    assert "help" in names("all_private_chats") and "rules" not in names("all_private_chats")
    spanish = fake.commands({"type": "all_group_chats"}, "es")
    english = fake.commands({"type": "all_group_chats"}, "")
    assert spanish is not None and english is not None
    assert [c["command"] for c in spanish] == [c["command"] for c in english]
    assert spanish != english  # the descriptions are translated
    assert all(3 <= len(c["description"]) <= 256 for c in spanish + english)
    # What a Spanish-speaking member sees in a group, by Telegram's own scope fallback.
    seen = fake.effective_commands(GROUP, ROBIN, "es")
    assert seen == spanish


# -- privacy mode --------------------------------------------------------------------------------
@pytest.fixture
async def private_fake() -> AsyncIterator[FakeTelegram]:
    server = make_fake(can_read_all_group_messages=False)
    async with server:
        yield server


async def test_privacy_mode_is_told_plainly_at_start_and_at_setup(
        private_fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.telegram")
    app = await start_app(private_fake, f"sqlite:///{tmp_path / 'k.db'}")
    bot = Bot(app, private_fake)
    try:
        assert any("privacy mode is on" in r.getMessage() for r in caplog.records)
        assert private_fake.user_sends(GROUP, SAM, "ordinary message") == 0  # unseen, as warned
        private_fake.user_sends(GROUP, DANA, "/setup")
        reply = (await bot.reply_to(GROUP, "set up")).rendered_text or ""
        assert "Warning: I cannot read every message here" in reply
        assert "/setprivacy" in reply and "@BotFather" in reply
        # An admin bot reads everything, privacy mode or not.
        private_fake.set_admins(GROUP, [DANA], bot_is_admin=True)
        private_fake.user_sends(GROUP, DANA, "/setup")
        assert "cannot read" not in ((await bot.reply_to(GROUP, "already")).rendered_text or "")
    finally:
        await app.stop()


# -- robustness ----------------------------------------------------------------------------------
async def test_a_429_storm_during_replies_loses_nothing(lite_bot: Bot) -> None:
    await setup_group(lite_bot)
    fake = lite_bot.fake
    fake.fail_all_for(1.5, 429, methods=["sendMessage"])
    for chat in (GROUP, FORUM):
        for person in (SAM, DANA):
            fake.user_sends(chat, person, "/help")
    async with asyncio.timeout(10):
        while sum("Here is" in t for chat in (GROUP, FORUM) for t in lite_bot.texts_to(chat)) < 4:
            await asyncio.sleep(0.05)
    assert fake.count_429 >= 1
    await lite_bot.settle()
    for chat in (GROUP, FORUM):
        assert len([t for t in lite_bot.texts_to(chat) if "Here is" in t]) == 2
    lite_bot.marks.append(len(fake.sent))
    # And a storm on every method, getUpdates included.
    fake.fail_all_for(1.0, 429)
    fake.user_sends(GROUP, SAM, "/help")
    await lite_bot.reply_to(GROUP, "Here is what you can use", timeout=10)


async def test_an_update_whose_handling_fails_is_not_confirmed_and_is_handled_once(
        fake: FakeTelegram, database_url: str) -> None:
    from bot.bootstrap import build_application
    from tests.telegram.conftest import app_settings

    app = build_application(app_settings(fake, database_url))
    real = app.runtime.handle
    failures = [0]

    async def flaky(event: InboundEvent) -> None:
        if failures[0] < 2:
            failures[0] += 1
            raise ConnectionError("database unavailable")
        await real(event)

    app.runtime.handle = flaky  # type: ignore[method-assign]
    await app.start()
    bot = Bot(app, fake)
    try:
        update_id = fake.user_sends(GROUP, SAM, "/help")
        await fake.wait_for_call(lambda c: c.method == "getUpdates"
                                 and str(c.params.get("offset")) == str(update_id), timeout=5)
        assert [u["update_id"] for u in fake.pending_updates] == [update_id]  # not confirmed
        await bot.reply_to(GROUP, "Here is what you can use", timeout=10)
        await bot.settle()
        assert failures[0] == 2
        assert len(fake.messages_to(GROUP)) == 1
    finally:
        await app.stop()


async def test_a_restart_before_confirming_redelivers_and_answers_once(
        fake: FakeTelegram, database_url: str) -> None:
    from bot.bootstrap import build_application
    from tests.telegram.conftest import app_settings

    first = build_application(app_settings(fake, database_url))
    real = first.runtime.handle
    handled = asyncio.Event()

    async def dies_after_commit(event: InboundEvent) -> None:
        await real(event)  # screened, committed, reply queued...
        handled.set()
        raise SystemError("process killed before the update was confirmed")

    first.runtime.handle = dies_after_commit  # type: ignore[method-assign]
    await first.start()
    update_id = fake.user_sends(GROUP, SAM, "/help")
    await asyncio.wait_for(handled.wait(), 5)
    await first.settle()
    await first.stop()
    assert [u["update_id"] for u in fake.pending_updates] == [update_id]
    assert len(fake.messages_to(GROUP)) == 1

    second = await start_app(fake, database_url)
    try:
        await fake.wait_updates_confirmed(update_id, timeout=5)
        await second.settle()
        assert len(fake.messages_to(GROUP)) == 1  # recognised by its id: not answered twice
        fake.user_sends(GROUP, SAM, "/help")
        await Bot(second, fake, marks=[len(fake.sent)]).reply_to(GROUP, "Here is")
    finally:
        await second.stop()


# -- webhook mode --------------------------------------------------------------------------------
async def test_webhook_mode_end_to_end(fake: FakeTelegram, sqlite_url: str) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram/hook"
    from bot.bootstrap import build_application
    from tests.telegram.conftest import app_settings

    app = build_application(app_settings(fake, sqlite_url, TELEGRAM_WEBHOOK_URL=hook,
                                         PORT=str(port), TELEGRAM_WEBHOOK_SECRET="s3cret-Token_1"))
    real = app.runtime.handle
    fail_once = [True]

    async def flaky(event: InboundEvent) -> None:
        if fail_once[0] and event.meta.sender.id == str(ROBIN):
            fail_once[0] = False
            raise ConnectionError("database unavailable")
        await real(event)

    app.runtime.handle = flaky  # type: ignore[method-assign]
    await app.start()
    bot = Bot(app, fake)
    try:
        [call] = fake.calls_of("setWebhook")
        assert call.params["url"] == hook and call.params["secret_token"] == "s3cret-Token_1"
        assert "chat_member" in str(call.params["allowed_updates"])
        fake.user_sends(GROUP, DANA, "/setup")
        await bot.reply_to(GROUP, "set up")
        fake.user_sends(GROUP, ROBIN, "/help")
        await bot.reply_to(GROUP, "Here is what you can use")
        await bot.settle()
        assert [a.status for a in fake.webhook_attempts] == [200, 500, 200]
        assert len(bot.texts_to(GROUP)) == 2
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
                assert health.status == 200
            async with http.post(hook, json={"update_id": 999, "message": {}}) as forged:
                assert forged.status == 403  # no secret token: not Telegram
    finally:
        await app.stop()


# -- rendering -----------------------------------------------------------------------------------
async def test_user_text_is_escaped_for_html(lite_bot: Bot) -> None:
    await setup_group(lite_bot)
    lite_bot.fake.user_sends(GROUP, DANA, "/group rules Be kind <b>always</b> & no <script>")
    await lite_bot.reply_to(GROUP, "Saved")
    lite_bot.fake.user_sends(GROUP, SAM, "/rules")
    reply = await lite_bot.reply_to(GROUP, "rules of this group")
    assert (reply.rendered_text or "").endswith("Be kind <b>always</b> & no <script>")
    assert "&lt;b&gt;always&lt;/b&gt; &amp; no &lt;script&gt;" in (reply.text or "")
    assert not any(e["type"] == "bold" for e in reply.entities)


async def test_a_long_message_is_split_with_buttons_on_the_last_part(lite_bot: Bot) -> None:
    lines = [f"line {n:03d} " + "x" * 41 for n in range(100)]
    text = "\n".join(lines)
    assert len(text) > 5000
    lite_bot.app.queue.put(SendMessage(to=ChatRef("telegram", str(GROUP), "group"), text=text,
                                       buttons=((Button(label="OK", payload="demo:ok"),),)))
    await lite_bot.app.settle()
    parts = lite_bot.fake.messages_to(GROUP)
    assert len(parts) == 2
    assert all(len(p.rendered_text or "") <= 4096 for p in parts)
    assert "\n".join(p.rendered_text or "" for p in parts) == text
    assert parts[0].reply_markup is None and parts[1].button_data() == ["demo:ok"]


async def test_facilitators_are_told_at_start_when_screening_is_blind(
        private_fake: FakeTelegram, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    app = await start_app(private_fake, url)
    try:
        private_fake.user_sends(GROUP, DANA, "/setup")
        await Bot(app, private_fake).reply_to(GROUP, "set up")
        private_fake.user_starts_bot(DANA)
        await private_fake.wait_for(lambda r: r.chat_id == DANA, timeout=10)
    finally:
        await app.stop()
    start = len(private_fake.sent)
    for _ in range(2):  # two restarts on one day: told once
        app = await start_app(private_fake, url)
        await app.settle()
        await app.stop()
    warnings = [r for r in private_fake.sent[start:]
                if r.chat_id == DANA and "cannot read every message in Parents Circle" in (r.text or "")]
    assert len(warnings) == 1
    assert "/setprivacy" in (warnings[0].text or "")
