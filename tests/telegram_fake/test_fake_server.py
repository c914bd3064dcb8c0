"""Tests of the fake Telegram Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeChatMember,
    ChatMember,
    ChatMemberAdministrator,
    ChatMemberRestricted,
    ChatMemberUpdated,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    MenuButtonWebApp,
    Message,
    Update,
    WebAppInfo,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import (
    DEFAULT_TOKEN,
    EntityParseError,
    FakeTelegram,
    find_entities,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
)

# PTB warns on every RetryAfter until retry_after becomes a timedelta; irrelevant here.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

GROUP = -1001234567890
FORUM = -1009876543210
BASIC = -4123456
PARENT = 1001
DANA = 1002
SAM = 1003
STRANGER = 1004


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_user(PARENT, "Alex", "alex_parent", "en")
        server.add_user(DANA, "Dana", "dana_fac", "es")
        server.add_user(SAM, "Sam")
        server.add_user(STRANGER, "Robin")
        server.add_group(GROUP, "Parents Circle")
        server.add_group(FORUM, "Parents Forum", is_forum=True)
        yield server
        assert server.server_errors == []


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


def _msg(update: Update) -> Message:
    assert update.message is not None
    return update.message


def _change(update: Update) -> ChatMemberUpdated:
    change = update.chat_member or update.my_chat_member
    assert change is not None
    return change


def _retry_seconds(exc: RetryAfter) -> float:
    value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# ------------------------------------------------------------------------------ basics


async def test_get_me_reports_bot_capabilities(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "kindred_test_bot" and me.id == tg.bot_id
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is True
    assert me.supports_inline_queries is False
    tg.set_bot_privacy(False)
    assert (await bot.get_me()).can_read_all_group_messages is False
    assert tg.calls_of("getMe")[-1].status == 200


async def test_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    other = Bot("999:not-the-token", base_url=tg.base_url)
    with pytest.raises(InvalidToken):
        await other.initialize()
    async with aiohttp.ClientSession() as http, http.post(f"{tg.base_url}999:nope/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method_is_404_and_json_form_and_query_bodies_work(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("fooBar", api_kwargs={"x": 1})
    tg.user_starts_bot(PARENT)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.api_url}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.post(f"{tg.api_url}/sendMessage", json={"chat_id": PARENT, "text": "json"}) as resp:
            assert (await resp.json())["result"]["text"] == "json"
        async with http.post(
            f"{tg.api_url}/SENDMESSAGE", data={"chat_id": str(PARENT), "text": "form"}
        ) as resp:
            assert (await resp.json())["ok"] is True
        async with http.get(f"{tg.api_url}/sendMessage", params={"chat_id": PARENT, "text": "query"}) as resp:
            assert (await resp.json())["ok"] is True
    assert [r.text for r in tg.messages_to(PARENT)] == ["json", "form", "query"]


# ------------------------------------------------------------------------------ sending


async def test_send_message_with_inline_keyboard_in_forum_topic(tg: FakeTelegram, bot: Bot) -> None:
    topic = tg.create_topic(FORUM, "Check-ins")
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(str(n), callback_data=f"mood:{n}") for n in range(1, 6)],
            [InlineKeyboardButton("Skip", callback_data="mood:skip")],
        ]
    )
    msg = await bot.send_message(
        FORUM, "<b>How are you today?</b>", parse_mode="HTML", reply_markup=keyboard, message_thread_id=topic
    )
    assert msg.message_thread_id == topic and msg.is_topic_message
    assert msg.text == "How are you today?"
    assert msg.entities[0].type == "bold"
    assert msg.reply_markup == keyboard
    record = tg.last_to(FORUM)
    assert record is not None
    assert record.method == "sendMessage" and record.thread_id == topic and record.parse_mode == "HTML"
    assert record.message_id == msg.message_id
    assert record.text == "<b>How are you today?</b>" and record.rendered_text == "How are you today?"
    assert record.button_data() == ["mood:1", "mood:2", "mood:3", "mood:4", "mood:5", "mood:skip"]
    assert tg.messages_to(FORUM, thread_id=topic) == [record]
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(FORUM, "x", message_thread_id=999)


async def test_send_message_validation_errors(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(
        BadRequest, match=r"(?i)can't parse entities: Can't find end tag corresponding to start tag"
    ):
        await bot.send_message(GROUP, "<b>unbalanced", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r'(?i)Unsupported start tag "script"'):
        await bot.send_message(GROUP, "<script>x</script>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Unmatched end tag"):
        await bot.send_message(GROUP, "<b><i>x</b></i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(GROUP, "Version 1.0", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)Message is too long"):
        await bot.send_message(GROUP, "x" * 4097)
    assert (await bot.send_message(GROUP, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")).text == "x" * 4096
    with pytest.raises(BadRequest, match=r"(?i)Message text is empty"):
        await bot.send_message(GROUP, "   ")
    with pytest.raises(BadRequest, match=r"(?i)Button_data_invalid"):
        await bot.send_message(
            GROUP,
            "x",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="é" * 33)]]),
        )
    with pytest.raises(BadRequest, match=r"(?i)Chat not found"):
        await bot.send_message(-100555, "x")
    with pytest.raises(BadRequest, match=r"(?i)Message to be replied not found"):
        await bot.send_message(GROUP, "x", reply_to_message_id=4242)
    with pytest.raises(BadRequest, match=r"(?i)Unsupported parse_mode"):
        await bot.send_message(GROUP, "x", parse_mode="XML")
    assert (tg.messages_to(GROUP)[-1].text or "").startswith("<b>")  # only the valid one was recorded
    assert [c.status for c in tg.calls_of("sendMessage")].count(400) == 10


async def test_private_chat_needs_start_and_respects_blocking(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(Forbidden, match=r"(?i)bot can't initiate conversation with a user"):
        await bot.send_message(PARENT, "hello")
    update_id = tg.user_starts_bot(PARENT, payload="grp_123")
    start = tg.get_update(update_id)
    assert start is not None
    assert start["message"]["text"] == "/start grp_123"
    assert start["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert start["message"]["chat"] == {
        "id": PARENT,
        "type": "private",
        "first_name": "Alex",
        "username": "alex_parent",
    }
    sent = await bot.send_message(PARENT, "Welcome")
    assert sent.chat.id == PARENT and sent.chat.type == "private"
    tg.user_blocks_bot(PARENT)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(PARENT, "still there?")
    tg.user_starts_bot(PARENT)
    await bot.send_message(PARENT, "welcome back")
    updates = await bot.get_updates(allowed_updates=["message", "my_chat_member"])
    kinds = [_change(u).new_chat_member.status if u.my_chat_member else _msg(u).text for u in updates]
    assert kinds == ["/start grp_123", ChatMember.BANNED, ChatMember.MEMBER, "/start"]


async def test_bot_removed_from_group_gets_forbidden(tg: FakeTelegram, bot: Bot) -> None:
    tg.bot_removed_from(GROUP, PARENT)
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "hi")
    tg.bot_added_to(GROUP, PARENT)
    assert (await bot.send_message(GROUP, "back")).chat.id == GROUP


async def test_edit_delete_and_not_modified(tg: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ack", callback_data="ack:1")]])
    msg = await bot.send_message(GROUP, "Alert", reply_markup=keyboard)
    edited = await bot.edit_message_text(
        "Alert — <i>Dana is on it</i>", GROUP, msg.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, Message)
    assert edited.text == "Alert — Dana is on it" and edited.edit_date is not None
    assert edited.reply_markup is None  # editing text without reply_markup drops the keyboard, like Telegram
    with pytest.raises(BadRequest, match=r"(?i)Message is not modified"):
        await bot.edit_message_text("Alert — <i>Dana is on it</i>", GROUP, msg.message_id, parse_mode="HTML")
    again = await bot.edit_message_reply_markup(GROUP, msg.message_id, reply_markup=keyboard)
    assert isinstance(again, Message) and again.reply_markup == keyboard
    with pytest.raises(BadRequest, match=r"(?i)Message to edit not found"):
        await bot.edit_message_text("x", GROUP, 999)
    tg.user_sends(GROUP, PARENT, "hello")
    user_msg_id = tg.last_message_id(GROUP)
    assert user_msg_id is not None
    with pytest.raises(BadRequest, match=r"(?i)Message can't be edited"):
        await bot.edit_message_text("x", GROUP, user_msg_id)
    with pytest.raises(BadRequest, match=r"(?i)Message can't be deleted"):
        await bot.delete_message(GROUP, user_msg_id)
    tg.set_admins(GROUP, [DANA], bot_is_admin=True)
    assert await bot.delete_message(GROUP, user_msg_id) is True
    assert await bot.delete_message(GROUP, msg.message_id) is True
    assert tg.message(GROUP, msg.message_id) is None
    assert [r.method for r in tg.sent] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "deleteMessage",
    ]


# ------------------------------------------------------------------------------ getUpdates


async def test_get_updates_redelivers_until_confirmed_by_offset(tg: FakeTelegram, bot: Bot) -> None:
    first = tg.user_sends(GROUP, PARENT, "/checkin 3 rough day")
    second = tg.user_sends(GROUP, DANA, "hola @kindred_test_bot see https://example.org #tips")
    batch = await bot.get_updates(timeout=0)
    assert [u.update_id for u in batch] == [first, second]
    command = _msg(batch[0])
    assert command.text == "/checkin 3 rough day"
    assert command.entities[0].type == "bot_command" and command.entities[0].length == len("/checkin")
    assert [e.type for e in _msg(batch[1]).entities] == ["mention", "url", "hashtag"]
    sender = _msg(batch[1]).from_user
    assert sender is not None and sender.language_code == "es"
    # Not confirmed: delivered again.
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    # Confirm the first only.
    assert [u.update_id for u in await bot.get_updates(offset=first + 1)] == [second]
    assert [u.update_id for u in await bot.get_updates(offset=second + 1)] == []
    third = tg.user_sends(GROUP, SAM, "third")
    assert [u.update_id for u in await bot.get_updates()] == [third]
    assert len(tg.pending_updates) == 1
    # limit
    more = [tg.user_sends(GROUP, SAM, f"m{n}") for n in range(5)]
    assert [u.update_id for u in await bot.get_updates(offset=third + 1, limit=2)] == more[:2]


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: FakeTelegram, bot: Bot) -> None:
    began = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    update_id = tg.user_sends(GROUP, PARENT, "I need to talk")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in updates] == [update_id]
    assert time.monotonic() - began < 2
    # And a poll with nothing to deliver waits for its timeout.
    began = time.monotonic()
    assert await bot.get_updates(offset=update_id + 1, timeout=dtm.timedelta(milliseconds=300)) == ()
    assert time.monotonic() - began >= 0.25


async def test_a_second_poller_terminates_the_first_with_conflict(tg: FakeTelegram, bot: Bot) -> None:
    # Two bot processes polling with the same token (PTB's default pool has one connection per Bot).
    async with Bot(DEFAULT_TOKEN, base_url=tg.base_url) as other_process:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(other_process.get_updates(timeout=5))
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await asyncio.wait_for(first, 2)
        tg.user_sends(GROUP, PARENT, "x")
        assert len(await asyncio.wait_for(second, 2)) == 1


async def test_allowed_updates_default_excludes_chat_member_and_is_remembered(
    tg: FakeTelegram, bot: Bot
) -> None:
    tg.set_admins(GROUP, [DANA], bot_is_admin=True)
    tg.user_joins(GROUP, SAM)
    default = await bot.get_updates()
    assert [bool(u.message) for u in default] == [True]  # chat_member withheld by default
    tg.user_sends(GROUP, SAM, "hi")
    only_members = await bot.get_updates(allowed_updates=["chat_member"])
    assert len(only_members) == 1 and only_members[0].chat_member is not None
    # Remembered: a later call without allowed_updates keeps the filter.
    assert [u.chat_member is not None for u in await bot.get_updates()] == [True]
    # Back to the default set: the withheld message is delivered; confirmed ones are gone.
    later = await bot.get_updates(offset=only_members[0].update_id + 1, allowed_updates=[])
    assert [_msg(u).text for u in later] == ["hi"]
    assert len(tg.pending_updates) == 1


# ------------------------------------------------------------------------------ callback queries


async def test_callback_query_round_trip(tg: FakeTelegram, bot: Bot) -> None:
    msg = await bot.send_message(
        GROUP,
        "Mood?",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Good", callback_data="mood:5")]]),
    )
    query_id = tg.user_presses(GROUP, msg.message_id, PARENT, "mood:5")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.id == query_id and query.data == "mood:5"
    assert query.from_user.id == PARENT
    assert query.message is not None and query.message.message_id == msg.message_id
    assert isinstance(query.message, Message) and query.message.reply_markup is not None
    assert await query.answer("Thanks, noted privately") is True
    assert tg.callback_answers[query_id]["text"] == "Thanks, noted privately"
    record = await tg.wait_for(lambda r: r.method == "answerCallbackQuery")
    assert record.callback_query_id == query_id and record.chat_id == GROUP
    with pytest.raises(BadRequest, match=r"(?i)Query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)Query is too old"):
        await bot.answer_callback_query("12345")


# ------------------------------------------------------------------------------ membership


async def test_join_produces_message_and_chat_member_update(tg: FakeTelegram, bot: Bot) -> None:
    tg.set_admins(GROUP, [DANA], bot_is_admin=True)
    ids = tg.user_joins(GROUP, SAM)
    assert len(ids) == 2
    updates = await bot.get_updates(allowed_updates=["message", "chat_member", "chat_join_request"])
    message_update, member_update = updates
    assert message_update.message is not None
    assert [u.id for u in _msg(message_update).new_chat_members] == [SAM]
    assert isinstance(member_update, Update) and member_update.chat_member is not None
    change = member_update.chat_member
    assert change.chat.id == GROUP
    assert change.old_chat_member.status == ChatMember.LEFT
    assert change.new_chat_member.status == ChatMember.MEMBER
    assert change.new_chat_member.user.id == SAM
    assert change.difference().get("status") == (ChatMember.LEFT, ChatMember.MEMBER)
    # Leaving produces left_chat_member and member -> left.
    tg.user_leaves(GROUP, SAM)
    later = await bot.get_updates(offset=member_update.update_id + 1)
    left_member = _msg(later[0]).left_chat_member
    assert left_member is not None and left_member.id == SAM
    assert _change(later[1]).new_chat_member.status == ChatMember.LEFT


async def test_chat_member_updates_need_the_bot_to_be_admin(tg: FakeTelegram, bot: Bot) -> None:
    ids = tg.user_joins(GROUP, SAM)
    assert len(ids) == 1  # only the service message
    [update] = await bot.get_updates(allowed_updates=["message", "chat_member"])
    assert update.message is not None and _msg(update).new_chat_members[0].id == SAM


async def test_join_request_round_trip(tg: FakeTelegram, bot: Bot) -> None:
    assert tg.join_request(GROUP, STRANGER) == 0  # bot is not an admin: Telegram does not tell it
    tg.set_admins(GROUP, [DANA], bot_is_admin=True)
    update_id = tg.join_request(GROUP, STRANGER, bio="mum of two")
    [update] = await bot.get_updates(allowed_updates=["chat_join_request", "chat_member", "message"])
    request = update.chat_join_request
    assert update.update_id == update_id and request is not None
    assert (
        request.user_chat_id == STRANGER and request.from_user.id == STRANGER and request.bio == "mum of two"
    )
    # The bot may write to the requester although they never started it.
    await bot.send_message(request.user_chat_id, "Please read the rules and agree")
    assert await request.approve() is True
    assert tg.member_status(GROUP, STRANGER) == "member"
    with pytest.raises(BadRequest, match=r"(?i)User_already_participant"):
        await bot.approve_chat_join_request(GROUP, STRANGER)
    later = await bot.get_updates(offset=update_id + 1)
    assert _msg(later[0]).new_chat_members[0].id == STRANGER
    assert _change(later[1]).via_join_request is True
    # The grant ends with the request.
    with pytest.raises(Forbidden):
        await bot.send_message(STRANGER, "again")
    with pytest.raises(BadRequest, match=r"(?i)Hide_requester_missing"):
        await bot.decline_chat_join_request(GROUP, SAM)


async def test_bot_added_to_group_and_leave_chat(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_group(-100777, "New group", bot_member=False)
    ids = tg.bot_added_to(-100777, DANA, as_admin=True)
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == ids
    my = updates[0].my_chat_member
    assert my is not None and my.new_chat_member.status == ChatMember.ADMINISTRATOR
    assert isinstance(my.new_chat_member, ChatMemberAdministrator)
    assert my.new_chat_member.can_restrict_members is True
    assert _msg(updates[1]).new_chat_members[0].id == tg.bot_id
    assert await bot.leave_chat(-100777) is True
    [left] = await bot.get_updates(offset=ids[-1] + 1)
    assert _change(left).new_chat_member.status == ChatMember.LEFT
    with pytest.raises(Forbidden, match=r"(?i)bot is not a member of the supergroup chat"):
        await bot.send_message(-100777, "x")


async def test_group_migration(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_group(BASIC, "Small group", type="group")
    tg.set_admins(BASIC, [DANA])
    ids = tg.migrate_group(BASIC, GROUP - 1)
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == ids
    assert _msg(updates[0]).chat.id == BASIC and _msg(updates[0]).migrate_to_chat_id == GROUP - 1
    assert _msg(updates[1]).chat.id == GROUP - 1 and _msg(updates[1]).migrate_from_chat_id == BASIC
    assert _msg(updates[1]).chat.type == "supergroup"
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(BASIC, "hello")
    assert caught.value.new_chat_id == GROUP - 1
    assert (await bot.send_message(caught.value.new_chat_id, "hello")).chat.id == GROUP - 1
    assert tg.member_status(GROUP - 1, DANA) == "creator"


async def test_privacy_mode_hides_plain_group_messages(tg: FakeTelegram, bot: Bot) -> None:
    tg.set_bot_privacy(False)
    assert tg.user_sends(GROUP, PARENT, "just chatting") == 0
    assert tg.user_sends(GROUP, PARENT, "/help") > 0
    assert tg.user_sends(GROUP, PARENT, "/help@other_bot") == 0
    assert tg.user_sends(GROUP, PARENT, "/help@kindred_test_bot") > 0
    sent = await bot.send_message(GROUP, "Welcome")
    assert tg.user_sends(GROUP, PARENT, "thanks", reply_to=sent.message_id) > 0
    tg.set_admins(GROUP, [DANA], bot_is_admin=True)  # admins see everything
    assert tg.user_sends(GROUP, PARENT, "just chatting") > 0
    texts = [_msg(u).text for u in await bot.get_updates()]
    assert texts == ["/help", "/help@kindred_test_bot", "thanks", "just chatting"]


async def test_user_edits_and_anonymous_admin(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_sends(GROUP, PARENT, "first version")
    message_id = tg.last_message_id(GROUP)
    assert message_id is not None
    tg.user_edits(GROUP, message_id, "second version /sos")
    tg.user_sends(GROUP, DANA, "/setup", anonymous=True)
    first, edit, anon = await bot.get_updates()
    assert edit.edited_message is not None and edit.edited_message.text == "second version /sos"
    assert edit.edited_message.message_id == _msg(first).message_id
    assert edit.edited_message.edit_date is not None
    anon_from, anon_chat = _msg(anon).from_user, _msg(anon).sender_chat
    assert anon_from is not None and anon_from.username == "GroupAnonymousBot"
    assert anon_chat is not None and anon_chat.id == GROUP


async def test_chat_queries_parse_in_ptb(tg: FakeTelegram, bot: Bot) -> None:
    tg.set_admins(GROUP, [DANA, SAM], bot_is_admin=True)
    tg.add_member(GROUP, PARENT)
    chat = await bot.get_chat(GROUP)
    assert chat.title == "Parents Circle" and chat.type == "supergroup"
    assert chat.permissions is not None and chat.permissions.can_send_messages
    admins = await bot.get_chat_administrators(GROUP)
    assert admins[0].status == ChatMember.OWNER
    assert {a.user.id for a in admins} == {DANA, SAM, tg.bot_id}
    assert (await bot.get_chat_member(GROUP, PARENT)).status == ChatMember.MEMBER
    assert (await bot.get_chat_member(GROUP, STRANGER)).status == ChatMember.LEFT
    assert (await bot.get_chat_member(GROUP, tg.bot_id)).status == ChatMember.ADMINISTRATOR
    assert await bot.get_chat_member_count(GROUP) == 4
    with pytest.raises(BadRequest, match=r"(?i)User not found"):
        await bot.get_chat_member(GROUP, 424242)
    # Hold a new member until they agree, then release them.
    perms = ChatPermissions.no_permissions()
    assert await bot.restrict_chat_member(GROUP, PARENT, perms) is True
    restricted = await bot.get_chat_member(GROUP, PARENT)
    assert isinstance(restricted, ChatMemberRestricted) and restricted.can_send_messages is False
    assert await bot.restrict_chat_member(GROUP, PARENT, ChatPermissions.all_permissions()) is True
    assert (await bot.get_chat_member(GROUP, PARENT)).status == ChatMember.MEMBER
    with pytest.raises(BadRequest, match=r"(?i)User is an administrator of the chat"):
        await bot.restrict_chat_member(GROUP, SAM, perms)
    link = await bot.create_chat_invite_link(GROUP, name="Spring", creates_join_request=True)
    assert (
        link.invite_link.startswith("https://t.me/+")
        and link.creates_join_request
        and link.creator.id == tg.bot_id
    )
    assert not tg.has_started(PARENT)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(PARENT)
    tg.user_starts_bot(PARENT)
    assert (await bot.get_chat(PARENT)).first_name == "Alex"


async def test_admin_only_methods_refuse_without_rights(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_member(GROUP, PARENT)
    with pytest.raises(BadRequest, match=r"(?i)Not enough rights to restrict/unrestrict chat member"):
        await bot.restrict_chat_member(GROUP, PARENT, ChatPermissions.no_permissions())
    with pytest.raises(BadRequest, match=r"(?i)Not enough rights to manage chat invite links"):
        await bot.create_chat_invite_link(GROUP)
    tg.add_group(BASIC, "Basic", type="group")
    tg.set_admins(BASIC, [DANA], bot_is_admin=True)
    with pytest.raises(BadRequest, match=r"(?i)Method is available only for supergroups"):
        await bot.restrict_chat_member(BASIC, DANA, ChatPermissions.no_permissions())


# ------------------------------------------------------------------------------ rate limits and faults


async def test_injected_429_surfaces_as_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "x")
    assert _retry_seconds(caught.value) == 7
    assert tg.count_429 == 1
    assert (await bot.send_message(GROUP, "x")).text == "x"
    assert tg.calls_of("sendMessage")[0].status == 429


async def test_enforced_group_limit_answers_429_until_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.enforce_limits(per_chat_per_minute=20, global_per_second=None)
    for n in range(20):
        await bot.send_message(GROUP, f"m{n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "one too many")
    seconds = _retry_seconds(caught.value)
    assert 55 <= seconds <= 60
    with pytest.raises(RetryAfter):  # retrying early is punished again
        await bot.send_message(GROUP, "again")
    assert tg.count_429 == 2
    assert len(tg.messages_to(GROUP)) == 20
    await bot.send_message(FORUM, "other chats are fine")


async def test_enforced_global_and_private_limits(tg: FakeTelegram, bot: Bot) -> None:
    tg.enforce_limits(per_chat_per_minute=None, global_per_second=5, private_per_second=1, private_burst=2)
    tg.user_starts_bot(PARENT)
    await bot.send_message(PARENT, "a")
    await bot.send_message(PARENT, "b")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(PARENT, "c")
    assert _retry_seconds(caught.value) == 1
    tg.disable_limits()
    tg.enforce_limits(per_chat_per_minute=None, global_per_second=5, private_per_second=None)
    for n in range(5):
        await bot.send_message(GROUP, f"g{n}")
    with pytest.raises(RetryAfter):
        await bot.send_message(FORUM, "global limit hit")
    assert tg.count_429 == 2


async def test_storm_delay_and_dropped_connections(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_all_for(0.3, status=502)
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(GROUP, "x")
    with pytest.raises(NetworkError):
        await bot.get_me()
    await asyncio.sleep(0.35)
    assert (await bot.send_message(GROUP, "after the storm")).text == "after the storm"

    tg.fail_all_for(5, status=429)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "x")
    assert _retry_seconds(caught.value) == 5
    tg.clear_faults()

    tg.fail_next("*", 500, count=2)
    with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
        await bot.get_me()
    with pytest.raises(NetworkError):
        await bot.send_message(GROUP, "x")

    tg.drop_next_connection("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(GROUP, "lost before processing")
    assert all(r.text != "lost before processing" for r in tg.sent)

    tg.drop_next_connection("sendMessage", after_processing=True)
    with pytest.raises(NetworkError):
        await bot.send_message(GROUP, "sent but the answer was lost")
    assert tg.sent[-1].text == "sent but the answer was lost"

    tg.delay_next("sendMessage", 0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(GROUP, "slow", read_timeout=0.1)
    record = await tg.wait_for(lambda r: r.text == "slow", timeout=2)
    assert record.method == "sendMessage"


# ------------------------------------------------------------------------------ webhook


async def test_webhook_delivers_in_order_and_retries_until_2xx(tg: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[int, str | None]] = []
    answers = [500, 500, 200, 200]

    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((body["update_id"], request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response(status=answers[min(len(received), len(answers)) - 1])

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    tg.webhook_retry_delay = 0.01
    try:
        first = tg.user_sends(GROUP, PARENT, "one")
        second = tg.user_sends(GROUP, PARENT, "two")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t_TOKEN") is True
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        await tg.wait_updates_confirmed(timeout=3)
        assert received == [(first, "s3cr3t_TOKEN")] * 3 + [(second, "s3cr3t_TOKEN")]
        assert [a.status for a in tg.webhook_attempts] == [500, 500, 200, 200]
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        # Like Telegram, the last error stays visible after the webhook recovered.
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        # The delivered payload parses as an Update.
        assert Update.de_json(tg.get_update(first), bot).message.text == "one"  # type: ignore[arg-type, union-attr]
        assert await bot.delete_webhook() is True
        assert await bot.get_updates() == ()
    finally:
        await runner.cleanup()


async def test_webhook_error_is_reported_while_failing(tg: FakeTelegram, bot: Bot) -> None:
    tg.webhook_retry_delay = 0.01
    tg.user_sends(GROUP, PARENT, "nobody listening")
    await bot.set_webhook("http://127.0.0.1:9/hook")  # port 9: connection refused
    await asyncio.sleep(0.1)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message is not None and "Connection failed" in info.last_error_message
    await bot.delete_webhook(drop_pending_updates=True)
    assert tg.pending_updates == []


async def test_webhook_reply_with_method_is_executed(tg: FakeTelegram, bot: Bot) -> None:
    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        chat_id = body["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "answered inline"})

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        tg.user_sends(GROUP, PARENT, "hi")
        record = await tg.wait_for(lambda r: r.chat_id == GROUP, timeout=3)
        assert record.text == "answered inline"
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


# ------------------------------------------------------------------------------ commands, menu, files


async def test_set_my_commands_is_stored_per_scope_and_language(tg: FakeTelegram, bot: Bot) -> None:
    member_cmds = [BotCommand("help", "What I can do"), BotCommand("checkin", "Daily check-in")]
    spanish = [BotCommand("ayuda", "Lo que puedo hacer")]
    staff = [BotCommand("setup", "Register this group"), BotCommand("report", "Participation report")]
    assert await bot.set_my_commands(member_cmds)
    assert await bot.set_my_commands(spanish, scope=BotCommandScopeAllPrivateChats(), language_code="es")
    assert await bot.set_my_commands(staff, scope=BotCommandScopeChatMember(GROUP, DANA))
    assert await bot.set_my_commands(member_cmds[:1], scope=BotCommandScopeChat(GROUP))
    assert [c.command for c in await bot.get_my_commands()] == ["help", "checkin"]
    assert [c.command for c in await bot.get_my_commands(BotCommandScopeAllPrivateChats(), "es")] == ["ayuda"]
    assert await bot.get_my_commands(BotCommandScopeAllPrivateChats()) == ()
    assert tg.commands({"type": "chat_member", "chat_id": GROUP, "user_id": DANA}) == [
        {"command": "setup", "description": "Register this group"},
        {"command": "report", "description": "Participation report"},
    ]
    tg.user_starts_bot(DANA)
    assert [c["command"] for c in tg.effective_commands(DANA, DANA, "es")] == ["ayuda"]
    assert [c["command"] for c in tg.effective_commands(DANA, DANA, "en")] == ["help", "checkin"]
    assert [c["command"] for c in tg.effective_commands(GROUP, DANA)] == ["setup", "report"]
    assert [c["command"] for c in tg.effective_commands(GROUP, SAM)] == ["help"]
    assert await bot.delete_my_commands(BotCommandScopeChat(GROUP))
    assert [c["command"] for c in tg.effective_commands(GROUP, SAM)] == ["help", "checkin"]
    with pytest.raises(BadRequest, match=r"(?i)Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    with pytest.raises(BadRequest, match=r"(?i)Chat not found"):
        await bot.set_my_commands(member_cmds, scope=BotCommandScopeChat(-100999))


async def test_chat_menu_button(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_starts_bot(PARENT)
    assert await bot.get_chat_menu_button() == MenuButtonCommands()
    button = MenuButtonWebApp("Resources", WebAppInfo("https://example.org/app"))
    assert await bot.set_chat_menu_button(chat_id=PARENT, menu_button=button) is True
    assert await bot.get_chat_menu_button(PARENT) == button
    assert tg.menu_button(PARENT)["type"] == "web_app"
    with pytest.raises(BadRequest):
        await bot.set_chat_menu_button(chat_id=GROUP, menu_button=button)


async def test_send_document_upload_is_recorded_and_downloadable(tg: FakeTelegram, bot: Bot) -> None:
    content = b"name,phone\n988 Lifeline,988\n"
    msg = await bot.send_document(
        GROUP, document=content, filename="resources.csv", caption="<b>Export</b>", parse_mode="HTML"
    )
    assert msg.document is not None and msg.document.file_name == "resources.csv"
    assert msg.document.file_size == len(content) and msg.caption == "Export"
    record = tg.last_to(GROUP)
    assert record is not None and record.method == "sendDocument"
    assert record.file_name == "resources.csv" and record.file_size == len(content)
    assert record.file_id is not None and tg.file_bytes(record.file_id) == content
    file = await bot.get_file(msg.document.file_id)
    assert file.file_path is not None and file.file_path.startswith(tg.base_file_url)
    assert bytes(await file.download_as_bytearray()) == content
    # Re-sending by file_id works without an upload.
    again = await bot.send_document(GROUP, document=msg.document.file_id)
    assert again.document is not None and again.document.file_id == msg.document.file_id
    with pytest.raises(BadRequest, match=r"(?i)Wrong file identifier"):
        await bot.send_document(GROUP, document="no-such-file-id")
    with pytest.raises(BadRequest, match=r"(?i)Invalid file_id"):
        await bot.get_file("nope")


async def test_send_photo_reads_png_size(tg: FakeTelegram, bot: Bot) -> None:
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
        + (640).to_bytes(4, "big")
        + (480).to_bytes(4, "big")
        + b"\x08\x02\x00\x00\x00"
        + b"\x00" * 32
    )
    msg = await bot.send_photo(GROUP, photo=png, caption="Weekly mood trend")
    assert (msg.photo[-1].width, msg.photo[-1].height) == (640, 480)
    record = tg.last_to(GROUP)
    assert record is not None and record.method == "sendPhoto" and record.file_size == len(png)
    assert record.text == "Weekly mood trend"
    with pytest.raises(BadRequest, match=r"(?i)Message caption is too long"):
        await bot.send_photo(GROUP, photo=png, caption="x" * 1025)


async def test_user_document_download_via_get_file(tg: FakeTelegram, bot: Bot) -> None:
    csv = b"name,categories\nFood bank,food\n"
    update_id = tg.user_sends_document(GROUP, DANA, "local.csv", csv, caption="/resource import")
    [update] = await bot.get_updates()
    assert update.update_id == update_id
    document = _msg(update).document
    assert document is not None and document.file_name == "local.csv" and document.mime_type == "text/csv"
    assert _msg(update).caption_entities[0].type == "bot_command"
    file = await document.get_file()
    assert bytes(await file.download_as_bytearray()) == csv


async def test_default_httpx_request_and_waits(tg: FakeTelegram) -> None:
    request = HTTPXRequest()
    async with Bot(DEFAULT_TOKEN, base_url=tg.base_url, request=request) as client:
        waiter = asyncio.create_task(tg.wait_for(lambda r: r.text == "later"))
        await asyncio.sleep(0.05)
        await client.send_message(GROUP, "later")
        assert (await waiter).chat_id == GROUP
        with pytest.raises(TimeoutError):
            await tg.wait_for(lambda r: r.text == "never", timeout=0.05)
        call = await tg.wait_for_call(lambda c: c.method == "sendMessage")
        assert call.status == 200 and call.params["text"] == "later"


# ---------------------------------------------------------------- markup parsers (TDLib vectors)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        ("🏟 🏟&lt;<i>a</em   >", 'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("&#xDFDF;", "Text contains invalid Unicode characters"),
    ],
)
def test_html_errors_match_tdlib(markup: str, error: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(markup)
    assert str(caught.value).startswith(error)


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("&ge;&lt;&gt;&amp;&quot;&laquo;&#12345678;", '&ge;<>&"&laquo;&#12345678;', []),
        ("➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", [{"type": "italic", "offset": 5, "length": 5}]),
        (
            "🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>",
            "🏟 🏟🏟 ><🏟",
            [{"type": "italic", "offset": 5, "length": 7}, {"type": "bold", "offset": 9, "length": 3}],
        ),
        (
            '<a href  ="telegram.org"   > </a>',
            " ",
            [{"type": "text_link", "offset": 0, "length": 1, "url": "http://telegram.org/"}],
        ),
        ("<a>telegram.org </a>", "telegram.org ", []),
        (
            '🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</></>',
            "🏟 🏟<🏟 🏟<",
            [{"type": "pre", "offset": 6, "length": 6, "language": "fift"}],
        ),
        (
            "<blockquote   expandable>a&lt;<pre  >b;</></>",
            "a<b;",
            [
                {"type": "expandable_blockquote", "offset": 0, "length": 4},
                {"type": "pre", "offset": 2, "length": 2},
            ],
        ),
        ('<span class="tg-spoiler">s</span>', "s", [{"type": "spoiler", "offset": 0, "length": 1}]),
    ],
)
def test_html_results_match_tdlib(markup: str, text: str, entities: list[dict[str, Any]]) -> None:
    assert parse_html(markup) == (text, entities)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("🏟 🏟_abacaba", "Can't find end of Italic entity at byte offset 9"),
        ("🏟 🏟_abac * asd ", "Can't find end of Bold entity at byte offset 15"),
        ("🏟 🏟_abac * asd _", "Can't find end of Italic entity at byte offset 21"),
        ("🏟 🏟`", "Can't find end of Code entity at byte offset 9"),
        ("🏟 🏟```", "Can't find end of Pre entity at byte offset 9"),
        ("🏟 🏟```a ", "Can't find end of PreCode entity at byte offset 9"),
        ("🏟 🏟__🏟 🏟_", "Can't find end of Italic entity at byte offset 20"),
        ("🏟 🏟_🏟 🏟__", "Can't find end of Underline entity at byte offset 19"),
        ("[telegram\\.org](asd\\)", "Can't find end of a URL at byte offset 16"),
        ("🏟 🏟||test\\|", "Can't find end of Spoiler entity at byte offset 9"),
        ("🏟 🏟!", "Character '!' is reserved and must be escaped with the preceding '\\'"),
        ("🏟 🏟>", "Character '>' is reserved and must be escaped with the preceding '\\'"),
    ],
)
def test_markdown_v2_errors_match_tdlib(markup: str, error: str) -> None:
    with pytest.raises(EntityParseError, match=r"(?i)^" + __import__("re").escape(error)):
        parse_markdown_v2(markup)


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("\\\\\\a\\b\\c\\d\\e\\f\\1\\2\\3\\4\\➡️\\", "\\abcdef1234\\➡️\\", []),
        (
            "🏟 🏟_🏟 *🏟*_",
            "🏟 🏟🏟 🏟",
            [{"type": "italic", "offset": 5, "length": 5}, {"type": "bold", "offset": 8, "length": 2}],
        ),
        (
            "🏟 🏟_🏟 __🏟___",
            "🏟 🏟🏟 🏟",
            [{"type": "italic", "offset": 5, "length": 5}, {"type": "underline", "offset": 8, "length": 2}],
        ),
        ("||test||", "test", [{"type": "spoiler", "offset": 0, "length": 4}]),
        (
            "[telegram\\.org](https://telegram.dog?)",
            "telegram.org",
            [{"type": "text_link", "offset": 0, "length": 12, "url": "https://telegram.dog/?"}],
        ),
        ("🏟 🏟```🏟\n🏟```", "🏟 🏟🏟", [{"type": "pre", "offset": 5, "length": 2, "language": "🏟"}]),
        ("abc\n>q\ndef", "abc\nq\ndef", [{"type": "blockquote", "offset": 4, "length": 2}]),
        (
            ">asd\n>q||e||w||\nasdad",
            "asd\nqew\nasdad",
            [
                {"type": "expandable_blockquote", "offset": 0, "length": 8},
                {"type": "spoiler", "offset": 5, "length": 1},
            ],
        ),
    ],
)
def test_markdown_v2_results_match_tdlib(markup: str, text: str, entities: list[dict[str, Any]]) -> None:
    assert parse_markdown_v2(markup) == (text, entities)


def test_legacy_markdown_and_auto_entities() -> None:
    assert parse_markdown("*bold* _it_ [x](example.org)") == (
        "bold it x",
        [
            {"type": "bold", "offset": 0, "length": 4},
            {"type": "italic", "offset": 5, "length": 2},
            {"type": "text_link", "offset": 8, "length": 1, "url": "http://example.org/"},
        ],
    )
    with pytest.raises(EntityParseError, match=r"(?i)Can't find end of the entity starting at byte offset 0"):
        parse_markdown("*unclosed")
    assert find_entities("👋 /start@kindred_test_bot now, mail a@b.org") == [
        {"type": "bot_command", "offset": 3, "length": 23},
        {"type": "email", "offset": 37, "length": 7},
    ]
