"""Onboarding (SPEC.md "Onboarding"): batched welcomes, consent, private questions, /start, /settings.

Guarantees:
    * Nothing about a person is stored before they press Agree: batching keeps, per group, the
      time of the last welcome and a count of joins since, never who joined.
    * A group gets at most one welcome per minute, however many people join and however many
      processes run (the window is claimed with a conditional update).
    * Consent is recorded once per person and group, with an audit entry; a member held at the
      door (join request) is let in only after they agree.
    * Members who already agreed are never welcomed as strangers when they come back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import time, timedelta

from bot.core.actions import Action, ApproveJoin, SendDirect, SendMessage
from bot.core.commands import CommandSpec, Param, UsageError, parse_time
from bot.core.context import ButtonContext, CommandContext, Situation
from bot.core.events import InboundEvent, MemberJoined, MessageReceived
from bot.core.i18n import N_, SUPPORTED_LANGUAGES, Translator
from bot.core.models import Group, Person
from bot.core.places import find_timezone
from bot.core.ports import Clock
from bot.core.roles import Role
from bot.onboarding import texts
from bot.onboarding.model import (
    FLOW_ONBOARDING,
    FLOW_SETTINGS,
    LANGUAGE,
    PRIVATE_CHECKINS,
    PRIVATE_TIME,
    TIMEZONE,
    OnboardingStep,
)
from bot.onboarding.ports import OnboardingStore
from bot.onboarding.zones import zone_choices

StoreFactory = Callable[[], AbstractAsyncContextManager[OnboardingStore]]

WELCOME_WINDOW = timedelta(seconds=60)
JUST_AGREED = timedelta(minutes=15)
STEP_TTL = timedelta(days=7)  # an unanswered question is forgotten after a week
MAX_TYPED_ANSWER_CHARS = 40  # longer private messages are conversation, not an answer
_YES = {"yes", "y", "si", "sí", "s", "yeah", "ok", "vale", "claro"}
_NO = {"no", "n", "nope", "no gracias", "no, thanks", "no thanks"}
_LANGUAGE_WORDS = {"en": "en", "english": "en", "inglés": "en", "ingles": "en",
                   "es": "es", "español": "es", "espanol": "es", "spanish": "es"}
_START_PAYLOAD = re.compile(r"^onb-(\d{1,18})$")
_SETTING_STEPS = {"tz": TIMEZONE, "lang": LANGUAGE, "ci": PRIVATE_CHECKINS}


class OnboardingService:
    """Welcomes newcomers, records their consent and asks their settings privately."""

    def __init__(self, *, store: StoreFactory, translator: Translator, clock: Clock,
                 default_timezone: str) -> None:
        self._store = store
        self._tr = translator
        self._clock = clock
        self._default_zone = default_timezone

    def commands(self) -> list[CommandSpec]:
        """The commands this capability owns."""
        return [
            CommandSpec(name="start", role=Role.MEMBER, usage=N_("/start"),
                        summary=N_("begin or resume setting up, in a private chat"),
                        where="direct", params=(Param(name="payload", optional=True),),
                        handler=self.start),
            CommandSpec(name="settings", role=Role.MEMBER,
                        usage=N_("/settings [timezone|language|checkins] [value]"),
                        summary=N_("your time zone, language and private check-ins"),
                        params=(Param(name="what", kind="choice", optional=True,
                                      choices=("timezone", "language", "checkins")),
                                Param(name="value", kind="rest", optional=True)),
                        handler=self.settings),
            CommandSpec(name="privacy", role=Role.MEMBER, usage=N_("/privacy"),
                        summary=N_("what I keep about you, in plain words"),
                        handler=self.privacy),
        ]

    # -- joins ---------------------------------------------------------------------------------
    async def on_join(self, event: InboundEvent, situation: Situation) -> Sequence[Action]:
        """One welcome per minute for newcomers; a private word for held or returning members."""
        if not isinstance(event, MemberJoined) or event.meta.chat.kind != "group":
            return []
        group = situation.group
        if group is None or group.id is None:
            return []  # not a managed group (no /setup yet)
        user = event.meta.sender
        async with self._store() as store:
            agreed_at = await store.onboarding.agreed_at(group.id, user)
            agreed = agreed_at is not None
            person = await store.people.get(user) if agreed else None
            welcome = False
            if not agreed and not event.join_request:
                welcome = await store.onboarding.claim_welcome(group.id, situation.now,
                                                               WELCOME_WINDOW)
                await store.commit()
        if agreed:
            actions: list[Action] = []
            if event.join_request:
                actions.append(ApproveJoin(group=group.key, user=user))
            just_agreed = agreed_at is not None and situation.now - agreed_at < JUST_AGREED
            # A held member let in a moment ago arrives now: they were welcomed when they agreed.
            if person is not None and person.can_message and not just_agreed:
                lang = person.language or group.language
                actions.append(SendDirect(to=user, text=self._tr.tr(
                    lang, "Welcome back to {group}! Your settings are as you left them "
                          "(/settings).", group=texts.group_name(self._tr, lang, group))))
            return actions
        if event.join_request:
            lang = group.language
            return [SendDirect(to=user, text=texts.held_welcome(self._tr, lang, group),
                               buttons=texts.agree_buttons(self._tr, lang, group.id))]
        if not welcome:
            return []  # someone was welcomed less than a minute ago: that welcome serves all
        return [SendMessage(to=group.home_chat, text=texts.group_welcome(self._tr, group),
                            buttons=texts.agree_buttons(self._tr, group.language, group.id,
                                                        in_group=True))]

    # -- buttons -------------------------------------------------------------------------------
    async def on_button(self, ctx: ButtonContext) -> Sequence[Action]:
        """Agree, and the answers to the private questions."""
        verb = ctx.parts[0] if ctx.parts else ""
        arg = ctx.parts[1] if len(ctx.parts) > 1 else ""
        group_id = ctx.id_at(1)
        if verb == "agree" and group_id is not None:
            return await self._agree(ctx, group_id)
        if verb == "tz" and find_timezone(":".join(ctx.parts[1:])):
            zone = find_timezone(":".join(ctx.parts[1:]))
            assert zone is not None
            return await self._answer(ctx, TIMEZONE, zone, toast=True)
        if verb == "city":
            return await self._ask_city(ctx)
        if verb == "lang" and arg in SUPPORTED_LANGUAGES:
            return await self._answer(ctx, LANGUAGE, arg, toast=True)
        if verb == "ci" and arg in ("yes", "no"):
            return await self._answer(ctx, PRIVATE_CHECKINS, arg, toast=True)
        if verb == "at" and re.fullmatch(r"([01]\d|2[0-3])[0-5]\d", arg):
            return await self._answer(ctx, PRIVATE_TIME, f"{arg[:2]}:{arg[2:]}", toast=True)
        if verb == "set" and arg in _SETTING_STEPS:
            actions: list[Action] = [ctx.toast(ctx.t("Let's change it."))]
            return actions + await self._begin(ctx, _SETTING_STEPS[arg], FLOW_SETTINGS)
        return [ctx.toast(ctx.t("That button is no longer active."))]

    async def _agree(self, ctx: ButtonContext, group_id: int) -> list[Action]:
        user, now = ctx.meta.sender, ctx.now
        async with self._store() as store:
            group = await store.groups.by_id(group_id)
            if group is None:
                return [ctx.toast(ctx.t("That button is no longer active."))]
            new = await store.onboarding.add_consent(group_id, user, now)
            person = await store.people.get(user) or Person(user=user)
            person = replace(person, display_name=ctx.meta.sender_name or person.display_name,
                             consented_at=person.consented_at or now)
            await store.people.save(person)
            pending = await store.onboarding.step(user)
            if new:
                pending = OnboardingStep(user=user, group_id=group_id, step=TIMEZONE,
                                         flow=FLOW_ONBOARDING, updated_at=now)
                await store.onboarding.set_step(pending)
                await store.audit.record(at=now, actor=user, action="consent.given",
                                         subject=f"group:{group_id}", group_id=group_id)
            await store.commit()
        actions: list[Action] = []
        from_group_chat = ctx.in_group and ctx.meta.group == group.key
        if group.hold_new_members and not from_group_chat:
            actions.append(ApproveJoin(group=group.key, user=user))
        if pending is None:
            actions.append(ctx.toast(ctx.t("You have already agreed. Welcome!")))
            return actions
        lang = person.language or group.language
        actions.append(ctx.toast(
            ctx.t("Thank you for agreeing! I've written to you privately.") if from_group_chat
            else ctx.t("Thank you for agreeing! You're in.") if group.hold_new_members
            else ctx.t("Thank you for agreeing!")))
        intro = self._tr.tr(lang, "Welcome, {name}! A few quick questions so I get things right "
                                  "for you; you can change any answer later with /settings.",
                            name=person.display_name or self._tr.tr(lang, "friend")) + "\n\n"
        text, buttons = texts.question(self._tr, lang, pending.step,
                                       zones=self._zones(group, person), intro=intro)
        actions.append(SendDirect(
            to=user, text=text, buttons=buttons,
            fallback=group.home_chat if from_group_chat else None,
            fallback_text=self._tr.tr(
                group.language, "{name}, thank you for agreeing! I can't write to you privately "
                "yet: open a private chat with me and send /start to finish setting up.",
                name=ctx.meta.sender_name or "")))
        return actions

    async def _ask_city(self, ctx: ButtonContext) -> list[Action]:
        async with self._store() as store:
            current = await store.onboarding.step(ctx.meta.sender)
            await store.onboarding.set_step(OnboardingStep(
                user=ctx.meta.sender, group_id=current.group_id if current else None,
                step=TIMEZONE, flow=current.flow if current else FLOW_SETTINGS,
                updated_at=ctx.now))
            await store.commit()
        return [ctx.toast(ctx.t("Type the name of your city or country, for example Chicago, "
                                "Madrid or Mexico."))]

    # -- typed answers in a private chat -------------------------------------------------------
    async def on_message(self, event: InboundEvent, situation: Situation) -> Sequence[Action]:
        """A short private message from someone in the middle of a question is their answer."""
        if not isinstance(event, MessageReceived) or event.meta.chat.kind != "direct" \
                or event.edited:
            return []
        text = " ".join(event.text.split())
        if not text or len(text) > MAX_TYPED_ANSWER_CHARS or len(text.split()) > 4:
            return []
        async with self._store() as store:
            current = await store.onboarding.step(event.meta.sender)
        if current is None or situation.now - current.updated_at > STEP_TTL:
            return []
        folded = text.lower().strip(" .!")
        value: str | None = None
        if current.step == TIMEZONE:
            value = find_timezone(text)
            hint = situation.t("I don't know that place. Try a nearby big city, or your country.")
        elif current.step == LANGUAGE:
            value = _LANGUAGE_WORDS.get(folded)
            hint = situation.t("Please pick a language with the buttons.")
        elif current.step == PRIVATE_CHECKINS:
            value = "yes" if folded in _YES else "no" if folded in _NO else None
            hint = situation.t("Please answer with the buttons, or yes or no.")
        else:
            try:
                value = parse_time(text).strftime("%H:%M")
            except UsageError:
                value = None
            hint = situation.t("Please type a time such as 20:30.")
        if value is None:
            question, buttons = await self._question_for(situation, current)
            return [SendDirect(to=event.meta.sender, text=hint + "\n\n" + question,
                               buttons=buttons)]
        return await self._answer(situation, current.step, value, toast=False)

    # -- answering a question ------------------------------------------------------------------
    async def _answer(self, situation: Situation, step: str, value: str, *,
                      toast: bool) -> list[Action]:
        """Save one answer and ask the next question of the flow (or say all is set)."""
        user, now = situation.meta.sender, situation.now
        async with self._store() as store:
            person = await store.people.get(user) or Person(
                user=user, display_name=situation.meta.sender_name)
            current = await store.onboarding.step(user)
            flow = current.flow if current is not None and current.step == step else None
            if step == TIMEZONE:
                person = replace(person, timezone=value)
            elif step == LANGUAGE:
                person = replace(person, language=value)
            elif step == PRIVATE_CHECKINS and value == "no":
                person = replace(person, private_checkins=False)
            elif step == PRIVATE_TIME:
                hours, minutes = value.split(":")
                person = replace(person, private_checkins=True,
                                 private_checkin_time=time(int(hours), int(minutes)))
            await store.people.save(person)
            following = _next_step(step, value, flow)
            if following is not None:
                await store.onboarding.set_step(OnboardingStep(
                    user=user, group_id=current.group_id if current else None, step=following,
                    flow=flow or FLOW_SETTINGS, updated_at=now))
            elif flow is not None:
                await store.onboarding.clear_step(user)
            group = await store.groups.by_id(current.group_id) \
                if current is not None and current.group_id is not None else None
            await store.commit()
        lang = person.language or situation.lang
        actions: list[Action] = []
        if toast and isinstance(situation, ButtonContext):
            actions.append(situation.private(self._tr.tr(lang, "Saved."),
                                             interaction=situation.event.interaction))
        if following is not None:
            text, buttons = texts.question(self._tr, lang, following,
                                           zones=self._zones(group, person))
            actions.append(SendDirect(to=user, text=text, buttons=buttons))
            return actions
        if flow == FLOW_ONBOARDING:
            done = self._tr.tr(lang, "All set, {name}! ✨",
                               name=person.display_name or self._tr.tr(lang, "friend"))
            tail = self._tr.tr(lang, "Change anything with /settings. /privacy says what I keep; "
                                     "/help shows what I can do.")
        else:
            done = self._tr.tr(lang, "Saved. Your settings:")
            tail = ""
        summary = texts.settings_summary(self._tr, lang, person, self._zone_of(group), now)
        actions.append(SendDirect(to=user, text="\n".join(filter(None, [done, summary, tail]))))
        return actions

    async def _begin(self, situation: Situation, step: str, flow: str,
                     group_id: int | None = None) -> list[Action]:
        """Store `step` as the person's current question and ask it privately."""
        user = situation.meta.sender
        async with self._store() as store:
            current = await store.onboarding.step(user)
            if group_id is None and current is not None:
                group_id = current.group_id
            pending = OnboardingStep(user=user, group_id=group_id, step=step, flow=flow,
                                     updated_at=situation.now)
            await store.onboarding.set_step(pending)
            await store.commit()
        text, buttons = await self._question_for(situation, pending)
        return [SendDirect(to=user, text=text, buttons=buttons)]

    async def _question_for(self, situation: Situation,
                            pending: OnboardingStep) -> tuple[str, texts.Buttons]:
        async with self._store() as store:
            person = await store.people.get(pending.user)
            group = await store.groups.by_id(pending.group_id) \
                if pending.group_id is not None else situation.group
        lang = (person.language if person else None) or situation.lang
        return texts.question(self._tr, lang, pending.step, zones=self._zones(group, person))

    def _zones(self, group: Group | None, person: Person | None) -> list[str]:
        region = group.region if group else ""
        first = (person.timezone if person and person.timezone else None) or \
            (group.timezone if group else self._default_zone)
        return zone_choices(region, first)

    def _zone_of(self, group: Group | None) -> str:
        return group.timezone if group else self._default_zone

    # -- commands ------------------------------------------------------------------------------
    async def start(self, ctx: CommandContext) -> Sequence[Action]:
        """`/start [onb-GROUP]` in a private chat: begin or resume onboarding."""
        user = ctx.meta.sender
        payload = ctx.args.text("payload")
        match = _START_PAYLOAD.match(payload)
        async with self._store() as store:
            group = await store.groups.by_id(int(match.group(1))) if match else None
            agreed = bool(group and group.id is not None
                          and await store.onboarding.has_consent(group.id, user))
            current = await store.onboarding.step(user)
            staff = await store.memberships.staff_groups(user)
        if match and group is None:
            return [ctx.reply(ctx.t("That link is no longer valid. Ask your group for a new "
                                    "one."))]
        if group is not None and group.id is not None and not agreed:
            return [ctx.reply(texts.held_welcome(self._tr, ctx.lang, group)
                              if group.hold_new_members else
                              texts.group_welcome(self._tr, group.with_changes(language=ctx.lang)),
                              texts.agree_buttons(self._tr, ctx.lang, group.id))]
        if current is not None and ctx.now - current.updated_at <= STEP_TTL:
            text, buttons = await self._question_for(ctx, current)
            return [ctx.reply(ctx.t("Welcome back! Let's carry on where we left off.") + "\n\n"
                              + text, buttons)]
        person = ctx.person
        if person is not None and person.consented_at is not None:
            return [ctx.reply(ctx.t("Hello again, {name}! You're all set. /checkin to check in, "
                                    "/settings to change your settings, /help for the rest.",
                                    name=person.display_name or ctx.meta.sender_name))]
        if staff:
            names = ", ".join(g.title or g.key for g, _ in staff)
            return [ctx.reply(ctx.t("Hello, {name}! You help run {groups}: alerts and reports "
                                    "will reach you in this chat. /help shows your commands.",
                                    name=ctx.meta.sender_name, groups=names))]
        return [ctx.reply(ctx.t("Hello! I'm Kindred, the helper of parents' support groups. When "
                                "you join a group I look after, press “I agree” on its welcome "
                                "and I'll set you up here. /privacy says what I keep."))]

    async def settings(self, ctx: CommandContext) -> Sequence[Action]:
        """`/settings [timezone|language|checkins] [value]`."""
        user = ctx.meta.sender
        what, value = ctx.args.text("what"), ctx.args.text("value")
        async with self._store() as store:
            person = await store.people.get(user)
            staff = await store.memberships.staff_groups(user)
            groups = await store.onboarding.consented_groups(user)
            first_group = await store.groups.by_id(groups[0]) if groups else None
        if (person is None or person.consented_at is None) and not staff:
            return [ctx.private(ctx.t("Please first agree to your group's rules: press “I agree” "
                                      "on its welcome message. Then you can choose your "
                                      "settings."), interaction=ctx.event.interaction)]
        if not what and value:
            return [ctx.answer(ctx.t("Usage: {usage}", usage=ctx.t(ctx.spec.usage)))]
        step = {"timezone": TIMEZONE, "language": LANGUAGE, "checkins": PRIVATE_CHECKINS}.get(what)
        if step is None:
            person = person or Person(user=user, display_name=ctx.meta.sender_name)
            lang = person.language or ctx.lang
            summary = texts.settings_summary(self._tr, lang, person, self._zone_of(first_group),
                                             ctx.now)
            return [ctx.private(self._tr.tr(lang, "Your settings:") + "\n" + summary,
                                texts.settings_buttons(self._tr, lang),
                                interaction=ctx.event.interaction)]
        if not value:
            return await self._begin(ctx, step, FLOW_SETTINGS,
                                     first_group.id if first_group else None)
        parsed = _typed_setting(step, value)
        if parsed is None:
            hints = {TIMEZONE: N_("I don't know that place. Try a nearby big city, or your "
                                  "country."),
                     LANGUAGE: N_("/settings language en|es"),
                     PRIVATE_CHECKINS: N_("/settings checkins HH:MM|off")}
            return [ctx.private(ctx.t(hints[step]), interaction=ctx.event.interaction)]
        step, parsed_value = parsed
        if step == PRIVATE_CHECKINS and parsed_value == "yes":
            if person is not None and person.private_checkin_time is not None:
                step, parsed_value = PRIVATE_TIME, person.private_checkin_time.strftime("%H:%M")
            else:
                return await self._begin(ctx, PRIVATE_TIME, FLOW_SETTINGS)
        return await self._answer(ctx, step, parsed_value, toast=False)

    async def privacy(self, ctx: CommandContext) -> Sequence[Action]:
        """`/privacy`: what is kept, in plain words."""
        return [ctx.answer(ctx.t(texts.PRIVACY_NOTICE))]

    # -- housekeeping --------------------------------------------------------------------------
    async def cleanup_sweep(self) -> None:
        """Forget questions nobody answered within a week."""
        async with self._store() as store:
            await store.onboarding.forget_steps_before(self._clock.now() - STEP_TTL)
            await store.commit()


def _next_step(step: str, value: str, flow: str | None) -> str | None:
    """The question after `step` was answered with `value`, in `flow` (None: a lone answer)."""
    if step == PRIVATE_CHECKINS and value == "yes":
        return PRIVATE_TIME
    if flow != FLOW_ONBOARDING:
        return None
    following = {TIMEZONE: LANGUAGE, LANGUAGE: PRIVATE_CHECKINS}
    return following.get(step)


def _typed_setting(step: str, value: str) -> tuple[str, str] | None:
    """A value typed after `/settings WHAT`, checked: (step, value) or None."""
    folded = value.strip().lower()
    if step == TIMEZONE:
        zone = find_timezone(value)
        return (TIMEZONE, zone) if zone else None
    if step == LANGUAGE:
        code = _LANGUAGE_WORDS.get(folded)
        return (LANGUAGE, code) if code else None
    if folded in {"off", "no", "never", "apagado", "nunca"}:
        return (PRIVATE_CHECKINS, "no")
    if folded in {"on", "yes", "si", "sí"}:
        return (PRIVATE_CHECKINS, "yes")
    try:
        return (PRIVATE_TIME, parse_time(value).strftime("%H:%M"))
    except UsageError:
        return None

