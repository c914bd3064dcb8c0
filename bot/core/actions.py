"""Outbound actions: what the core asks a platform to do, named as imperatives.

Grow by adding action types, never by adding parameters to the Platform protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from bot.core.identity import ChatRef, MessageRef, UserRef


class Priority(IntEnum):
    """Lower goes first. Alerts jump ahead of every other queued message."""

    ALERT = 0
    SAFETY_REPLY = 1
    INTERACTIVE = 5
    BULK = 9


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    """A button; `payload` comes back in ButtonPressed (at most 60 ASCII bytes).

    `private_start`, when set, asks platforms that can open a private chat with the bot from a
    button (Telegram deep links, `t.me/<bot>?start=...`) to do that instead, carrying this
    value to `/start`; other platforms send `payload` as usual.
    """

    label: str
    payload: str
    private_start: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """A picture to send with a message (a report chart)."""

    filename: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class FormField:
    """One field of a Form."""

    name: str
    label: str
    long: bool = False
    value: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessage:
    """Post in a chat (group, channel, or the private chat `to` names)."""

    to: ChatRef
    text: str = field(repr=False)
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of buttons
    reply_to: MessageRef | None = None
    image: Image | None = None
    priority: Priority = Priority.INTERACTIVE
    # The adapter token of the command this message answers in public (a Discord slash command
    # shows its answer under "… used /command"); None for anything else posted in the chat.
    answers: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendDirect:
    """Write to one person privately; where that is impossible, post `fallback_text` in `fallback`."""

    to: UserRef
    text: str = field(repr=False)
    buttons: tuple[tuple[Button, ...], ...] = ()
    image: Image | None = None
    fallback: ChatRef | None = None
    fallback_text: str = field(default="", repr=False)
    priority: Priority = Priority.INTERACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class SendPrivateReply:
    """Answer one person so only they see it: an ephemeral reply, a button toast, or a DM."""

    to: UserRef
    chat: ChatRef
    text: str = field(repr=False)
    interaction: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    priority: Priority = Priority.INTERACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class EditMessage:
    """Change the text (and buttons) of a message the bot sent."""

    message: MessageRef
    text: str = field(repr=False)
    buttons: tuple[tuple[Button, ...], ...] = ()
    priority: Priority = Priority.INTERACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowForm:
    """Ask for several fields at once (a Discord modal); other platforms ask one field at a time."""

    to: UserRef
    chat: ChatRef
    form: str
    title: str
    fields: tuple[FormField, ...]
    interaction: str | None = None
    priority: Priority = Priority.INTERACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproveJoin:
    """Let a held member into the group (Telegram join request, Discord hold role)."""

    group: str
    user: UserRef
    priority: Priority = Priority.INTERACTIVE


Action = SendMessage | SendDirect | SendPrivateReply | EditMessage | ShowForm | ApproveJoin


def platform_of_action(action: Action) -> str:
    """Which platform performs `action`."""
    if isinstance(action, SendMessage):
        return action.to.platform
    if isinstance(action, EditMessage):
        return action.message.chat.platform
    if isinstance(action, ApproveJoin):
        return action.user.platform
    return action.to.platform


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a platform reports back after performing an action."""

    message: MessageRef | None = None
    via_fallback: bool = False
