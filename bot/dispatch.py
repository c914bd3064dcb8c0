"""Routes one inbound event: safety screens first, then commands, buttons and other handlers.

Guarantees:
    * Every screen sees every message and command before any other handling; a screen's
      failure propagates (the adapter then does not confirm the event, so it comes again).
    * One handler failing never silences the others, and the person gets a short apology.
    * Every facilitator command refuses anyone else with a short, polite reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from bot.core.actions import Action
from bot.core.commands import CommandRegistry, CommandSpec, UsageError, parse_args
from bot.core.context import ButtonContext, CommandContext, FormContext, Situation
from bot.core.events import (
    ButtonPressed,
    CommandInvoked,
    EventMeta,
    FormSubmitted,
    InboundEvent,
    MemberLeft,
    MessageReceived,
)
from bot.core.i18n import N_, Translator
from bot.core.models import Group, Membership, Person
from bot.core.ports import Clock
from bot.core.roles import Role
from bot.groups.ports import GroupsStore

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")

StoreFactory = Callable[[], AbstractAsyncContextManager[GroupsStore]]


@dataclass(frozen=True, slots=True)
class ScreenOutcome:
    """What a safety screen decided: actions to deliver, and whether to stop routing."""

    actions: tuple[Action, ...] = ()
    halt: bool = False


class Screen(Protocol):
    """A safety check that runs before any other handling of a message or command."""

    async def screen(self, event: MessageReceived | CommandInvoked, situation: Situation) -> ScreenOutcome:
        """Assess the event; may act and may halt routing."""
        ...


ButtonHandler = Callable[[ButtonContext], Awaitable[Sequence[Action]]]
EventHandler = Callable[[InboundEvent, Situation], Awaitable[Sequence[Action]]]
FormHandler = Callable[[FormContext], Awaitable[Sequence[Action]]]

CONTEXT_CACHE_SECONDS = 5.0

ROLE_NAMES = {
    Role.MEMBER: N_("member"),
    Role.MODERATOR: N_("moderator"),
    Role.FACILITATOR: N_("facilitator"),
}


class Dispatcher:
    """Routes events to capability handlers and collects the actions they return."""

    def __init__(
        self,
        *,
        store: StoreFactory,
        translator: Translator,
        clock: Clock,
        default_language: str,
        commands: CommandRegistry | None = None,
    ) -> None:
        self._store = store
        self._tr = translator
        self._clock = clock
        self._default_language = default_language
        self.commands = commands or CommandRegistry()
        self._screens: list[Screen] = []
        self._buttons: dict[str, ButtonHandler] = {}
        self._forms: dict[str, FormHandler] = {}
        self._handlers: dict[type, list[EventHandler]] = {}
        self._groups: _TtlCache[str | None, tuple[Group | None]] = _TtlCache(
            seconds=CONTEXT_CACHE_SECONDS)

    # -- registration (bootstrap calls these) -------------------------------------------------
    def add_screen(self, screen: Screen) -> None:
        """Run `screen` on every message and command, before anything else."""
        self._screens.append(screen)

    def on_button(self, prefix: str, handler: ButtonHandler) -> None:
        """Route button payloads that start with `prefix:` to `handler`."""
        if prefix in self._buttons:
            raise ValueError(f"button prefix {prefix!r} registered twice")
        self._buttons[prefix] = handler

    def on_form(self, form: str, handler: FormHandler) -> None:
        """Route a submitted form to `handler`."""
        self._forms[form] = handler

    def on(self, event_type: type, handler: EventHandler) -> None:
        """Run `handler` for every event of `event_type` (after the screens)."""
        self._handlers.setdefault(event_type, []).append(handler)

    # -- handling ------------------------------------------------------------------------------
    async def handle(self, event: InboundEvent) -> list[Action]:
        """Screen, then route one event; returns the actions to deliver."""
        situation = await self.situation(event)
        actions: list[Action] = []
        if isinstance(event, MessageReceived | CommandInvoked):
            for screen in self._screens:
                outcome = await screen.screen(event, situation)
                actions += outcome.actions
                if outcome.halt:
                    return actions
        try:
            actions += await self._route(event, situation)
        except Exception:
            log.exception(
                "handler failed", extra={"event_type": type(event).__name__,
                                         "event_id": event.meta.event_id},
            )
            actions.append(situation.private(situation.t(
                "Sorry, something went wrong on my side. Please try again in a moment."
            ), interaction=getattr(event, "interaction", None)))
        return actions

    async def situation(self, event: InboundEvent) -> Situation:
        """Look up the group, the person, their role and language for `event`.

        Plain group messages, the bulk of the traffic, need only the group (for screening): it
        comes from a cache a few seconds old, and the person and their role are not looked up
        (handlers of such messages look up what they need). Commands, buttons, forms and
        anything in a private chat always read the database, so a role or a setting changed a
        moment ago applies to them at once.
        """
        meta = event.meta
        if (isinstance(event, MessageReceived) and meta.chat.kind == "group"
                and not meta.sender_is_admin):
            # Screening needs only the group: the person and their role are not looked up.
            cached = self._groups.get(meta.group)
            if cached is None:
                async with self._store() as store:
                    found = await store.groups.by_key(meta.group) if meta.group else None
                cached = (found,)
                self._groups.put(meta.group, cached)
            return self._situation(meta, cached[0], None, None, ())
        async with self._store() as store:
            group = await store.groups.by_key(meta.group) if meta.group else None
            person = await store.people.get(meta.sender)
            membership: Membership | None = None
            if group is not None and group.id is not None:
                membership = await store.memberships.get(group.id, meta.sender)
                membership = await self._note_admin(store, group, membership, event)
            staff: tuple[tuple[Group, Role], ...] = ()
            if meta.chat.kind == "direct":
                staff = tuple(await store.memberships.staff_groups(meta.sender))
                if person is None or not person.can_message:
                    # A private chat means we can reach them privately, in a crisis too.
                    person = replace(person, can_message=True) if person else Person(
                        user=meta.sender, display_name=meta.sender_name, can_message=True)
                    await store.people.save(person)
                    await store.commit()
        return self._situation(meta, group, person, membership, staff)

    def _situation(self, meta: EventMeta, group: Group | None, person: Person | None,
                   membership: Membership | None,
                   staff: tuple[tuple[Group, Role], ...]) -> Situation:
        if group is not None or meta.chat.kind == "group":
            role = membership.role if membership else Role.MEMBER
            if meta.sender_is_admin:
                role = Role.FACILITATOR
        else:
            role = max((r for _, r in staff), default=Role.MEMBER)
        if meta.chat.kind == "group" and group is not None:
            lang = group.language
        else:
            lang = (person.language if person and person.language else None) or (
                meta.sender_language and self._tr.normalise(meta.sender_language)
            ) or (staff[0][0].language if staff else self._default_language)
        return Situation(
            meta=meta, group=group, role=role, person=person, lang=self._tr.normalise(lang),
            tr=self._tr, now=self._clock.now(), staff_groups=staff,
        )

    async def _note_admin(
        self, store: GroupsStore, group: Group, membership: Membership | None, event: InboundEvent
    ) -> Membership | None:
        """Remember who the platform admins are, so alerts and DMs can reach them later."""
        meta = event.meta
        if meta.chat.kind != "group" or isinstance(event, MemberLeft) or group.id is None:
            return membership
        stored_admin = membership.is_platform_admin if membership else False
        # Events only ever raise the flag: an adapter that cannot check (an API error) says
        # False, and that must not demote a real admin. /setup refreshes the list from the
        # platform, which is where a demotion is noticed.
        if stored_admin or not meta.sender_is_admin:
            return membership
        if membership is None:
            membership = Membership(group_id=group.id, user=meta.sender,
                                    display_name=meta.sender_name)
        membership = Membership(
            group_id=group.id, user=meta.sender, display_name=meta.sender_name or
            membership.display_name, granted_role=membership.granted_role,
            is_platform_admin=meta.sender_is_admin, on_call=membership.on_call,
        )
        await store.memberships.save(membership)
        await store.commit()
        return membership

    async def _route(self, event: InboundEvent, situation: Situation) -> list[Action]:
        if isinstance(event, CommandInvoked):
            return await self._command(event, situation)
        if isinstance(event, ButtonPressed):
            prefix, *rest = event.payload.split(":")
            button_handler = self._buttons.get(prefix) if _plausible_payload(event.payload) else None
            if button_handler is None:
                return [situation.private(situation.t(
                    "That button is no longer active."), interaction=event.interaction)]
            context = ButtonContext(
                meta=event.meta, group=situation.group, role=situation.role,
                person=situation.person, lang=situation.lang, tr=situation.tr,
                now=situation.now, staff_groups=situation.staff_groups, event=event,
                parts=tuple(rest),
            )
            return list(await button_handler(context))
        if isinstance(event, FormSubmitted):
            form_handler = self._forms.get(event.form)
            if form_handler is None:
                return []
            form_context = FormContext(
                meta=event.meta, group=situation.group, role=situation.role,
                person=situation.person, lang=situation.lang, tr=situation.tr,
                now=situation.now, staff_groups=situation.staff_groups, event=event,
            )
            return list(await form_handler(form_context))
        actions: list[Action] = []
        for handler in self._handlers.get(type(event), ()):
            try:
                actions += await handler(event, situation)
            except Exception:  # one feature failing must not silence the others
                log.exception("event handler failed", extra={"event_type": type(event).__name__})
        return actions

    async def _command(self, event: CommandInvoked, situation: Situation) -> list[Action]:
        spec = self.commands.get(event.name)
        if spec is None or (spec.hidden and spec.handler is None):
            return [_answer(event, situation, situation.t(
                "I don't know the command /{name}. Send /help to see what I can do.",
                name=event.name[:32]))]
        args = event.args
        target = spec
        shown = spec.name
        if spec.subcommands:
            sub = spec.sub(args[0].lower()) if args else None
            if sub is None:
                return [_answer(event, situation, self.usage_line(spec, situation))]
            target, args, shown = sub, args[1:], f"{spec.name} {sub.name}"
        refusal = self._refusal(target, situation, shown)
        if refusal is not None:
            return [_answer(event, situation, refusal)]
        if target.where == "group" and situation.group is None:
            narrowed = _only_staff_group(situation, target.role)
            if narrowed is None:
                text = (situation.t("Please use this command in your group's chat.")
                        if not situation.in_group else situation.t(
                        "This group is not set up yet. A group admin can send /setup."))
                return [_answer(event, situation, text)]
            situation = _with_group(situation, narrowed)
        if target.where == "direct" and situation.in_group:
            return [_answer(event, situation, situation.t(
                "Please send this to me in a private chat."))]
        mentions: dict[str, object] = {m.token: m for m in event.mentions}
        try:
            parsed = parse_args(target, args, mentions)
        except UsageError:
            return [_answer(event, situation, self.usage_line(target, situation))]
        if target.handler is None:
            return [_answer(event, situation, self.usage_line(spec, situation))]
        context = CommandContext(
            meta=event.meta, group=situation.group, role=situation.role,
            person=situation.person, lang=situation.lang, tr=situation.tr, now=situation.now,
            staff_groups=situation.staff_groups, event=event, spec=target, args=parsed,
        )
        return list(await target.handler(context))

    def _refusal(self, spec: CommandSpec, situation: Situation, shown: str) -> str | None:
        if situation.role >= spec.role:
            return None
        needed = situation.t(ROLE_NAMES[spec.role])
        return situation.t(
            "Sorry, only a group {role} can use /{name}. If you need something changed, "
            "please ask one of your facilitators.", role=needed, name=shown)

    def usage_line(self, spec: CommandSpec, situation: Situation) -> str:
        """The one-line usage reply for `spec`."""
        return situation.t("Usage: {usage}", usage=situation.t(spec.usage))


class _TtlCache(Generic[K, V]):
    """A small time-limited map; cleared whole when it grows past its bound."""

    def __init__(self, *, seconds: float, bound: int = 50_000) -> None:
        self._seconds = seconds
        self._bound = bound
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        if len(self._items) >= self._bound:
            self._items.clear()
        self._items[key] = (time.monotonic() + self._seconds, value)


def _answer(event: CommandInvoked, situation: Situation, text: str) -> Action:
    if event.interaction is not None and situation.in_group:
        return situation.private(text, interaction=event.interaction)
    return situation.reply(text)


def _only_staff_group(situation: Situation, needed: Role) -> Group | None:
    if situation.in_group:
        return None
    candidates = [g for g, r in situation.staff_groups if r >= needed]
    return candidates[0] if len(candidates) == 1 else None


def _with_group(situation: Situation, group: Group) -> Situation:
    role = next(r for g, r in situation.staff_groups if g.id == group.id)
    return Situation(
        meta=situation.meta, group=group, role=role, person=situation.person,
        lang=situation.lang, tr=situation.tr, now=situation.now,
        staff_groups=situation.staff_groups,
    )


__all__ = ["Dispatcher", "Screen", "ScreenOutcome"]


MAX_PAYLOAD_CHARS = 100
MAX_PAYLOAD_NUMBER = 2**62


def _plausible_payload(payload: str) -> bool:
    """Whether a button payload could be one of ours: short ASCII, numbers that fit a column.

    Anything else was forged or garbled; it is answered like a stale button and never reaches a
    handler (Unicode digits such as '①' and numbers past 64 bits fail deep in parsing or SQL).
    """
    if len(payload) > MAX_PAYLOAD_CHARS or not payload.isascii():
        return False
    for part in payload.split(":"):
        try:
            number = int(part)
        except ValueError:
            continue
        if abs(number) > MAX_PAYLOAD_NUMBER:
            return False
    return True

