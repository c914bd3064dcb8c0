"""Pure translation: Telegram updates into core events, core actions into Bot API arguments.

Nothing here talks to the network or keeps state; whatever needs a lookup (who is an admin,
which user a `@username` names) is asked of the :class:`TranslateContext` the platform passes in.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram import (
    CallbackQuery,
    Chat,
    ChatJoinRequest,
    ChatMember,
    ChatMemberRestricted,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ParseMode

from adapters.telegram.render import escape
from bot.core.actions import Button
from bot.core.commands import CommandInfo
from bot.core.events import (
    ButtonPressed,
    CommandInvoked,
    EventMeta,
    GroupMigrated,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    Mention,
    MessageReceived,
)
from bot.core.identity import ChatKind, ChatRef, MessageRef, UserRef

PLATFORM = "telegram"
ANONYMOUS_ADMIN_ID = 1087968824
"""The user id Telegram puts in `from` for anonymous group administrators (GroupAnonymousBot)."""
MAX_CALLBACK_DATA_BYTES = 64
MAX_ATTACHMENT_BYTES = 1_000_000
LATE_AFTER = timedelta(minutes=5)

ALLOWED_UPDATES: tuple[str, ...] = (
    "message", "edited_message", "callback_query", "chat_member", "my_chat_member",
    "chat_join_request",
)

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")
_IN = (ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER)
_ADMIN = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


# -- looking things up ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KnownUser:
    """A Telegram user the adapter has seen."""

    id: int
    name: str
    username: str | None = None


class UserDirectory:
    """Users seen in updates, by username, so `/moderator add @sam` can be resolved.

    Telegram offers no lookup of a user by username, so only people the bot has seen since it
    started can be named that way (replying to their message always works).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._by_username: OrderedDict[str, KnownUser] = OrderedDict()
        self._capacity = capacity

    def learn(self, user: User | None) -> None:
        """Remember `user` (and forget the least recently seen beyond capacity)."""
        if user is None or not user.username or user.is_bot:
            return
        key = user.username.lower()
        self._by_username[key] = KnownUser(user.id, user.full_name, user.username)
        self._by_username.move_to_end(key)
        while len(self._by_username) > self._capacity:
            self._by_username.popitem(last=False)

    def learn_update(self, update: Update) -> None:
        """Remember every user an update names."""
        message = update.effective_message
        self.learn(update.effective_user)
        if isinstance(message, Message):
            for user in message.new_chat_members or ():
                self.learn(user)
            if message.reply_to_message is not None:
                self.learn(message.reply_to_message.from_user)
            for entity in message.entities or ():
                self.learn(entity.user)
        change = update.chat_member
        if change is not None:
            self.learn(change.new_chat_member.user)

    def by_username(self, username: str) -> KnownUser | None:
        """The user called `@username` (case-insensitive), if seen."""
        return self._by_username.get(username.lstrip("@").lower())


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslateContext:
    """What translation needs to know beyond the update itself."""

    bot_id: int
    bot_username: str
    now: datetime
    is_admin: Callable[[int, int], bool] = lambda chat_id, user_id: False
    bot_is_admin: Callable[[int], bool] = lambda chat_id: False
    resolve_username: Callable[[str], KnownUser | None] = lambda username: None
    commands: Mapping[str, CommandInfo] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Download:
    """A file to fetch before the command event is delivered (a CSV sent with a command)."""

    file_id: str
    filename: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Translation:
    """What one update means.

    Attributes:
        events: Core events, in order (usually one, none for updates the core has no use for).
        download: A file the platform must attach to the (single) CommandInvoked event.
        admins_changed: A chat whose administrator list changed (refresh the cache).
        bot_admin: (chat id, whether the bot is now an admin there) from `my_chat_member`.
    """

    events: tuple[InboundEvent, ...] = ()
    download: Download | None = None
    admins_changed: int | None = None
    bot_admin: tuple[int, bool] | None = None


# -- identities ----------------------------------------------------------------------------------
def group_key_of(chat_id: int) -> str:
    """The support-group key of a Telegram group chat."""
    return f"{PLATFORM}:{chat_id}"


def chat_id_of(key_or_id: str) -> int:
    """The Telegram chat id in a group key (`telegram:-100…`) or a ChatRef id."""
    return int(key_or_id.rpartition(":")[2])


def is_group_chat(chat: Chat) -> bool:
    """Groups and supergroups (channels and private chats are not)."""
    return chat.type in (Chat.GROUP, Chat.SUPERGROUP)


def chat_ref(chat: Chat, thread: int | None = None) -> ChatRef:
    """A ChatRef for a Telegram chat (and forum topic)."""
    kind: ChatKind = "direct" if chat.type == Chat.PRIVATE else "group"
    return ChatRef(PLATFORM, str(chat.id), kind, str(thread) if thread else None)


def topic_of(message: Message) -> int | None:
    """The forum topic a message is in, or None (replies in non-forum chats are not topics)."""
    if message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return None


def message_link(chat: Chat, message_id: int, thread: int | None = None) -> str | None:
    """A t.me link to a message: public groups by username, private supergroups by /c/ id."""
    middle = f"{thread}/" if thread else ""
    if chat.username and chat.type != Chat.PRIVATE:
        return f"https://t.me/{chat.username}/{middle}{message_id}"
    text_id = str(chat.id)
    if chat.type in (Chat.SUPERGROUP, Chat.CHANNEL) and text_id.startswith("-100"):
        return f"https://t.me/c/{text_id[4:]}/{middle}{message_id}"
    return None


def message_ref(message: Message) -> MessageRef:
    """A MessageRef for a Telegram message, with its link when it has one."""
    thread = topic_of(message)
    return MessageRef(chat_ref(message.chat, thread), str(message.message_id),
                      message_link(message.chat, message.message_id, thread))


def user_ref(user: User) -> UserRef:
    """A UserRef for a Telegram user."""
    return UserRef(PLATFORM, str(user.id))


# -- updates → events ----------------------------------------------------------------------------
def translate_update(update: Update, ctx: TranslateContext) -> Translation:
    """Translate one update into core events (pure: every lookup goes through `ctx`).

    Args:
        update: A parsed Bot API update.
        ctx: The bot's identity, lookups and the current time.

    Returns:
        The events and side information; an empty Translation for updates of no use.
    """
    base = f"{PLATFORM}:{update.update_id}"
    if update.message is not None:
        return _message(update.message, base, ctx, edited=False)
    if update.edited_message is not None:
        return _message(update.edited_message, base, ctx, edited=True)
    if update.callback_query is not None:
        return _callback(update.callback_query, base, ctx)
    if update.chat_member is not None:
        return _member_change(update.chat_member, base, ctx)
    if update.my_chat_member is not None:
        change = update.my_chat_member
        return Translation(bot_admin=(change.chat.id,
                                      change.new_chat_member.status in _ADMIN))
    if update.chat_join_request is not None:
        return _join_request(update.chat_join_request, base, ctx)
    return Translation()


def _meta(event_id: str, *, chat: Chat, thread: int | None, user: User, occurred_at: datetime,
          ctx: TranslateContext, admin: bool | None = None) -> EventMeta:
    group = group_key_of(chat.id) if is_group_chat(chat) else None
    if admin is None:
        admin = group is not None and ctx.is_admin(chat.id, user.id)
    return EventMeta(
        event_id=event_id, occurred_at=occurred_at, chat=chat_ref(chat, thread),
        sender=user_ref(user), sender_name=user.full_name, group=group,
        group_title=(chat.title or "") if group else "", sender_is_admin=admin,
        sender_language=user.language_code,
        late=ctx.now - occurred_at > LATE_AFTER,
    )


def _numbered(base: str, events: Sequence[tuple[str, Any]]) -> list[str]:
    """Event ids: the update's own id, suffixed by the user when one update gives several."""
    if len(events) == 1:
        return [base]
    return [f"{base}:{suffix}" for suffix, _ in events]


def _message(message: Message, base: str, ctx: TranslateContext, *, edited: bool) -> Translation:
    chat = message.chat
    if chat.type == Chat.CHANNEL:
        return Translation()
    occurred = (message.edit_date if edited and message.edit_date else message.date)
    if message.migrate_to_chat_id:
        actor = message.from_user or User(ctx.bot_id, "Kindred", is_bot=True)
        meta = _meta(base, chat=chat, thread=None, user=actor, occurred_at=occurred, ctx=ctx,
                     admin=True)
        new_chat = ChatRef(PLATFORM, str(message.migrate_to_chat_id), "group")
        return Translation(events=(GroupMigrated(meta=meta,
                                                 new_group=group_key_of(message.migrate_to_chat_id),
                                                 new_chat=new_chat),))
    if message.new_chat_members:
        return _service_joins(message, base, ctx)
    if message.left_chat_member is not None:
        return _service_leave(message, base, ctx)
    sender = message.from_user
    if sender is None or message.is_automatic_forward:
        return Translation()
    anonymous_admin = (sender.id == ANONYMOUS_ADMIN_ID and message.sender_chat is not None
                       and message.sender_chat.id == chat.id)
    if sender.is_bot and not anonymous_admin:
        return Translation()
    text = message.text if message.text is not None else message.caption
    if text is None:
        return Translation()
    entities = message.entities if message.text is not None else message.caption_entities
    meta = _meta(base, chat=chat, thread=topic_of(message), user=sender, occurred_at=occurred,
                 ctx=ctx, admin=True if anonymous_admin else None)
    ref = message_ref(message)
    if not edited:
        command = _command(message, text, entities, meta, ref, ctx)
        if command is not None:
            return command
    return Translation(events=(MessageReceived(meta=meta, message=ref, text=text, edited=edited),))


def _command(message: Message, text: str, entities: Sequence[MessageEntity], meta: EventMeta,
             ref: MessageRef, ctx: TranslateContext) -> Translation | None:
    match = _COMMAND.match(text)
    if match is None:
        return None
    target = match.group(2)
    if target is not None and target.lower() != ctx.bot_username.lower():
        return None  # addressed to another bot: only screened, as an ordinary message
    name = match.group(1).lower()
    args, mentions = _arguments(text, match.end(), entities, ctx)
    reply = message.reply_to_message
    author = reply.from_user if reply is not None else None
    if (reply is not None and author is not None and not author.is_bot
            and reply.forum_topic_created is None
            and reply.message_id != message.message_thread_id):
        token = "@" + (author.username or author.first_name)
        if all(m.token != token for m in mentions):
            mentions.append(Mention(token=token, user=user_ref(author), name=author.full_name))
        if _wants_user(ctx.commands.get(name), args, mentions):
            args.append(token)
    download: Download | None = None
    document = message.document
    if document is not None and (document.file_size or 0) <= MAX_ATTACHMENT_BYTES:
        download = Download(document.file_id, document.file_name or "attachment",
                            document.file_size)
    event = CommandInvoked(meta=meta, name=name, args=tuple(args), message=ref,
                           mentions=tuple(mentions))
    return Translation(events=(event,), download=download)


def _arguments(text: str, start: int, entities: Sequence[MessageEntity],
               ctx: TranslateContext) -> tuple[list[str], list[Mention]]:
    """Split on whitespace, keeping a text mention ("Dana Smith" linked to a user) as one token."""
    spans: dict[int, tuple[int, User]] = {}
    for entity in entities:
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            begin = _python_index(text, entity.offset)
            spans[begin] = (_python_index(text, entity.offset + entity.length), entity.user)
    args: list[str] = []
    mentions: list[Mention] = []
    index = start
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        if index in spans:
            end, user = spans[index]
            token = text[index:end].strip()
            mentions.append(Mention(token=token, user=user_ref(user), name=user.full_name))
        else:
            end = index
            while end < len(text) and not text[end].isspace():
                end += 1
            token = text[index:end]
            if token.startswith("@") and len(token) > 1:
                known = ctx.resolve_username(token[1:])
                if known is not None:
                    mentions.append(Mention(token=token, user=UserRef(PLATFORM, str(known.id)),
                                            name=known.name))
        args.append(token)
        index = max(end, index + 1)
    return args, mentions


def _wants_user(info: CommandInfo | None, args: Sequence[str], mentions: Sequence[Mention]) -> bool:
    """Whether the command takes a person and none was named (so a reply's author is meant)."""
    if info is None:
        return False
    params, rest = info.params, list(args)
    if info.subcommands:
        sub = next((s for s in info.subcommands if rest and s.name == rest[0].lower()), None)
        if sub is None:
            return False
        params, rest = sub.params, rest[1:]
    if not any(p.kind == "user" for p in params):
        return False
    tokens = {m.token for m in mentions}
    return not any(arg in tokens or arg.startswith("@") for arg in rest)


def _python_index(text: str, utf16_offset: int) -> int:
    """The index in `text` of a UTF-16 offset (Telegram counts entities in UTF-16 units)."""
    units = 0
    for index, ch in enumerate(text):
        if units >= utf16_offset:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def _service_joins(message: Message, base: str, ctx: TranslateContext) -> Translation:
    chat = message.chat
    if not is_group_chat(chat) or ctx.bot_is_admin(chat.id):
        # An admin bot also gets a chat_member update for the same join: that one counts.
        return Translation()
    joined = [u for u in message.new_chat_members if not u.is_bot]
    ids = _numbered(base, [(str(u.id), u) for u in joined])
    return Translation(events=tuple(
        MemberJoined(meta=_meta(event_id, chat=chat, thread=None, user=user,
                                occurred_at=message.date, ctx=ctx))
        for event_id, user in zip(ids, joined, strict=True)))


def _service_leave(message: Message, base: str, ctx: TranslateContext) -> Translation:
    chat = message.chat
    user = message.left_chat_member
    if user is None or user.is_bot or not is_group_chat(chat) or ctx.bot_is_admin(chat.id):
        return Translation()
    return Translation(events=(MemberLeft(meta=_meta(base, chat=chat, thread=None, user=user,
                                                     occurred_at=message.date, ctx=ctx)),))


def _is_in(member: ChatMember) -> bool:
    if member.status in _IN:
        return True
    return isinstance(member, ChatMemberRestricted) and member.is_member


def _member_change(change: ChatMemberUpdated, base: str, ctx: TranslateContext) -> Translation:
    old, new = change.old_chat_member, change.new_chat_member
    admins_changed = change.chat.id if (old.status in _ADMIN or new.status in _ADMIN) and (
        old.status != new.status or old != new) else None
    user = new.user
    if user.is_bot or not is_group_chat(change.chat):
        return Translation(admins_changed=admins_changed)
    was_in, now_in = _is_in(old), _is_in(new)
    meta = _meta(base, chat=change.chat, thread=None, user=user, occurred_at=change.date, ctx=ctx,
                 admin=new.status in _ADMIN)
    if now_in and not was_in:
        return Translation(events=(MemberJoined(meta=meta),), admins_changed=admins_changed)
    if was_in and not now_in:
        return Translation(events=(MemberLeft(meta=meta),), admins_changed=admins_changed)
    return Translation(admins_changed=admins_changed)


def _join_request(request: ChatJoinRequest, base: str, ctx: TranslateContext) -> Translation:
    if not is_group_chat(request.chat):
        return Translation()
    meta = _meta(base, chat=request.chat, thread=None, user=request.from_user,
                 occurred_at=request.date, ctx=ctx, admin=False)
    return Translation(events=(MemberJoined(meta=meta, join_request=True),))


def _callback(query: CallbackQuery, base: str, ctx: TranslateContext) -> Translation:
    message = query.message
    if query.data is None or message is None:
        return Translation()  # inline-mode and game buttons: the bot sends neither
    thread = topic_of(message) if isinstance(message, Message) else None
    chat = message.chat
    ref = MessageRef(chat_ref(chat, thread), str(message.message_id),
                     message_link(chat, message.message_id, thread))
    meta = _meta(base, chat=chat, thread=thread, user=query.from_user, occurred_at=ctx.now,
                 ctx=ctx)
    return Translation(events=(ButtonPressed(meta=meta, payload=query.data, message=ref,
                                             interaction=query.id),))


# -- actions → Bot API arguments -----------------------------------------------------------------
class PayloadTooLong(ValueError):
    """A button payload exceeds Telegram's 64-byte callback data."""


def keyboard(buttons: Sequence[Sequence[Button]],
             bot_username: str = "") -> InlineKeyboardMarkup | None:
    """An inline keyboard from rows of buttons; None when there are none.

    Raises:
        PayloadTooLong: A payload is over 64 bytes (the core promises at most 60).
    """
    rows = [row for row in buttons if row]
    if not rows:
        return None
    for row in rows:
        for button in row:
            if not 1 <= len(button.payload.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                raise PayloadTooLong(f"button payload of {len(button.payload)} characters")
    return InlineKeyboardMarkup([[_button(b, bot_username) for b in row] for row in rows])


def _button(button: Button, bot_username: str) -> InlineKeyboardButton:
    label = button.label[:64] or "·"
    if button.private_start and bot_username and re.fullmatch(r"[A-Za-z0-9_-]{1,64}",
                                                               button.private_start):
        # A deep link: the member lands in the private chat, where /start carries the payload.
        return InlineKeyboardButton(label, url=f"https://t.me/{bot_username}?start="
                                               f"{button.private_start}")
    return InlineKeyboardButton(label, callback_data=button.payload)


def target_kwargs(chat: ChatRef) -> dict[str, Any]:
    """Where to send: the chat id and, for a forum topic, its thread."""
    kwargs: dict[str, Any] = {"chat_id": chat_id_of(chat.id)}
    if chat.thread:
        kwargs["message_thread_id"] = int(chat.thread)
    return kwargs


def text_kwargs(part: str) -> dict[str, Any]:
    """One part of a text: escaped for HTML, without link previews (lists of links stay short)."""
    return {"text": escape(part), "parse_mode": ParseMode.HTML,
            "link_preview_options": LinkPreviewOptions(is_disabled=True)}


def reply_kwargs(chat: ChatRef, reply_to: MessageRef | None) -> dict[str, Any]:
    """Reply to `reply_to` when it is in the same chat; sent anyway if it was deleted."""
    if reply_to is None or reply_to.chat.id != chat.id:
        return {}
    return {"reply_parameters": ReplyParameters(message_id=int(reply_to.id),
                                                allow_sending_without_reply=True)}


def sent_ref(message: Message, fallback: ChatRef) -> MessageRef:
    """The MessageRef of a message the bot sent (kept in the ChatRef it was sent to)."""
    thread = topic_of(message)
    chat = ChatRef(PLATFORM, str(message.chat.id), fallback.kind,
                   str(thread) if thread else fallback.thread)
    return MessageRef(chat, str(message.message_id),
                      message_link(message.chat, message.message_id, thread))
