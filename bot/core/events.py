"""Inbound events: facts an adapter observed, named in the past tense.

Events carry string ids and no raw platform payload. Text fields are `repr=False`, so message
text never reaches a log line or a traceback through an event's repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core.identity import ChatRef, MessageRef, UserRef


@dataclass(frozen=True, slots=True, kw_only=True)
class EventMeta:
    """What every event has: who, where, when, and an id for de-duplication."""

    event_id: str  # adapter-unique, e.g. "telegram:update:1234"; redelivered events repeat it
    occurred_at: datetime  # timezone-aware UTC
    chat: ChatRef  # where a reply goes (with the forum topic, if any)
    sender: UserRef
    sender_name: str = field(default="", repr=False)
    group: str | None = None  # the support group's key; None in a private chat
    group_title: str = field(default="", repr=False)  # the group's name on the platform
    staff_only: bool = False  # a chat of the group that ordinary members cannot see
    sender_is_admin: bool = False  # platform admin of `group` (Telegram admin, Discord Manage Server)
    sender_language: str | None = None  # the platform's hint (Telegram language_code)
    late: bool = False  # caught up after downtime rather than seen live


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A small file sent with a message (a CSV to import), already downloaded by the adapter."""

    filename: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """A person named in a command's arguments, resolved by the adapter (`@dana`)."""

    token: str  # the argument as typed, e.g. "@dana"
    user: UserRef
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """A member wrote (or edited) a message the bot can read."""

    meta: EventMeta
    message: MessageRef
    text: str = field(repr=False)
    edited: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandInvoked:
    """A member used a command: `/name args` on Telegram and the console, a slash command on Discord."""

    meta: EventMeta
    name: str  # normalised: "checkin", not "/checkin@KindredBot"
    args: tuple[str, ...] = field(default=(), repr=False)
    message: MessageRef | None = None
    mentions: tuple[Mention, ...] = field(default=(), repr=False)
    attachment: Attachment | None = None
    interaction: str | None = None  # adapter token for a private (ephemeral) answer

    @property
    def text(self) -> str:
        """The arguments as one string, which the safety screen reads like a message."""
        return " ".join(self.args)


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined:
    """Someone joined a group, or asked to join one that holds new members."""

    meta: EventMeta
    join_request: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberLeft:
    """Someone left or was removed from a group."""

    meta: EventMeta


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonPressed:
    """Someone pressed a button the bot attached to a message."""

    meta: EventMeta
    payload: str  # the opaque value the core attached to the Button
    message: MessageRef | None = None
    interaction: str | None = None  # adapter token for a private (ephemeral) answer


@dataclass(frozen=True, slots=True, kw_only=True)
class FormSubmitted:
    """A facilitator filled in a form (a Discord modal): field name to value."""

    meta: EventMeta
    form: str
    values: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    interaction: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupMigrated:
    """A group chat changed its id (a Telegram group upgraded to a supergroup)."""

    meta: EventMeta  # meta.group is the old key
    new_group: str
    new_chat: ChatRef


InboundEvent = (
    MessageReceived | CommandInvoked | MemberJoined | MemberLeft | ButtonPressed | FormSubmitted
    | GroupMigrated
)
