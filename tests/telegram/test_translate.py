"""translate.py on recorded Bot API payloads: updates in, core events out, and actions' arguments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import Update

from adapters.telegram.translate import (
    ANONYMOUS_ADMIN_ID,
    KnownUser,
    PayloadTooLong,
    TranslateContext,
    Translation,
    UserDirectory,
    keyboard,
    message_link,
    reply_kwargs,
    target_kwargs,
    text_kwargs,
    translate_update,
)
from bot.core.actions import Button
from bot.core.commands import CommandInfo, Param
from bot.core.events import (
    ButtonPressed,
    CommandInvoked,
    GroupMigrated,
    MemberJoined,
    MemberLeft,
    MessageReceived,
)
from bot.core.identity import ChatRef, MessageRef, UserRef
from bot.core.roles import Role

BOT_ID = 123456789
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DATE = int(NOW.timestamp()) - 5
SUPERGROUP = {"id": -1001234567890, "title": "Parents Circle", "type": "supergroup"}
FORUM = {"id": -1009876543210, "title": "Parents Forum", "type": "supergroup", "is_forum": True}
PUBLIC = {"id": -1001112223334, "title": "Open Circle", "type": "supergroup",
          "username": "opencircle"}
BASIC = {"id": -4123456, "title": "Small group", "type": "group"}
DANA = {"id": 1002, "is_bot": False, "first_name": "Dana", "last_name": "Reyes",
        "username": "dana_fac", "language_code": "en"}
SAM = {"id": 1003, "is_bot": False, "first_name": "Sam", "username": "sam_parent",
       "language_code": "en-GB"}
ROBIN = {"id": 1004, "is_bot": False, "first_name": "Robin", "language_code": "es"}
THE_BOT = {"id": BOT_ID, "is_bot": True, "first_name": "Kindred", "username": "kindred_test_bot"}
CATALOGUE = {
    "moderator": CommandInfo(
        name="moderator", role=Role.FACILITATOR, where="group", summaries={}, usages={},
        subcommands=(CommandInfo(name="add", role=Role.FACILITATOR, where="group", summaries={},
                                 usages={}, params=(Param(name="user", kind="user"),)),)),
    "help": CommandInfo(name="help", role=Role.MEMBER, where="any", summaries={}, usages={}),
}


def context(**overrides: Any) -> TranslateContext:
    values: dict[str, Any] = {"bot_id": BOT_ID, "bot_username": "kindred_test_bot", "now": NOW,
                              "is_admin": lambda chat, user: user == DANA["id"],
                              "commands": CATALOGUE}
    values.update(overrides)
    return TranslateContext(**values)


def translate(payload: dict[str, Any], **overrides: Any) -> Translation:
    return translate_update(Update.de_json(payload, None), context(**overrides))


def message(chat: dict[str, Any], sender: dict[str, Any], text: str, message_id: int = 7,
            **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message_id": message_id, "from": sender, "chat": chat, "date": DATE,
                            "text": text}
    if text.startswith("/"):
        body["entities"] = [{"type": "bot_command", "offset": 0,
                             "length": len(text.split()[0])}]
    body.update(extra)
    return body


def only(translation: Translation) -> Any:
    [event] = translation.events
    return event


# -- messages and commands -----------------------------------------------------------------------
def test_a_group_message_becomes_message_received_with_meta_and_link() -> None:
    event = only(translate({"update_id": 41, "message": message(SUPERGROUP, SAM, "hello")}))
    assert isinstance(event, MessageReceived) and event.text == "hello" and not event.edited
    meta = event.meta
    assert meta.event_id == "telegram:41"
    assert meta.chat == ChatRef("telegram", "-1001234567890", "group")
    assert meta.group == "telegram:-1001234567890" and meta.group_title == "Parents Circle"
    assert meta.sender == UserRef("telegram", "1003") and meta.sender_name == "Sam"
    assert meta.sender_language == "en-GB" and not meta.sender_is_admin and not meta.late
    assert meta.occurred_at == datetime.fromtimestamp(DATE, UTC)
    assert event.message == MessageRef(meta.chat, "7", "https://t.me/c/1234567890/7")


def test_private_deep_link_start() -> None:
    chat = {"id": 1004, "first_name": "Robin", "type": "private"}
    event = only(translate({"update_id": 42, "message": message(chat, ROBIN, "/start grp_12-ab")}))
    assert isinstance(event, CommandInvoked) and event.name == "start"
    assert event.args == ("grp_12-ab",)
    assert event.meta.chat == ChatRef("telegram", "1004", "direct") and event.meta.group is None
    assert event.message is not None and event.message.link is None


def test_command_addressed_to_us_or_to_another_bot() -> None:
    ours = only(translate({"update_id": 1, "message": message(
        SUPERGROUP, DANA, "/Setup@Kindred_Test_Bot  now   please")}))
    assert isinstance(ours, CommandInvoked) and ours.name == "setup"
    assert ours.args == ("now", "please") and ours.meta.sender_is_admin
    theirs = only(translate({"update_id": 2, "message": message(SUPERGROUP, DANA,
                                                                "/setup@other_bot")}))
    assert isinstance(theirs, MessageReceived)  # screened, never run
    not_a_command = only(translate({"update_id": 3, "message": message(SUPERGROUP, SAM,
                                                                       "/ not a command")}))
    assert isinstance(not_a_command, MessageReceived)


def test_text_mentions_and_usernames_resolve_to_people() -> None:
    text = "/moderator add Dana Reyes"
    payload = message(SUPERGROUP, DANA, text, entities=[
        {"type": "bot_command", "offset": 0, "length": 10},
        {"type": "text_mention", "offset": 15, "length": 10, "user": DANA}])
    event = only(translate({"update_id": 5, "message": payload}))
    assert isinstance(event, CommandInvoked) and event.args == ("add", "Dana Reyes")
    [mention] = event.mentions
    assert mention.token == "Dana Reyes" and mention.user == UserRef("telegram", "1002")
    assert mention.name == "Dana Reyes"
    known = KnownUser(1003, "Sam", "sam_parent")
    by_name = only(translate({"update_id": 6, "message": message(
        SUPERGROUP, DANA, "/moderator add @SAM_parent")},
        resolve_username=lambda name: known if name.lower() == "sam_parent" else None))
    assert [m.user.id for m in by_name.mentions] == ["1003"]
    unknown = only(translate({"update_id": 7, "message": message(
        SUPERGROUP, DANA, "/moderator add @nobody")}))
    assert unknown.args == ("add", "@nobody") and unknown.mentions == ()


def test_utf16_offsets_before_a_text_mention() -> None:
    text = "/moderator add 😀 Dana"
    payload = message(SUPERGROUP, DANA, text, entities=[
        {"type": "bot_command", "offset": 0, "length": 10},
        {"type": "text_mention", "offset": 18, "length": 4, "user": DANA}])
    event = only(translate({"update_id": 5, "message": payload}))
    assert event.args == ("add", "😀", "Dana") and event.mentions[0].token == "Dana"


def test_a_command_replying_to_a_member_names_them() -> None:
    replied = message(SUPERGROUP, SAM, "hello", message_id=3)
    event = only(translate({"update_id": 8, "message": message(
        SUPERGROUP, DANA, "/moderator add", reply_to_message=replied)}))
    assert event.args == ("add", "@sam_parent")
    assert event.mentions[0].user == UserRef("telegram", "1003")
    no_username = message(SUPERGROUP, ROBIN, "hola", message_id=4)
    event = only(translate({"update_id": 9, "message": message(
        SUPERGROUP, DANA, "/moderator add", reply_to_message=no_username)}))
    assert event.args == ("add", "@Robin")
    # A command that takes nobody is left alone; so is a reply to the bot itself.
    help_reply = only(translate({"update_id": 10, "message": message(
        SUPERGROUP, SAM, "/help", reply_to_message=no_username)}))
    assert help_reply.args == ()
    to_bot = only(translate({"update_id": 11, "message": message(
        SUPERGROUP, DANA, "/moderator add", reply_to_message=message(SUPERGROUP, THE_BOT, "hi"))}))
    assert to_bot.args == ("add",) and to_bot.mentions == ()


def test_forum_topic_messages_keep_their_thread() -> None:
    topic_root = {"message_id": 50, "from": DANA, "chat": FORUM, "date": DATE,
                  "message_thread_id": 50, "is_topic_message": True,
                  "forum_topic_created": {"name": "Staff corner", "icon_color": 7322096}}
    payload = message(FORUM, DANA, "/moderator add", message_id=51, message_thread_id=50,
                      is_topic_message=True, reply_to_message=topic_root)
    event = only(translate({"update_id": 12, "message": payload}))
    assert isinstance(event, CommandInvoked)
    assert event.meta.chat == ChatRef("telegram", "-1009876543210", "group", "50")
    assert event.args == ("add",)  # the topic's first message is not "the person replied to"
    assert event.message is not None
    assert event.message.link == "https://t.me/c/9876543210/50/51"
    # Outside forums message_thread_id marks reply threads, not topics.
    reply_thread = message(SUPERGROUP, SAM, "yes", message_thread_id=3)
    assert only(translate({"update_id": 13, "message": reply_thread})).meta.chat.thread is None


def test_links_for_public_groups_and_none_for_basic_groups() -> None:
    public = only(translate({"update_id": 14, "message": message(PUBLIC, SAM, "hi", 9)}))
    assert public.message.link == "https://t.me/opencircle/9"
    basic = only(translate({"update_id": 15, "message": message(BASIC, SAM, "hi", 9)}))
    assert basic.message.link is None and basic.meta.group == "telegram:-4123456"
    parsed = Update.de_json({"update_id": 1, "message": message(PUBLIC, SAM, "x")}, None)
    assert parsed.message is not None
    assert message_link(parsed.message.chat, 5, 2) == "https://t.me/opencircle/2/5"


def test_edits_captions_and_what_is_ignored() -> None:
    edited = message(SUPERGROUP, SAM, "/help me", edit_date=DATE + 60)
    event = only(translate({"update_id": 16, "edited_message": edited}))
    assert isinstance(event, MessageReceived) and event.edited and event.text == "/help me"
    assert event.meta.occurred_at == datetime.fromtimestamp(DATE + 60, UTC)
    photo = {"message_id": 17, "from": SAM, "chat": SUPERGROUP, "date": DATE,
             "photo": [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}],
             "caption": "my week"}
    assert only(translate({"update_id": 17, "message": photo})).text == "my week"
    sticker = {"message_id": 18, "from": SAM, "chat": SUPERGROUP, "date": DATE,
               "sticker": {"file_id": "s", "file_unique_id": "u", "type": "regular",
                           "width": 1, "height": 1, "is_animated": False, "is_video": False}}
    assert translate({"update_id": 18, "message": sticker}).events == ()
    other_bot = {"id": 555, "is_bot": True, "first_name": "Helper"}
    assert translate({"update_id": 19, "message": message(SUPERGROUP, other_bot, "hi")}).events == ()
    channel = {"id": -1007, "title": "News", "type": "channel"}
    assert translate({"update_id": 20, "message": message(channel, SAM, "x")}).events == ()


def test_anonymous_admin_and_late_messages() -> None:
    anonymous = {"id": ANONYMOUS_ADMIN_ID, "is_bot": True, "first_name": "Group",
                 "username": "GroupAnonymousBot"}
    payload = message(SUPERGROUP, anonymous, "/setup", sender_chat=SUPERGROUP)
    event = only(translate({"update_id": 21, "message": payload}))
    assert isinstance(event, CommandInvoked) and event.meta.sender_is_admin
    old = message(SUPERGROUP, SAM, "sent during downtime", date=DATE - 3600)
    assert only(translate({"update_id": 22, "message": old})).meta.late


def test_a_document_with_a_command_caption_asks_for_a_download() -> None:
    document: dict[str, Any] = {"message_id": 23, "from": DANA, "chat": SUPERGROUP, "date": DATE,
                "document": {"file_id": "BQAC1", "file_unique_id": "AgAD1",
                             "file_name": "lines.csv", "file_size": 120},
                "caption": "/resource import",
                "caption_entities": [{"type": "bot_command", "offset": 0, "length": 9}]}
    translation = translate({"update_id": 23, "message": document})
    event = only(translation)
    assert isinstance(event, CommandInvoked) and event.name == "resource"
    assert event.args == ("import",)
    assert translation.download is not None and translation.download.file_id == "BQAC1"
    assert translation.download.filename == "lines.csv"
    big = dict(document, document=dict(document["document"], file_size=5_000_000))
    assert translate({"update_id": 24, "message": big}).download is None


# -- members -------------------------------------------------------------------------------------
ADMIN_RIGHTS = dict.fromkeys((
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories"), True) | {"can_be_edited": False,
                                                          "is_anonymous": False}
HELD = dict.fromkeys((
    "can_send_messages", "can_change_info", "can_invite_users", "can_pin_messages",
    "can_send_polls", "can_send_other_messages", "can_add_web_page_previews", "can_manage_topics",
    "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos",
    "can_send_video_notes", "can_send_voice_notes", "can_edit_tag", "can_react_to_messages"),
    False) | {"until_date": 0}


def member(user: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    rights = ADMIN_RIGHTS if status == "administrator" else HELD if status == "restricted" else {}
    return {"status": status, "user": user, **rights, **extra}


def change(old: dict[str, Any], new: dict[str, Any], chat: dict[str, Any] = SUPERGROUP,
           **extra: Any) -> dict[str, Any]:
    return {"chat": chat, "from": DANA, "date": DATE, "old_chat_member": old,
            "new_chat_member": new, **extra}


def test_chat_member_transitions() -> None:
    joined = only(translate({"update_id": 30, "chat_member": change(
        member(SAM, "left"), member(SAM, "member"))}))
    assert isinstance(joined, MemberJoined) and not joined.join_request
    assert joined.meta.sender == UserRef("telegram", "1003")
    held = member(SAM, "restricted", is_member=True)
    released = translate({"update_id": 31, "chat_member": change(held, member(SAM, "member"))})
    assert released.events == ()
    left = only(translate({"update_id": 32, "chat_member": change(
        member(SAM, "member"), member(SAM, "kicked", until_date=0))}))
    assert isinstance(left, MemberLeft)
    promoted = translate({"update_id": 33, "chat_member": change(
        member(SAM, "member"), member(SAM, "administrator"))})
    assert promoted.events == () and promoted.admins_changed == SUPERGROUP["id"]


def test_the_bots_own_status() -> None:
    translation = translate({"update_id": 34, "my_chat_member": change(
        member(THE_BOT, "member"), member(THE_BOT, "administrator"))})
    assert translation.events == () and translation.bot_admin == (SUPERGROUP["id"], True)


def test_service_messages_count_only_when_no_chat_member_update_will_come() -> None:
    two = {"message_id": 40, "from": DANA, "chat": SUPERGROUP, "date": DATE,
           "new_chat_members": [SAM, ROBIN, THE_BOT]}
    events = translate({"update_id": 40, "message": two}).events
    assert [e.meta.event_id for e in events] == ["telegram:40:1003", "telegram:40:1004"]
    assert all(isinstance(e, MemberJoined) for e in events)
    assert translate({"update_id": 40, "message": two},
                     bot_is_admin=lambda chat: True).events == ()
    gone = {"message_id": 41, "from": SAM, "chat": SUPERGROUP, "date": DATE,
            "left_chat_member": SAM}
    assert isinstance(only(translate({"update_id": 41, "message": gone})), MemberLeft)
    assert translate({"update_id": 41, "message": gone}, bot_is_admin=lambda c: True).events == ()


def test_join_request() -> None:
    request = {"chat": SUPERGROUP, "from": ROBIN, "user_chat_id": 1004, "date": DATE,
               "bio": "mum of two"}
    event = only(translate({"update_id": 42, "chat_join_request": request}))
    assert isinstance(event, MemberJoined) and event.join_request
    assert event.meta.sender_language == "es" and event.meta.group == "telegram:-1001234567890"


def test_migration_to_a_supergroup() -> None:
    moved = {"message_id": 43, "from": DANA, "chat": BASIC, "date": DATE,
             "migrate_to_chat_id": -1004123456000}
    event = only(translate({"update_id": 43, "message": moved}))
    assert isinstance(event, GroupMigrated)
    assert event.meta.group == "telegram:-4123456"
    assert event.new_group == "telegram:-1004123456000"
    assert event.new_chat == ChatRef("telegram", "-1004123456000", "group")
    arrived = {"message_id": 1, "from": DANA, "date": DATE, "migrate_from_chat_id": -4123456,
               "chat": {"id": -1004123456000, "title": "Small group", "type": "supergroup"}}
    assert translate({"update_id": 44, "message": arrived}).events == ()


def test_callback_query() -> None:
    bot_message = {"message_id": 60, "from": THE_BOT, "chat": FORUM, "date": DATE,
                   "message_thread_id": 50, "is_topic_message": True, "text": "Mood?"}
    query = {"id": "4000000000007919", "from": ROBIN, "message": bot_message,
             "chat_instance": "17", "data": "mood:3"}
    event = only(translate({"update_id": 45, "callback_query": query}))
    assert isinstance(event, ButtonPressed) and event.payload == "mood:3"
    assert event.interaction == "4000000000007919"
    assert event.meta.chat.thread == "50" and event.meta.occurred_at == NOW
    assert event.message is not None and event.message.id == "60"
    game = dict(query, data=None, game_short_name="g")
    assert translate({"update_id": 46, "callback_query": game}).events == ()


# -- directory and actions -----------------------------------------------------------------------
def test_user_directory_learns_from_updates_and_forgets_the_oldest() -> None:
    directory = UserDirectory(capacity=2)
    directory.learn_update(Update.de_json({"update_id": 1, "message": message(
        SUPERGROUP, DANA, "hi", reply_to_message=message(SUPERGROUP, SAM, "x"))}, None))
    found = directory.by_username("@Sam_Parent")
    assert found == KnownUser(1003, "Sam", "sam_parent")
    directory.learn_update(Update.de_json({"update_id": 2, "message": message(
        SUPERGROUP, THE_BOT, "hi")}, None))
    assert directory.by_username("kindred_test_bot") is None  # bots are never "someone"
    directory.learn_update(Update.de_json({"update_id": 3, "chat_member": change(
        member(ROBIN, "left"), member(dict(ROBIN, username="robin_r"), "member"))}, None))
    assert directory.by_username("robin_r") is not None  # Dana (the actor) was seen again
    assert directory.by_username("sam_parent") is None  # the oldest, beyond capacity


def test_action_arguments() -> None:
    topic = ChatRef("telegram", "-1009876543210", "group", "50")
    assert target_kwargs(topic) == {"chat_id": -1009876543210, "message_thread_id": 50}
    assert target_kwargs(ChatRef("telegram", "1004", "direct")) == {"chat_id": 1004}
    text = text_kwargs("a <b> & c")
    assert text["text"] == "a &lt;b&gt; &amp; c" and text["parse_mode"] == "HTML"
    same_chat = reply_kwargs(topic, MessageRef(topic, "51"))
    assert same_chat["reply_parameters"].message_id == 51
    assert reply_kwargs(topic, MessageRef(ChatRef("telegram", "1", "direct"), "5")) == {}
    markup = keyboard(((Button(label="Good", payload="mood:5"),), (),
                       (Button(label="Skip", payload="mood:skip"),)))
    assert markup is not None
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [
        ["mood:5"], ["mood:skip"]]
    assert keyboard(()) is None
    assert keyboard(((Button(label="x", payload="é" * 32),),)) is not None  # 64 bytes
    with pytest.raises(PayloadTooLong):
        keyboard(((Button(label="x", payload="é" * 33),),))
