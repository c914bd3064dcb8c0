"""What a command handler or button handler is given: the event, who, where, and in what language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.actions import (
    Action,
    Button,
    Priority,
    SendMessage,
    SendPrivateReply,
)
from bot.core.commands import CommandSpec, ParsedArgs
from bot.core.events import ButtonPressed, CommandInvoked, EventMeta, FormSubmitted
from bot.core.i18n import Translator
from bot.core.models import Group, Person
from bot.core.roles import Role

MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns (32-bit on PostgreSQL)


@dataclass(frozen=True, slots=True, kw_only=True)
class Situation:
    """Who is acting, in which group, with which role, in which language."""

    meta: EventMeta
    group: Group | None
    role: Role
    person: Person | None
    lang: str
    tr: Translator
    now: datetime
    staff_groups: tuple[tuple[Group, Role], ...] = field(default=())

    @property
    def in_group(self) -> bool:
        """Whether the event happened in a group chat (not a private chat)."""
        return self.meta.chat.kind == "group"

    def t(self, msgid: str, **fields: object) -> str:
        """Translate into the situation's language."""
        return self.tr.tr(self.lang, msgid, **fields)

    def tn(self, singular: str, plural: str, n: int, **fields: object) -> str:
        """Translate with a plural form."""
        return self.tr.trn(self.lang, singular, plural, n, **fields)

    def reply(
        self,
        text: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
        *,
        priority: Priority = Priority.INTERACTIVE,
    ) -> SendMessage:
        """A message in the chat the event came from (in its forum topic or thread)."""
        return SendMessage(to=self.meta.chat, text=text, buttons=buttons, priority=priority,
                           answers=self.answering())

    def answering(self) -> str | None:
        """The adapter token of the command or form this situation answers, if any."""
        return None

    def private(
        self,
        text: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
        *,
        interaction: str | None = None,
    ) -> SendPrivateReply:
        """An answer only the actor sees."""
        return SendPrivateReply(
            to=self.meta.sender, chat=self.meta.chat, text=text, buttons=buttons,
            interaction=interaction,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandContext(Situation):
    """A command with its parsed arguments."""

    event: CommandInvoked
    spec: CommandSpec
    args: ParsedArgs

    def answering(self) -> str | None:
        """The command's interaction token: a public reply shows as its answer."""
        return self.event.interaction

    def answer(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Action:
        """Reply where the command was used; privately when it came with an interaction token."""
        if self.event.interaction is not None and self.in_group:
            return self.private(text, buttons, interaction=self.event.interaction)
        return self.reply(text, buttons)


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonContext(Situation):
    """A button press with its payload split on ':' (the first part names the capability)."""

    event: ButtonPressed
    parts: tuple[str, ...]

    def toast(self, text: str) -> SendPrivateReply:
        """A short private answer to the press."""
        return self.private(text, interaction=self.event.interaction)

    def id_at(self, index: int) -> int | None:
        """The stored record's id at `parts[index]`, or None when it cannot be one of ours.

        Only ASCII digits within the 32-bit id columns: a forged '①' or a 30-digit number must
        be answered like a stale button, not fail inside the database driver.
        """
        if index >= len(self.parts):
            return None
        text = self.parts[index]
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            return None
        number = int(text)
        return number if 0 < number <= MAX_ROW_ID else None


@dataclass(frozen=True, slots=True, kw_only=True)
class FormContext(Situation):
    """A submitted form."""

    event: FormSubmitted

    def answering(self) -> str | None:
        """The form's interaction token: a public reply shows as its answer."""
        return self.event.interaction


Reply = Sequence[Action]
