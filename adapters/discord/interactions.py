"""The interactions Kindred may still answer: their state, their deadlines, and who can use them.

Discord wants a first answer to every interaction within 3 seconds, then allows follow-ups
for 15 minutes through the interaction's webhook. The core never sees a discord.Interaction:
it gets the interaction id as an opaque token, and its actions name that token when they answer.
This module only keeps the bookkeeping; `outbound.py` does the talking.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

import discord

from bot.core.identity import ChatRef

SlotKind = Literal["command", "component", "form"]
SlotState = Literal["new", "thinking", "updating", "answered", "modal", "finished", "lost"]

FIRST_ANSWER_WINDOW = 2.8  # Discord's limit is 3 s from its side; keep a margin for latency
FOLLOW_UP_WINDOW = 15 * 60 - 30  # interaction webhooks live 15 minutes
PUBLIC_REPLY_WINDOW = 60.0  # a command's public reply normally comes within a second
MAX_EPHEMERAL_TRACKED = 5000


@dataclass(eq=False)
class Slot:
    """One interaction and how far it has been answered.

    States: ``new`` (nothing sent yet), ``thinking`` (deferred with Discord's "is thinking…"),
    ``updating`` (a button press acknowledged without a message), ``answered`` (a message or an
    edit went out), ``modal`` (a form opened; no follow-ups possible), ``finished`` (a thinking
    placeholder removed), ``lost`` (Discord no longer knows it).
    """

    interaction: discord.Interaction[Any]
    kind: SlotKind
    chat: ChatRef
    message_id: int | None = None  # the message whose button was pressed
    received: float = field(default_factory=time.monotonic)
    state: SlotState = "new"
    replied: bool = False  # something the person can read was sent in answer
    handled_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    handled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def token(self) -> str:
        """The opaque token the core carries (the interaction id)."""
        return str(self.interaction.id)

    def can_answer_first(self, now: float | None = None) -> bool:
        """Whether the first answer (message, modal, defer, edit) can still be sent."""
        now = time.monotonic() if now is None else now
        return self.state == "new" and now - self.received < FIRST_ANSWER_WINDOW

    def can_follow_up(self, now: float | None = None) -> bool:
        """Whether follow-ups through the interaction webhook are still possible."""
        now = time.monotonic() if now is None else now
        return (self.state in ("thinking", "updating", "answered", "finished")
                and now - self.received < FOLLOW_UP_WINDOW)

    def mark_handled(self) -> None:
        """The core finished with the event (its replies are queued)."""
        self.handled_at = time.monotonic()
        self.handled.set()


class Interactions:
    """Open interactions by token, and ephemeral messages by id (they are edited through them)."""

    def __init__(self) -> None:
        self._slots: OrderedDict[str, Slot] = OrderedDict()
        self._ephemeral: OrderedDict[int, Slot] = OrderedDict()

    def open(self, interaction: discord.Interaction[Any], kind: SlotKind, chat: ChatRef,
             message_id: int | None = None) -> Slot:
        """Start tracking an interaction that just arrived."""
        self.prune()
        slot = Slot(interaction=interaction, kind=kind, chat=chat, message_id=message_id)
        self._slots[slot.token] = slot
        return slot

    def get(self, token: str | None) -> Slot | None:
        """The interaction a core action names, while Discord still accepts answers to it."""
        if token is None:
            return None
        slot = self._slots.get(token)
        if slot is None or time.monotonic() - slot.received >= FOLLOW_UP_WINDOW:
            return None
        return slot

    def for_component_message(self, message_id: int) -> Slot | None:
        """The newest unanswered button press on `message_id` (an edit can answer it)."""
        for slot in reversed(self._slots.values()):
            if slot.kind != "component" or slot.message_id != message_id:
                continue
            if slot.can_answer_first() or (slot.state == "updating" and slot.can_follow_up()):
                return slot
        return None

    def awaiting_public_reply(self, chat: ChatRef, token: str) -> Slot | None:
        """The handled command or form `token` names, in `chat`, if it has had no reply yet.

        Its public reply (a SendMessage naming it) is sent as the interaction's answer, so it
        shows under "… used /command" as Discord users expect. Only a reply that names it:
        a welcome or a check-in posted meanwhile in the channel must not take its place.
        """
        # Named by its token, the reply needs no wait for the core to finish with the event.
        slot = self._slots.get(token)
        if (slot is not None and slot.kind in ("command", "form") and slot.chat.id == chat.id
                and slot.state in ("new", "thinking") and not slot.replied
                and time.monotonic() - slot.received < PUBLIC_REPLY_WINDOW):
            return slot
        return None

    def remember_ephemeral(self, message_id: int, slot: Slot) -> None:
        """An ephemeral message went out through `slot`; edits to it must go the same way."""
        self._ephemeral[message_id] = slot
        while len(self._ephemeral) > MAX_EPHEMERAL_TRACKED:
            self._ephemeral.popitem(last=False)

    def ephemeral_owner(self, message_id: int) -> Slot | None:
        """The interaction through which an ephemeral message can still be edited."""
        slot = self._ephemeral.get(message_id)
        return slot if slot is not None and slot.can_follow_up() else None

    def is_live(self, token: str | None) -> bool:
        """Whether an answer naming `token` would go through the interaction webhook."""
        slot = self.get(token)
        return slot is not None and (slot.can_answer_first() or slot.can_follow_up())

    def prune(self) -> None:
        """Forget interactions Discord no longer accepts answers to."""
        now = time.monotonic()
        while self._slots:
            token, slot = next(iter(self._slots.items()))
            if now - slot.received < FOLLOW_UP_WINDOW:
                break
            del self._slots[token]
        stale = [mid for mid, slot in self._ephemeral.items()
                 if now - slot.received >= FOLLOW_UP_WINDOW]
        for mid in stale:
            del self._ephemeral[mid]

    def clear(self) -> None:
        """Forget everything (the client is closing)."""
        self._slots.clear()
        self._ephemeral.clear()

    def __len__(self) -> int:
        return len(self._slots)
