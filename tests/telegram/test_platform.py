"""The Telegram adapter on its own against the fake Bot API server: events in, actions out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from adapters.telegram import TelegramPlatform, build
from adapters.telegram.platform import derived_secret
from bot.core.actions import (
    ApproveJoin,
    Button,
    EditMessage,
    Image,
    Priority,
    SendDirect,
    SendMessage,
    SendPrivateReply,
)
from bot.core.commands import CommandInfo, Param
from bot.core.events import (
    ButtonPressed,
    CommandInvoked,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    MessageReceived,
)
from bot.core.identity import ChatRef, UserRef
from bot.core.ports import DeliveryError, RateLimited, TransientError
from bot.core.roles import Role
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import BASIC, DANA, FORUM, GROUP, ROBIN, SAM, free_port

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NEWCOMER = 1010
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
CATALOGUE = (
    CommandInfo(name="moderator", role=Role.FACILITATOR, where="group",
                summaries={"en": "make someone a moderator"}, usages={"en": "/moderator"},
                subcommands=(CommandInfo(name="add", role=Role.FACILITATOR, where="group",
                                         summaries={"en": ""}, usages={"en": "/moderator add"},
                                         params=(Param(name="user", kind="user"),)),)),
)


@dataclass
class Adapter:
    """A started adapter and the events it delivered."""

    platform: TelegramPlatform
    fake: FakeTelegram
    events: list[InboundEvent] = field(default_factory=list)

    async def next_events(self, count: int = 1, timeout: float = 5.0) -> list[InboundEvent]:
        """Wait until `count` more events arrived after the ones already taken."""
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                await asyncio.sleep(0.01)
        taken, self.events[:] = self.events[:count], self.events[count:]
        return taken

    async def quiet(self) -> None:
        """Wait until every queued update was handled and confirmed."""
        await self.fake.wait_updates_confirmed(timeout=5)
        await asyncio.sleep(0.05)


@pytest.fixture
async def adapter(fake: FakeTelegram) -> AsyncIterator[Adapter]:
    platform = build({"token": fake.token, "base_url": fake.base_url, "commands": CATALOGUE,
                      "default_language": "en", "callback_grace": 0.3, "webhook_url": None})
    state = Adapter(platform, fake)

    async def inbox(event: InboundEvent) -> None:
        state.events.append(event)

    await platform.start(inbox)
    try:
        yield state
    finally:
        await platform.stop()
        await platform.stop()  # safe twice


def group_chat(chat_id: int = GROUP, thread: int | None = None) -> ChatRef:
    return ChatRef("telegram", str(chat_id), "group", str(thread) if thread else None)


# -- events --------------------------------------------------------------------------------------
async def test_one_event_per_join_whether_or_not_the_bot_is_admin(adapter: Adapter) -> None:
    fake = adapter.fake
    fake.add_user(NEWCOMER, "Noa", "noa_new", "en")
    fake.user_joins(GROUP, NEWCOMER)  # bot is a plain member: a service message only
    [joined] = await adapter.next_events()
    assert isinstance(joined, MemberJoined) and joined.meta.sender == UserRef("telegram",
                                                                              str(NEWCOMER))
    assert joined.meta.group == f"telegram:{GROUP}" and joined.meta.group_title == "Parents Circle"
    fake.set_admins(FORUM, [DANA], bot_is_admin=True)
    ids = fake.user_joins(FORUM, NEWCOMER)  # admin bot: service message AND chat_member
    assert len(ids) == 2
    fake.user_leaves(FORUM, NEWCOMER)
    await adapter.quiet()
    kinds = [type(e) for e in adapter.events]
    assert kinds == [MemberJoined, MemberLeft]
    assert adapter.events[0].meta.event_id == f"telegram:{ids[1]}"  # from chat_member


async def test_join_request_then_private_message_and_approval(adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    fake.set_admins(GROUP, [DANA], bot_is_admin=True)
    fake.add_user(NEWCOMER, "Noa", None, "es")
    fake.join_request(GROUP, NEWCOMER)
    [asked] = await adapter.next_events()
    assert isinstance(asked, MemberJoined) and asked.join_request
    assert asked.meta.sender_language == "es"
    delivered = await platform.perform(SendDirect(to=asked.meta.sender, text="Please agree"))
    assert not delivered.via_fallback and fake.last_to(NEWCOMER) is not None
    await platform.perform(ApproveJoin(group=f"telegram:{GROUP}", user=asked.meta.sender))
    await platform.perform(ApproveJoin(group=f"telegram:{GROUP}", user=asked.meta.sender))
    assert fake.member_status(GROUP, NEWCOMER) == "member"
    [joined] = await adapter.next_events()
    assert isinstance(joined, MemberJoined) and not joined.join_request


async def test_button_press_toast_and_automatic_answer(adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    topic = fake.create_topic(FORUM, "Check-ins")
    sent = await platform.perform(SendMessage(
        to=group_chat(FORUM, topic), text="How are you?",
        buttons=((Button(label="Good", payload="mood:5"), Button(label="Hard", payload="mood:1")),)))
    assert sent.message is not None and sent.message.chat.thread == str(topic)
    assert sent.message.link == f"https://t.me/c/9876543210/{topic}/{sent.message.id}"
    query = fake.user_presses(FORUM, int(sent.message.id), SAM, "mood:5")
    [pressed] = await adapter.next_events()
    assert isinstance(pressed, ButtonPressed)
    assert pressed.payload == "mood:5" and pressed.interaction == query
    assert pressed.meta.chat == group_chat(FORUM, topic) and pressed.message == sent.message
    await platform.perform(SendPrivateReply(to=pressed.meta.sender, chat=pressed.meta.chat,
                                            text="Noted, thank you", interaction=query))
    assert fake.callback_answers[query]["text"] == "Noted, thank you"
    unanswered = fake.user_presses(FORUM, int(sent.message.id), DANA, "mood:1")
    await adapter.next_events()
    await fake.wait_for(lambda r: r.callback_query_id == unanswered, timeout=3)


async def test_private_reply_too_long_for_a_toast_goes_privately_or_to_the_chat(
        adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    message = await platform.perform(SendMessage(to=group_chat(), text="Pick one",
                                                 buttons=((Button(label="A", payload="a:1"),),)))
    assert message.message is not None
    long_text = "Here is everything you asked about. " * 10
    query = fake.user_presses(GROUP, int(message.message.id), SAM, "a:1")
    [pressed] = await adapter.next_events()
    assert isinstance(pressed, ButtonPressed)
    fallback = await platform.perform(SendPrivateReply(
        to=pressed.meta.sender, chat=pressed.meta.chat, text=long_text, interaction=query))
    assert fallback.via_fallback and fake.last_to(GROUP) is not None  # Sam never started the bot
    assert query in fake.callback_answers  # the spinner stopped
    fake.user_starts_bot(SAM)
    await adapter.next_events()
    direct = await platform.perform(SendPrivateReply(to=pressed.meta.sender,
                                                     chat=pressed.meta.chat, text=long_text))
    assert not direct.via_fallback
    record = fake.last_to(SAM)
    assert record is not None and record.rendered_text == long_text.strip()  # Telegram trims


async def test_send_direct_falls_back_to_the_group_when_the_person_never_started_the_bot(
        adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    delivered = await platform.perform(SendDirect(
        to=UserRef("telegram", str(ROBIN)), text="Private words",
        fallback=group_chat(), fallback_text="Robin, please open a private chat with me."))
    assert delivered.via_fallback
    assert fake.last_to(GROUP) is not None and fake.last_to(ROBIN) is None
    with pytest.raises(DeliveryError):
        await platform.perform(SendDirect(to=UserRef("telegram", str(ROBIN)), text="x"))


async def test_commands_with_mentions_attachments_and_edits(adapter: Adapter) -> None:
    fake = adapter.fake
    said = fake.user_sends(GROUP, SAM, "hi all")
    fake.user_sends(GROUP, DANA, "/Moderator add @sam_parent")
    update = fake.get_update(said)
    assert update is not None
    fake.user_sends(GROUP, DANA, "/moderator add", reply_to=update["message"]["message_id"])
    fake.user_sends_document(DANA, DANA, "lines.csv", b"name,phone\nLine,123\n",
                             caption="/resource import")
    fake.user_edits(GROUP, update["message"]["message_id"], "hi all, edited")
    fake.user_sends(GROUP, SAM, "/help@another_bot")
    events = await adapter.next_events(6)
    [document] = [e for e in events if e.meta.chat.kind == "direct"]
    message, by_name, by_reply, edited, other_bot = [e for e in events if e is not document]
    assert isinstance(message, MessageReceived) and not message.edited
    assert message.meta.sender_name == "Sam" and not message.meta.sender_is_admin
    assert isinstance(by_name, CommandInvoked) and by_name.name == "moderator"
    assert by_name.args == ("add", "@sam_parent") and by_name.meta.sender_is_admin
    assert [m.user.id for m in by_name.mentions] == [str(SAM)]
    assert isinstance(by_reply, CommandInvoked) and by_reply.args == ("add", "@sam_parent")
    assert [m.token for m in by_reply.mentions] == ["@sam_parent"]
    assert isinstance(document, CommandInvoked) and document.name == "resource"
    assert document.meta.chat.kind == "direct" and document.meta.group is None
    assert document.attachment is not None
    assert document.attachment.content == b"name,phone\nLine,123\n"
    assert isinstance(edited, MessageReceived) and edited.edited and edited.text == "hi all, edited"
    assert isinstance(other_bot, MessageReceived)  # screened like any message, never run


async def test_anonymous_admin_counts_as_admin(adapter: Adapter) -> None:
    adapter.fake.user_sends(GROUP, DANA, "/setup", anonymous=True)
    [command] = await adapter.next_events()
    assert isinstance(command, CommandInvoked) and command.meta.sender_is_admin


async def test_edit_keeps_the_given_keyboard_and_tolerates_no_change(adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    buttons = ((Button(label="Acknowledge", payload="crisis:ack:1"),),)
    sent = await platform.perform(SendMessage(to=group_chat(), text="Alert", buttons=buttons))
    assert sent.message is not None
    edit = EditMessage(message=sent.message, text="Alert — Dana is on it", buttons=buttons)
    await platform.perform(edit)
    stored = fake.message(GROUP, int(sent.message.id))
    assert stored is not None and stored["text"] == "Alert — Dana is on it"
    assert stored["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "crisis:ack:1"
    await platform.perform(edit)  # "message is not modified" is not a failure


async def test_photo_with_a_caption(adapter: Adapter) -> None:
    platform, fake = adapter.platform, adapter.fake
    await platform.perform(SendMessage(to=group_chat(), text="Mood trend <this week>",
                                       image=Image(filename="trend.png", content=PNG)))
    record = fake.last_to(GROUP)
    assert record is not None and record.method == "sendPhoto"
    assert record.rendered_text == "Mood trend <this week>"
    assert fake.file_bytes(record.file_id or "") == PNG


async def test_errors_are_mapped_for_the_delivery_queue(adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    action = SendMessage(to=group_chat(), text="hello")
    fake.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RateLimited) as limited:
        await platform.perform(action)
    assert limited.value.retry_after == 3
    assert platform.reserve(action) > 0  # the chat waits out Telegram's answer
    fake.fail_next("sendMessage", 502)
    with pytest.raises(TransientError):
        await platform.perform(SendMessage(to=group_chat(FORUM), text="x"))
    with pytest.raises(DeliveryError):
        await platform.perform(SendMessage(to=group_chat(-100999), text="unknown chat"))
    with pytest.raises(DeliveryError):
        await platform.perform(SendMessage(to=group_chat(FORUM), text="x", buttons=(
            (Button(label="too long", payload="p" * 65),),)))
    assert fake.messages_to(FORUM) == []


async def test_a_long_text_interrupted_by_a_rate_limit_is_not_sent_twice(adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    action = SendMessage(to=group_chat(), text="\n".join(["word " * 600] * 2))
    fake.enforce_limits(per_chat_per_minute=1, global_per_second=None)
    with pytest.raises(RateLimited):
        await platform.perform(action)
    assert len(fake.messages_to(GROUP)) == 1
    fake.disable_limits()
    delivered = await platform.perform(action)
    assert len(fake.messages_to(GROUP)) == 2
    assert delivered.message is not None
    assert delivered.message.id == str(fake.messages_to(GROUP)[-1].message_id)


async def test_messages_to_a_migrated_group_follow_it(adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    fake.migrate_group(BASIC, -1004123456999)
    delivered = await platform.perform(SendMessage(to=group_chat(BASIC), text="still here?"))
    assert delivered.message is not None and delivered.message.chat.id == "-1004123456999"
    assert fake.last_to(-1004123456999) is not None


async def test_admins_and_visibility(adapter: Adapter) -> None:
    fake, platform = adapter.fake, adapter.platform
    assert await platform.group_admins(f"telegram:{GROUP}") == [UserRef("telegram", str(DANA))]
    assert (await platform.check_visibility(f"telegram:{GROUP}")).can_read_all_messages
    fake.set_bot_privacy(False)
    report = await platform.check_visibility(f"telegram:{GROUP}")
    assert not report.can_read_all_messages and "/setprivacy" in report.problems[0]
    fake.set_admins(GROUP, [DANA], bot_is_admin=True)
    assert (await platform.check_visibility(f"telegram:{GROUP}")).can_read_all_messages
    assert await platform.group_admins(f"telegram:{GROUP}") == [UserRef("telegram", str(DANA))]
    assert not (await platform.check_visibility(None)).can_read_all_messages


async def test_admin_changes_refresh_the_cached_list(adapter: Adapter) -> None:
    fake = adapter.fake
    fake.set_admins(GROUP, [DANA], bot_is_admin=True)
    fake.user_sends(GROUP, SAM, "/setup")
    [before] = await adapter.next_events()
    assert not before.meta.sender_is_admin
    fake.set_admins(GROUP, [DANA, SAM], bot_is_admin=True)
    fake.enqueue_raw("chat_member", {
        "chat": {"id": GROUP, "type": "supergroup", "title": "Parents Circle"},
        "from": {"id": DANA, "is_bot": False, "first_name": "Dana"}, "date": 1_700_000_000,
        "old_chat_member": {"status": "member",
                            "user": {"id": SAM, "is_bot": False, "first_name": "Sam"}},
        "new_chat_member": {"status": "administrator", "can_be_edited": False,
                            "is_anonymous": False, "can_manage_chat": True,
                            "can_delete_messages": True, "can_manage_video_chats": True,
                            "can_restrict_members": True, "can_promote_members": False,
                            "can_change_info": True, "can_invite_users": True,
                            "can_post_stories": False, "can_edit_stories": False,
                            "can_delete_stories": False,
                            "user": {"id": SAM, "is_bot": False, "first_name": "Sam"}}})
    fake.user_sends(GROUP, SAM, "/setup")
    [after] = await adapter.next_events()
    assert after.meta.sender_is_admin


async def test_reserve_keeps_alerts_ahead_of_bulk_sends(adapter: Adapter) -> None:
    platform = adapter.platform
    bulk = [SendMessage(to=group_chat(-100_000_000 - n), text="check-in", priority=Priority.BULK)
            for n in range(40)]
    waits = [platform.reserve(action) for action in bulk]
    assert waits.count(0.0) == 1  # bulk sends are paced, 30 a second at most
    alert = SendDirect(to=UserRef("telegram", str(DANA)), text="alert", priority=Priority.ALERT)
    assert platform.reserve(alert) == 0.0  # an alert is not


async def test_webhook_answers_only_after_the_inbox_returned(fake: FakeTelegram) -> None:
    port = free_port()
    platform = build({"token": fake.token, "base_url": fake.base_url, "port": port,
                      "host": "127.0.0.1", "webhook_url": f"http://127.0.0.1:{port}/"})
    release = asyncio.Event()
    events: list[InboundEvent] = []

    async def slow_inbox(event: InboundEvent) -> None:
        events.append(event)
        await release.wait()

    await platform.start(slow_inbox)
    try:
        [call] = fake.calls_of("setWebhook")
        secret = call.params["secret_token"]
        assert secret == derived_secret(fake.token) and fake.token not in secret
        fake.user_sends(GROUP, SAM, "I am struggling tonight")
        async with asyncio.timeout(5):
            while not events:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert fake.webhook_attempts == [] and len(fake.pending_updates) == 1  # not confirmed
        release.set()
        await fake.wait_updates_confirmed(timeout=5)
        assert [a.status for a in fake.webhook_attempts] == [200]
        async with aiohttp.ClientSession() as http, http.post(
                f"http://127.0.0.1:{port}/", json={"update_id": 1},
                headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}) as forged:
            assert forged.status == 403
    finally:
        await platform.stop()
