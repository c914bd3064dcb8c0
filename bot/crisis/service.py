"""Crisis screening and closed-loop escalation to facilitators (SPEC.md "Crisis escalation").

Guarantees:
    * Every message and command text is assessed before any other handling.
    * An escalation and every delivery it needs (the member's reply, each alert) are committed in
      one transaction before anything is sent; the outbox then delivers them, across restarts.
    * A message seen twice (a platform redelivery) never opens or joins an escalation twice.
    * Further crisis messages from the same member in the same group within 30 minutes join the
      open escalation instead of paging again (a rise to severity 3 pages again, once).
    * Unacknowledged alerts are re-sent up to six times, then the member is told honestly.
    * Every state change is audited: who, what, when.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.actions import Action, Button, Priority, SendDirect, SendMessage
from bot.core.commands import CommandSpec, Param
from bot.core.context import ButtonContext, CommandContext, Situation
from bot.core.events import CommandInvoked, MessageReceived
from bot.core.i18n import N_, Translator
from bot.core.identity import ChatRef, UserRef
from bot.core.models import Group
from bot.core.ports import Clock
from bot.core.roles import Role
from bot.crisis import texts
from bot.crisis.detector import Detector, GroupTerms
from bot.crisis.model import FALSE_ALARM, RESOLVED, Escalation, NewEscalation
from bot.crisis.ports import CrisisStore
from bot.dispatch import ScreenOutcome
from bot.metrics import Metrics
from bot.outbox import NewDelivery, add_all
from bot.resources.model import Resource
from bot.resources.search import crisis_lines

log = logging.getLogger(__name__)

StoreFactory = Callable[[], AbstractAsyncContextManager[CrisisStore]]

JOIN_WINDOW = timedelta(minutes=30)
MAX_REMINDERS = 6
EXCERPT_RETENTION = timedelta(days=30)
DIGEST_LOCAL_HOUR = 19
TERMS_CACHE_SECONDS = 60.0
MAX_TERM_CHARS = 100


@dataclass(frozen=True, slots=True)
class Target:
    """Where one alert goes: a subscribed chat, or a staff member's private chat."""

    key: str
    chat: ChatRef | None = None
    user: UserRef | None = None

    def action(self, text: str, priority: Priority,
               buttons: tuple[tuple[Button, ...], ...] = ()) -> Action:
        """The message to this target: a post in the chat, or a private message."""
        if self.chat is not None:
            return SendMessage(to=self.chat, text=text, buttons=buttons, priority=priority)
        assert self.user is not None
        return SendDirect(to=self.user, text=text, buttons=buttons, priority=priority)


class CrisisService:
    """Screens every message and runs escalations to their end."""

    def __init__(
        self,
        *,
        store: StoreFactory,
        detector: Detector,
        resources: Sequence[Resource],
        translator: Translator,
        clock: Clock,
        renotify_minutes: float,
        default_region: str,
        poke_outbox: Callable[[], None],
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._detector = detector
        self._resources = resources  # a live view: the directory changes while we run
        self._tr = translator
        self._clock = clock
        self._renotify = timedelta(minutes=renotify_minutes)
        self._default_region = default_region
        self._poke = poke_outbox
        self._metrics = metrics
        self._terms: dict[int, tuple[float, GroupTerms | None]] = {}

    # -- commands ----------------------------------------------------------------------------
    def commands(self) -> list[CommandSpec]:
        """The commands this capability owns."""
        term = Param(name="term", kind="rest")
        ident = Param(name="id", kind="int", minimum=1, maximum=2**62)
        return [
            CommandSpec(
                name="sos",
                role=Role.MEMBER,
                usage=N_("/sos"),
                summary=N_("tell a facilitator at once that you need help"),
                handler=self.sos,
            ),
            CommandSpec(
                name="escalations",
                role=Role.MODERATOR,
                usage=N_("/escalations"),
                summary=N_("the open crisis alerts of your groups"),
                handler=self.list_open,
            ),
            CommandSpec(
                name="ack",
                role=Role.MODERATOR,
                usage=N_("/ack ID"),
                summary=N_("say you are on a crisis alert"),
                params=(ident,),
                handler=self.ack_command,
            ),
            CommandSpec(
                name="resolve",
                role=Role.MODERATOR,
                usage=N_("/resolve ID [note]"),
                summary=N_("close a crisis alert"),
                params=(ident, Param(name="note", kind="rest", optional=True)),
                handler=self.resolve_command,
            ),
            CommandSpec(
                name="keywords",
                role=Role.FACILITATOR,
                usage=N_("/keywords add|remove|list"),
                summary=N_("words this group's crisis screening also watches for"),
                where="group",
                subcommands=(
                    CommandSpec(
                        name="add",
                        role=Role.FACILITATOR,
                        where="group",
                        usage=N_("/keywords add TERM"),
                        summary="",
                        params=(term,),
                        handler=self.add_term,
                    ),
                    CommandSpec(
                        name="remove",
                        role=Role.FACILITATOR,
                        where="group",
                        usage=N_("/keywords remove TERM"),
                        summary="",
                        params=(term,),
                        handler=self.remove_term,
                    ),
                    CommandSpec(
                        name="list",
                        role=Role.FACILITATOR,
                        where="group",
                        usage=N_("/keywords list"),
                        summary="",
                        handler=self.list_terms,
                    ),
                ),
            ),
        ]

    # -- the screen --------------------------------------------------------------------------
    async def screen(self, event: MessageReceived | CommandInvoked, situation: Situation) -> ScreenOutcome:
        """Assess one message or command text; escalate at severity 2 and 3."""
        text = event.text
        if not text.strip() or (isinstance(event, CommandInvoked) and event.name == "sos"):
            return ScreenOutcome()
        group = situation.group
        terms = await self._group_terms(group.id) if group and group.id is not None else None
        assessment = self._detector.assess(text, terms)
        if self._metrics is not None:
            self._metrics.messages_screened.inc()
        if assessment.severity <= 0:
            return ScreenOutcome()
        if assessment.severity == 1:
            if group is not None and group.id is not None:
                await self.record_concern(
                    group.id, event.meta.sender, event.meta.sender_name, assessment.reason, "message"
                )
            return ScreenOutcome()
        message = event.message
        await self.escalate(
            situation,
            severity=assessment.severity,
            about=assessment.about,
            reason=assessment.reason,
            excerpt=texts.excerpt_of(text),
            message_key=f"{message.chat.key}:{message.id}" if message else event.meta.event_id,
            link=message.link if message else None,
        )
        return ScreenOutcome()

    async def escalate(
        self,
        situation: Situation,
        *,
        severity: int,
        about: str,
        reason: str,
        excerpt: str,
        message_key: str,
        link: str | None,
    ) -> Escalation | None:
        """Open (or join) an escalation and commit every delivery it needs."""
        meta, group, now = situation.meta, situation.group, situation.now
        group_id = group.id if group else None
        async with self._store() as store:
            if await store.escalations.message_seen(message_key):
                return None
            active = await store.escalations.active_for(group_id, meta.sender, now - JOIN_WINDOW)
            if active is not None:
                await self._join(
                    store,
                    active,
                    severity,
                    message_key,
                    now,
                    group,
                    about=about,
                    reason=reason,
                    excerpt=excerpt,
                )
                await store.commit()
                self._poke()
                return active
            targets = await self._targets(store, group)
            escalation = await store.escalations.open(
                NewEscalation(
                    group_id=group_id,
                    subject=meta.sender,
                    subject_name=meta.sender_name,
                    severity=severity,
                    about=about,
                    reason=reason,
                    at=now,
                    chat=meta.chat,
                    message_link=link,
                    excerpt=excerpt,
                    late=meta.late,
                    next_renotify_at=now + self._interval(severity) if targets else None,
                )
            )
            await store.escalations.add_message(escalation.id, message_key, severity, now)
            person = await store.people.get(meta.sender)
            member_lang = person.language if person and person.language else situation.lang
            deliveries = [self._member_delivery(escalation, group, member_lang, staff_told=bool(targets))]
            deliveries += self._alerts(escalation, group, targets, step="open")
            await add_all(store, deliveries, now)
            await store.audit.record(
                at=now,
                actor=None,
                action="escalation.opened",
                subject=f"escalation:{escalation.id}",
                group_id=group_id,
                detail=f"severity={severity} reason={reason} about={about} recipients={len(targets)}",
            )
            await store.commit()
        if not targets:
            log.warning(
                "escalation has no reachable staff",
                extra={"escalation_id": escalation.id, "group_id": group_id},
            )
        if self._metrics is not None:
            self._metrics.escalations_opened.labels(severity=str(severity)).inc()
        log.info(
            "escalation opened",
            extra={"escalation_id": escalation.id, "severity": severity, "reason": reason},
        )
        self._poke()
        return escalation

    async def _join(
        self,
        store: CrisisStore,
        active: Escalation,
        severity: int,
        message_key: str,
        now: datetime,
        group: Group | None,
        *,
        about: str,
        reason: str,
        excerpt: str,
    ) -> None:
        await store.escalations.join(
            active.id, at=now, severity=severity, about=about, reason=reason, excerpt=excerpt
        )
        await store.escalations.add_message(active.id, message_key, severity, now)
        await store.audit.record(
            at=now,
            actor=None,
            action="escalation.joined",
            subject=f"escalation:{active.id}",
            group_id=active.group_id,
            detail=f"severity={severity}",
        )
        if severity > active.severity and severity >= 3:
            raised = await store.escalations.get(active.id)
            assert raised is not None
            targets = await self._targets(store, group)
            await add_all(store, self._alerts(raised, group, targets, step="raised3", raised=True), now)
            await store.audit.record(
                at=now,
                actor=None,
                action="escalation.raised",
                subject=f"escalation:{active.id}",
                group_id=active.group_id,
                detail="severity=3",
            )

    # -- who gets alerts ---------------------------------------------------------------------
    async def _targets(self, store: CrisisStore, group: Group | None) -> list[Target]:
        if group is None or group.id is None:
            return []
        staff = [m for m in await store.memberships.staff(group.id) if m.role >= Role.MODERATOR]
        on_duty = [m for m in staff if m.on_call]
        pool = on_duty or staff
        targets: dict[str, Target] = {}
        subscriptions = await store.alert_subscriptions.for_subscribers([m.user for m in staff])
        subscribed_privately = set()
        for subscription in subscriptions:
            targets.setdefault(
                subscription.chat.key, Target(key=subscription.chat.key, chat=subscription.chat)
            )
            if subscription.chat.kind == "direct":
                subscribed_privately.add(subscription.subscriber.key)
        people = await store.people.get_many([m.user for m in pool])
        for member in pool:
            if member.user.key in subscribed_privately:
                continue
            person = people.get(member.user.key)
            if person is not None and person.can_message:
                targets.setdefault(
                    f"user:{member.user.key}", Target(key=f"user:{member.user.key}", user=member.user)
                )
        return list(targets.values())

    def _alerts(
        self,
        escalation: Escalation,
        group: Group | None,
        targets: list[Target],
        *,
        step: str,
        reminder: int = 0,
        raised: bool = False,
    ) -> list[NewDelivery]:
        lang = group.language if group else "en"
        title = group.title if group else ""
        text = texts.alert_text(
            self._tr, lang, escalation, group_title=title, reminder=reminder, raised=raised
        )
        buttons = texts.alert_buttons(self._tr, lang, escalation.id)
        deliveries = []
        for target in targets:
            action = target.action(text, Priority.ALERT, buttons)
            deliveries.append(
                NewDelivery(
                    dedupe_key=f"esc:{escalation.id}:{step}:{target.key}",
                    action=action,
                    escalation_id=escalation.id,
                    recipient=target.key,
                )
            )
        return deliveries

    def _lines(self, group: Group | None, lang: str, imminent: bool) -> list[Resource]:
        region = group.region if group else self._default_region
        visible = [r for r in self._resources if r.visible_to(group.key if group else None)]
        return crisis_lines(visible, country=region, language=lang, imminent=imminent, limit=4)

    def _member_delivery(
        self, escalation: Escalation, group: Group | None, lang: str, *, staff_told: bool
    ) -> NewDelivery:
        lines = self._lines(group, lang, escalation.severity >= 3)
        text = texts.member_reply(
            self._tr,
            lang,
            name=escalation.subject_name,
            severity=escalation.severity,
            lines=lines,
            staff_told=staff_told,
        )
        group_lang = group.language if group else lang
        fallback = escalation.chat if escalation.chat.kind == "group" else None
        return NewDelivery(
            dedupe_key=f"esc:{escalation.id}:member",
            escalation_id=escalation.id,
            recipient=f"user:{escalation.subject.key}",
            action=SendDirect(
                to=escalation.subject,
                text=text,
                fallback=fallback,
                fallback_text=texts.member_fallback(
                    self._tr,
                    group_lang,
                    name=escalation.subject_name,
                    lines=self._lines(group, group_lang, True),
                ),
                priority=Priority.SAFETY_REPLY,
            ),
        )

    def _interval(self, severity: int) -> timedelta:
        return self._renotify / 2 if severity >= 3 else self._renotify

    # -- /sos ---------------------------------------------------------------------------------
    async def sos(self, ctx: CommandContext) -> Sequence[Action]:
        """Steps 1-2 at once, at severity 3, for the caller."""
        group = ctx.group
        situation: Situation = ctx
        if group is None:
            member_groups = await self._member_groups(ctx.meta.sender)
            if len(member_groups) == 1:
                situation = _with_group(ctx, member_groups[0])
        escalation = await self.escalate(
            situation,
            severity=3,
            about="self",
            reason="sos",
            excerpt="/sos",
            message_key=ctx.meta.event_id,
            link=ctx.event.message.link if ctx.event.message else None,
        )
        if escalation is None:
            return []
        return (
            [
                ctx.private(
                    ctx.t("I'm here. I've sent you the crisis lines privately."),
                    interaction=ctx.event.interaction,
                )
            ]
            if ctx.in_group
            else []
        )

    async def _member_groups(self, user: UserRef) -> list[Group]:
        async with self._store() as store:
            return [g for g, _ in await store.memberships.staff_groups(user)]

    # -- acknowledging and closing -----------------------------------------------------------
    async def on_button(self, ctx: ButtonContext) -> Sequence[Action]:
        """Acknowledge / Resolve / False alarm buttons on an alert."""
        escalation_id = ctx.id_at(1)
        if len(ctx.parts) != 2 or escalation_id is None:
            return [ctx.toast(ctx.t("That button is no longer active."))]
        verb = ctx.parts[0]
        if verb == "ack":
            text = await self._acknowledge(ctx, escalation_id)
        elif verb in ("resolve", "false"):
            text = await self._close(ctx, escalation_id, RESOLVED if verb == "resolve" else FALSE_ALARM, None)
        else:
            text = ctx.t("That button is no longer active.")
        return [ctx.toast(text)]

    async def ack_command(self, ctx: CommandContext) -> Sequence[Action]:
        """`/ack ID`."""
        escalation_id = ctx.args.integer("id")
        assert escalation_id is not None
        return [ctx.answer(await self._acknowledge(ctx, escalation_id))]

    async def resolve_command(self, ctx: CommandContext) -> Sequence[Action]:
        """`/resolve ID [note]`."""
        escalation_id = ctx.args.integer("id")
        assert escalation_id is not None
        note = ctx.args.text("note") or None
        return [ctx.answer(await self._close(ctx, escalation_id, RESOLVED, note))]

    async def _staff_escalation(
        self, store: CrisisStore, situation: Situation, escalation_id: int
    ) -> tuple[Escalation | None, Group | None]:
        escalation = await store.escalations.get(escalation_id)
        if escalation is None or escalation.group_id is None:
            return None, None
        membership = await store.memberships.get(escalation.group_id, situation.meta.sender)
        is_staff = membership is not None and membership.role >= Role.MODERATOR
        if situation.group is not None and situation.group.id == escalation.group_id:
            is_staff = is_staff or situation.role >= Role.MODERATOR
        if not is_staff:
            return None, None
        return escalation, await store.groups.by_id(escalation.group_id)

    async def _acknowledge(self, situation: Situation, escalation_id: int) -> str:
        meta, now = situation.meta, situation.now
        name = meta.sender_name or meta.sender.id
        async with self._store() as store:
            escalation, group = await self._staff_escalation(store, situation, escalation_id)
            if escalation is None:
                return situation.t("There is no alert #{id} in your groups.", id=escalation_id)
            if not await store.escalations.acknowledge(escalation_id, by=meta.sender, name=name, at=now):
                if escalation.acknowledged_by is not None:
                    return situation.t(
                        "{name} is already on alert #{id}.",
                        name=escalation.acknowledged_name,
                        id=escalation_id,
                    )
                return situation.t("Alert #{id} is already closed.", id=escalation_id)
            await store.audit.record(
                at=now,
                actor=meta.sender,
                action="escalation.acknowledged",
                subject=f"escalation:{escalation_id}",
                group_id=escalation.group_id,
            )
            if self._metrics is not None:
                self._metrics.time_to_acknowledge.observe(
                    max(0.0, (now - escalation.opened_at).total_seconds()))
            lang = group.language if group else situation.lang
            notice = self._tr.tr(lang, "{name} is on it (alert #{id}).", name=name, id=escalation_id)
            await add_all(
                store,
                self._notices(
                    escalation_id, group, notice, "ack", await self._targets(store, group), meta.sender
                ),
                now,
            )
            await store.commit()
        self._poke()
        return situation.t("Thank you. You are on alert #{id}; the others have been told.", id=escalation_id)

    async def _close(self, situation: Situation, escalation_id: int, status: str, note: str | None) -> str:
        meta, now = situation.meta, situation.now
        name = meta.sender_name or meta.sender.id
        async with self._store() as store:
            escalation, group = await self._staff_escalation(store, situation, escalation_id)
            if escalation is None:
                return situation.t("There is no alert #{id} in your groups.", id=escalation_id)
            if not await store.escalations.close(
                escalation_id, status=status, by=meta.sender, at=now, note=note
            ):
                return situation.t("Alert #{id} is already closed.", id=escalation_id)
            await store.audit.record(
                at=now,
                actor=meta.sender,
                action=f"escalation.{status}",
                subject=f"escalation:{escalation_id}",
                group_id=escalation.group_id,
            )
            lang = group.language if group else situation.lang
            outcome = (
                self._tr.tr(lang, "resolved") if status == RESOLVED else self._tr.tr(lang, "a false alarm")
            )
            notice = self._tr.tr(
                lang,
                "Alert #{id} was closed by {name}: {outcome}.",
                id=escalation_id,
                name=name,
                outcome=outcome,
            )
            await add_all(
                store,
                self._notices(
                    escalation_id, group, notice, status, await self._targets(store, group), meta.sender
                ),
                now,
            )
            await store.commit()
        self._poke()
        return situation.t("Alert #{id} is closed. Thank you.", id=escalation_id)

    def _notices(
        self,
        escalation_id: int,
        group: Group | None,
        text: str,
        step: str,
        targets: list[Target],
        actor: UserRef,
    ) -> list[NewDelivery]:
        deliveries = []
        for target in targets:
            if target.user == actor:
                continue
            action = target.action(text, Priority.ALERT)
            deliveries.append(
                NewDelivery(
                    dedupe_key=f"esc:{escalation_id}:{step}:{target.key}",
                    action=action,
                    escalation_id=escalation_id,
                    recipient=target.key,
                )
            )
        return deliveries

    async def list_open(self, ctx: CommandContext) -> Sequence[Action]:
        """`/escalations`: the active alerts of the caller's groups."""
        groups = (
            [ctx.group]
            if ctx.group is not None and ctx.role >= Role.MODERATOR
            else [g for g, r in ctx.staff_groups if r >= Role.MODERATOR]
        )
        ids = [g.id for g in groups if g is not None and g.id is not None]
        titles = {g.id: g.title or g.key for g in groups if g is not None}
        async with self._store() as store:
            active = await store.escalations.active_in(ids)
        if not active:
            return [ctx.answer(ctx.t("There are no open alerts in your groups."))]
        lines = [ctx.t("Open alerts:")]
        for escalation in active:
            minutes = int((ctx.now - escalation.opened_at).total_seconds() // 60)
            state = (
                ctx.t("{name} is on it", name=escalation.acknowledged_name)
                if escalation.acknowledged_by
                else ctx.t("not acknowledged")
            )
            lines.append(
                ctx.t(
                    "#{id} · {group} · {name} · severity {severity} · {reason} · {minutes} min ago · {state}",
                    id=escalation.id,
                    group=titles.get(escalation.group_id, "—"),
                    name=escalation.subject_name or escalation.subject.id,
                    severity=escalation.severity,
                    reason=ctx.t(texts.REASONS.get(escalation.reason, texts.REASONS["none"])),
                    minutes=minutes,
                    state=state,
                )
            )
        return [ctx.answer("\n".join(lines))]

    # -- group terms ---------------------------------------------------------------------------
    async def _group_terms(self, group_id: int) -> GroupTerms | None:
        cached = self._terms.get(group_id)
        if cached is not None and monotonic_time.monotonic() - cached[0] < TERMS_CACHE_SECONDS:
            return cached[1]
        async with self._store() as store:
            terms = await store.group_terms.list(group_id)
        compiled = self._detector.compile_group_terms(terms) if terms else None
        self._terms[group_id] = (monotonic_time.monotonic(), compiled)
        return compiled

    async def add_term(self, ctx: CommandContext) -> Sequence[Action]:
        """`/keywords add TERM`."""
        term = " ".join(ctx.args.text("term").lower().split())
        if not 2 <= len(term) <= MAX_TERM_CHARS:
            return [ctx.answer(ctx.t("A term must be 2 to 100 characters long."))]
        added = await self._change_terms(ctx, "add", term)
        return [ctx.answer(
            ctx.t("Crisis screening in this group now also watches for “{term}”.", term=term)
            if added else ctx.t("“{term}” is already on this group's list.", term=term))]

    async def remove_term(self, ctx: CommandContext) -> Sequence[Action]:
        """`/keywords remove TERM` (only group additions; the core lexicon cannot be silenced)."""
        term = " ".join(ctx.args.text("term").lower().split())
        removed = await self._change_terms(ctx, "remove", term)
        return [ctx.answer(
            ctx.t("Removed “{term}” from this group's list.", term=term)
            if removed else ctx.t("“{term}” was not on this group's list.", term=term))]

    async def _change_terms(self, ctx: CommandContext, verb: str, term: str) -> bool:
        """Add or remove one group term, audited; the group's compiled terms are rebuilt."""
        assert ctx.group is not None and ctx.group.id is not None
        async with self._store() as store:
            if verb == "add":
                changed = await store.group_terms.add(ctx.group.id, term, by=ctx.meta.sender,
                                                      at=ctx.now)
            else:
                changed = await store.group_terms.remove(ctx.group.id, term)
            await store.audit.record(at=ctx.now, actor=ctx.meta.sender, action=f"keywords.{verb}",
                                     subject=f"group:{ctx.group.id}", group_id=ctx.group.id)
            await store.commit()
        self._terms.pop(ctx.group.id, None)
        return changed

    async def list_terms(self, ctx: CommandContext) -> Sequence[Action]:
        """`/keywords list`."""
        assert ctx.group is not None and ctx.group.id is not None
        async with self._store() as store:
            terms = await store.group_terms.list(ctx.group.id)
        if not terms:
            return [
                ctx.answer(
                    ctx.t(
                        "This group has added no terms; the built-in crisis "
                        "screening still runs on every message."
                    )
                )
            ]
        return [ctx.answer(ctx.t("This group's added terms:") + "\n" + "\n".join(f"• {t}" for t in terms))]

    # -- quiet concerns ------------------------------------------------------------------------
    async def record_concern(
        self, group_id: int, subject: UserRef, name: str, reason: str, source: str
    ) -> None:
        """A severity-1 concern: no alert, a line in tonight's digest."""
        now = self._clock.now()
        async with self._store() as store:
            await store.concerns.add(
                group_id=group_id, subject=subject, subject_name=name, reason=reason, source=source, at=now
            )
            await store.commit()

    # -- sweeps ----------------------------------------------------------------------------------
    async def renotify_sweep(self) -> None:
        """Send reminders for unacknowledged alerts; after the sixth, tell the member honestly."""
        now = self._clock.now()
        async with self._store() as store:
            due = await store.escalations.due_for_renotify(now, 50)
        for escalation in due:
            async with self._store() as store:
                group = (
                    await store.groups.by_id(escalation.group_id) if escalation.group_id is not None else None
                )
                if escalation.renotify_count < MAX_REMINDERS:
                    count = escalation.renotify_count + 1
                    if not await store.escalations.claim_renotify(
                        escalation.id,
                        expected_count=escalation.renotify_count,
                        next_at=now + self._interval(escalation.severity),
                    ):
                        continue
                    targets = await self._targets(store, group)
                    await add_all(
                        store,
                        self._alerts(escalation, group, targets, step=f"remind{count}", reminder=count),
                        now,
                    )
                    await store.audit.record(
                        at=now,
                        actor=None,
                        action="escalation.reminded",
                        subject=f"escalation:{escalation.id}",
                        group_id=escalation.group_id,
                        detail=f"n={count}",
                    )
                else:
                    if not await store.escalations.claim_member_told(escalation.id):
                        continue
                    person = await store.people.get(escalation.subject)
                    lang = (
                        person.language if person and person.language else group.language if group else "en"
                    )
                    lines = self._lines(group, lang, escalation.severity >= 3)
                    await add_all(
                        store,
                        [
                            NewDelivery(
                                dedupe_key=f"esc:{escalation.id}:unanswered",
                                escalation_id=escalation.id,
                                recipient=f"user:{escalation.subject.key}",
                                action=SendDirect(
                                    to=escalation.subject,
                                    text=texts.member_unanswered(
                                        self._tr, lang, name=escalation.subject_name, lines=lines
                                    ),
                                    priority=Priority.SAFETY_REPLY,
                                ),
                            )
                        ],
                        now,
                    )
                    await store.audit.record(
                        at=now,
                        actor=None,
                        action="escalation.member_told_unanswered",
                        subject=f"escalation:{escalation.id}",
                        group_id=escalation.group_id,
                    )
                await store.commit()
            self._poke()

    async def digest_sweep(self) -> None:
        """Once a day, in the group's evening, send its quiet concerns to its staff."""
        now = self._clock.now()
        async with self._store() as store:
            group_ids = await store.concerns.groups_with_undigested()
        for group_id in group_ids:
            async with self._store() as store:
                group = await store.groups.by_id(group_id)
                if group is None:
                    continue
                local = now.astimezone(ZoneInfo(group.timezone))
                if local.hour < DIGEST_LOCAL_HOUR:
                    continue
                concerns = await store.concerns.claim_digest(group_id, local.date().isoformat(), now)
                if not concerns:
                    continue
                lang = group.language
                lines = [
                    self._tr.trn(
                        lang,
                        "Quiet concern today in {group}:",
                        "Quiet concerns today in {group} ({n}):",
                        len(concerns),
                        group=group.title or group.key,
                    )
                ]
                for concern in concerns:
                    lines.append(
                        f"• {concern.subject_name or concern.subject.id}: "
                        + self._tr.tr(lang, texts.REASONS.get(concern.reason, texts.REASONS["none"]))
                    )
                lines.append(self._tr.tr(lang, "No alert was sent. A gentle check-in may help."))
                text = "\n".join(lines)
                deliveries = []
                for target in await self._targets(store, group):
                    action = target.action(text, Priority.BULK)
                    deliveries.append(
                        NewDelivery(
                            dedupe_key=f"digest:{group_id}:{local.date().isoformat()}:{target.key}",
                            action=action,
                            recipient=target.key,
                        )
                    )
                await add_all(store, deliveries, now)
                await store.commit()
            self._poke()

    async def purge_sweep(self) -> None:
        """Purge excerpts 30 days after an escalation was resolved."""
        now = self._clock.now()
        async with self._store() as store:
            ids = await store.escalations.purge_excerpts(now - EXCERPT_RETENTION)
            if ids:
                await store.outbox.forget_escalations(ids)
                await store.audit.record(
                    at=now,
                    actor=None,
                    action="escalation.purged",
                    subject="escalations",
                    detail=f"count={len(ids)}",
                )
            await store.commit()


def _with_group(ctx: Situation, group: Group) -> Situation:
    return Situation(
        meta=ctx.meta,
        group=group,
        role=ctx.role,
        person=ctx.person,
        lang=ctx.lang,
        tr=ctx.tr,
        now=ctx.now,
        staff_groups=ctx.staff_groups,
    )
