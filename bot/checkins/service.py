"""Daily check-ins (SPEC.md "Daily check-ins"): prompts, answers, the quiet concern, reports.

Guarantees:
    * A group gets at most one prompt per local date: the sweep (and `/checkins now`) claims the
      (group, date) row through a unique key and commits the prompt's delivery in the same
      transaction, so neither a restart nor a second process sends a second one.
    * After downtime a missed prompt is sent only within two hours of its time, and only once.
    * Prompts follow the group's local time in its IANA zone, across daylight-saving changes.
    * One answer per member, group and day: a second press changes it. The prompt shows only how
      many checked in. Members who have not agreed to the group's notice are stored nothing.
    * Three consecutive hard answers (1 or 2) raise one quiet concern per streak.
    * Reports show counts and averages, never names, and a day's average only from three answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from bot.checkins import texts
from bot.checkins.chart import ChartLabels, render_chart
from bot.checkins.model import (
    LOW_MOOD,
    LOW_STREAK,
    MANUAL,
    SCHEDULED,
    SKIP,
    SKIPPED,
    Answer,
)
from bot.checkins.ports import CheckinsStore
from bot.checkins.report import Report, build_report, report_text
from bot.checkins.schedule import due_occurrence, iso_week, local_today, occurrence_on, zone
from bot.core.actions import Action, EditMessage, Image, Priority, SendDirect, SendMessage
from bot.core.commands import CommandSpec, Param
from bot.core.context import ButtonContext, CommandContext, Situation
from bot.core.i18n import N_, Translator
from bot.core.identity import MessageRef, UserRef
from bot.core.models import Group, Person
from bot.core.ports import Clock
from bot.core.roles import Role
from bot.groups.service import DAY_LABELS
from bot.onboarding.texts import agree_buttons
from bot.outbox import NewDelivery, add_all

log = logging.getLogger(__name__)

StoreFactory = Callable[[], AbstractAsyncContextManager[CheckinsStore]]
ConcernRecorder = Callable[[int, UserRef, str, str, str], Awaitable[None]]

CLAIM_BATCH = 1000  # groups claimed per transaction in a wave
STALE_AFTER_DAYS = 2  # presses on older prompts are politely refused
MAX_PAUSE_DAYS = 365
MAX_REPORT_DAYS = 90
PAUSED_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
REPORT_WEEKDAY = 0  # Monday
REPORT_TIME = time(9, 0)
PRIVATE_CLAIM_KEPT = timedelta(days=3)  # longer than any catch-up window across a date line


class CheckinService:
    """Runs the prompts, stores answers and builds reports."""

    def __init__(self, *, store: StoreFactory, translator: Translator, clock: Clock,
                 poke_outbox: Callable[[], None], record_concern: ConcernRecorder,
                 default_timezone: str, default_language: str) -> None:
        self._store = store
        self._tr = translator
        self._clock = clock
        self._poke = poke_outbox
        self._record_concern = record_concern
        self._default_zone = default_timezone
        self._default_language = default_language

    def commands(self) -> list[CommandSpec]:
        """The commands this capability owns."""
        facilitator = Role.FACILITATOR
        return [
            CommandSpec(name="checkin", role=Role.MEMBER, usage=N_("/checkin [1-5] [note]"),
                        summary=N_("tell how you are today (1 very hard … 5 good)"),
                        params=(Param(name="mood", kind="int", optional=True, minimum=1,
                                      maximum=5),
                                Param(name="note", kind="rest", optional=True)),
                        handler=self.checkin),
            CommandSpec(name="pause", role=Role.MEMBER, usage=N_("/pause [days]"),
                        summary=N_("stop your private check-ins for a while"),
                        params=(Param(name="days", kind="int", optional=True, minimum=1,
                                      maximum=MAX_PAUSE_DAYS),),
                        handler=self.pause),
            CommandSpec(name="resume", role=Role.MEMBER, usage=N_("/resume"),
                        summary=N_("start your private check-ins again"), handler=self.resume),
            CommandSpec(
                name="checkins", role=facilitator,
                usage=N_("/checkins at HH:MM | days mon,tue,… | off | now"),
                summary=N_("when the group's daily check-in is posted"), where="group",
                subcommands=(
                    CommandSpec(name="at", role=facilitator, where="group",
                                usage=N_("/checkins at HH:MM"), summary="",
                                params=(Param(name="time", kind="time"),), handler=self.set_time),
                    CommandSpec(name="days", role=facilitator, where="group",
                                usage=N_("/checkins days mon,tue,… (or daily, weekdays)"),
                                summary="", params=(Param(name="days", kind="days"),),
                                handler=self.set_days),
                    CommandSpec(name="off", role=facilitator, where="group",
                                usage=N_("/checkins off"), summary="", handler=self.turn_off),
                    CommandSpec(name="now", role=facilitator, where="group",
                                usage=N_("/checkins now"), summary="", handler=self.post_now),
                ),
            ),
            CommandSpec(name="report", role=facilitator, usage=N_("/report [days]"),
                        summary=N_("check-in participation and mood trend, with a chart"),
                        where="group",
                        params=(Param(name="days", kind="int", optional=True, minimum=1,
                                      maximum=MAX_REPORT_DAYS),),
                        handler=self.report),
        ]

    # -- the prompt sweep ----------------------------------------------------------------------
    async def prompt_sweep(self) -> None:
        """Claim and queue every group prompt and private prompt that is due now."""
        now = self._clock.now()
        async with self._store() as store:
            groups = await store.checkins.scheduled_groups()
        due: list[tuple[Group, date]] = []
        for group in groups:
            assert group.checkin_time is not None
            occurrence = due_occurrence(now, group.timezone, group.checkin_time,
                                        group.checkin_days)
            if occurrence is not None and group.id is not None:
                due.append((group, occurrence.local_date))
        for start in range(0, len(due), CLAIM_BATCH):
            await self._claim_prompts(due[start:start + CLAIM_BATCH], now)
        await self._private_sweep(now)

    async def _claim_prompts(self, batch: list[tuple[Group, date]], now: datetime) -> None:
        # Claimed in group-id order, so two processes racing on a wave never deadlock.
        batch = sorted(batch, key=lambda item: item[0].id or 0)
        async with self._store() as store:
            taken = await store.checkins.claimed([g.id for g, _ in batch if g.id is not None],
                                                 sorted({d.isoformat() for _, d in batch}))
            wanted: list[tuple[int, str, datetime | None]] = []
            for group, day in batch:
                assert group.id is not None and group.checkin_time is not None
                if (group.id, day.isoformat()) in taken:
                    continue
                scheduled = occurrence_on(day, group.checkin_time, group.timezone).at
                wanted.append((group.id, day.isoformat(), scheduled))
            won = await store.checkins.claim_prompts(wanted, kind=SCHEDULED, at=now)
            deliveries = [self._prompt_delivery(group, won[(group.id, day.isoformat())])
                          for group, day in batch
                          if group.id is not None and (group.id, day.isoformat()) in won]
            if deliveries:
                await add_all(store, deliveries, now)
            await store.commit()
        if deliveries:
            log.info("check-in prompts claimed", extra={"count": len(deliveries)})
            self._poke()

    def _prompt_delivery(self, group: Group, prompt_id: int) -> NewDelivery:
        lang = group.language
        return NewDelivery(
            dedupe_key=f"ci:prompt:{prompt_id}", recipient=f"group:{group.id}",
            action=SendMessage(to=group.home_chat, text=texts.group_prompt(self._tr, lang, 0),
                               buttons=texts.mood_buttons(self._tr, lang, f"ci:m:{prompt_id}"),
                               priority=Priority.BULK))

    async def _private_sweep(self, now: datetime) -> None:
        async with self._store() as store:
            people = await store.checkins.private_checkin_people(now)
        for person in people:
            if person.private_checkin_time is None:
                continue
            occurrence = due_occurrence(now, person.timezone or self._default_zone,
                                        person.private_checkin_time, range(7))
            if occurrence is None:
                continue
            day = occurrence.local_date
            async with self._store() as store:
                if not await store.checkins.claim_private(person.user, day.isoformat(), now):
                    continue
                lang = person.language or self._default_language
                await add_all(store, [NewDelivery(
                    dedupe_key=f"ci:private:{person.user.key}:{day.isoformat()}",
                    recipient=f"user:{person.user.key}",
                    action=SendDirect(to=person.user, text=texts.private_prompt(self._tr, lang),
                                      buttons=texts.mood_buttons(
                                          self._tr, lang, f"ci:p:{day.strftime('%Y%m%d')}"),
                                      priority=Priority.BULK))], now)
                await store.commit()
            self._poke()

    # -- answers -------------------------------------------------------------------------------
    async def on_button(self, ctx: ButtonContext) -> Sequence[Action]:
        """A mood button: on a group prompt, a private prompt, or the buttons of `/checkin`."""
        parts = ctx.parts
        try:
            prompt_id = ctx.id_at(1)
            if len(parts) == 3 and parts[0] == "m" and prompt_id is not None:
                return await self._group_press(ctx, prompt_id, _mood(parts[2]))
            if len(parts) == 3 and parts[0] == "p" and re.fullmatch(r"\d{8}", parts[1]):
                day = date(int(parts[1][:4]), int(parts[1][4:6]), int(parts[1][6:]))
                return await self._private_press(ctx, day, _mood(parts[2]))
            if len(parts) == 2 and parts[0] == "c":
                return await self._command_press(ctx, _mood(parts[1]))
        except ValueError:
            pass
        return [ctx.toast(ctx.t("That button is no longer active."))]

    async def _group_press(self, ctx: ButtonContext, prompt_id: int,
                           mood: int | None) -> list[Action]:
        user = ctx.meta.sender
        async with self._store() as store:
            prompt = await store.checkins.prompt(prompt_id)
            group = await store.groups.by_id(prompt.group_id) if prompt else None
            if prompt is None or group is None or group.id is None:
                return [ctx.toast(ctx.t("That button is no longer active."))]
            if not await store.onboarding.has_consent(group.id, user):
                return [self._agree_first(ctx, group)]
            if (local_today(ctx.now, group.timezone) - date.fromisoformat(prompt.local_date)).days \
                    > STALE_AFTER_DAYS:
                return [ctx.toast(ctx.t("This check-in has closed. Today's is the newest one."))]
            before = await store.checkins.count_answers(group.id, prompt.local_date)
            await store.checkins.save_answer(Answer(
                group_id=group.id, user=user, local_date=prompt.local_date, mood=mood,
                prompt_id=prompt.id, via="group", at=ctx.now))
            count = await store.checkins.count_answers(group.id, prompt.local_date)
            stored_key = await store.checkins.prompt_message_key(prompt.id)
            person = await store.people.get(user)
            await store.commit()
        actions: list[Action] = [ctx.private(
            texts.acknowledgement(self._tr, _person_lang(person, ctx.lang), mood),
            interaction=ctx.event.interaction)]
        message = ctx.event.message or _message_ref(group, stored_key)
        # A changed answer leaves the count as it was: no edit (platforms rate-limit edits).
        if message is not None and count != before:
            actions.append(EditMessage(
                message=message, text=texts.group_prompt(self._tr, group.language, count),
                buttons=texts.mood_buttons(self._tr, group.language, f"ci:m:{prompt.id}")))
        if mood is not None and mood <= LOW_MOOD:
            await self._check_streak(group.id, user, _name(person, ctx))
        return actions

    async def _private_press(self, ctx: ButtonContext, day: date,
                             mood: int | None) -> list[Action]:
        user = ctx.meta.sender
        async with self._store() as store:
            person = await store.people.get(user)
            zone_name = person.timezone if person and person.timezone else self._default_zone
            if (local_today(ctx.now, zone_name) - day).days > STALE_AFTER_DAYS:
                return [ctx.toast(ctx.t("This check-in has closed. Today's is the newest one."))]
        return await self._answer_everywhere(ctx, mood, via="private", day=day)

    async def _command_press(self, ctx: ButtonContext, mood: int | None) -> list[Action]:
        return await self._answer_everywhere(ctx, mood, via="command", day=None)

    async def _answer_everywhere(self, situation: Situation, mood: int | None, *, via: str,
                                 day: date | None, note_given: bool = False) -> list[Action]:
        """Store an answer for the group of the chat, or for every group the person agreed to."""
        user = situation.meta.sender
        interaction = getattr(getattr(situation, "event", None), "interaction", None)
        async with self._store() as store:
            if situation.in_group and situation.group is not None:
                group = situation.group
                assert group.id is not None
                if not await store.onboarding.has_consent(group.id, user):
                    return [self._agree_first(situation, group)]
                groups = [group]
            else:
                groups = [g for g in [await store.groups.by_id(i) for i in
                                      await store.onboarding.consented_groups(user)]
                          if g is not None]
            if not groups:
                return [situation.private(situation.t(
                    "Check-ins belong to a group: please first press “I agree” on your group's "
                    "welcome message."), interaction=interaction)]
            for group in groups:
                assert group.id is not None
                local = day or local_today(situation.now, group.timezone)
                await store.checkins.save_answer(Answer(
                    group_id=group.id, user=user, local_date=local.isoformat(), mood=mood,
                    prompt_id=None, via=via, at=situation.now))
            person = await store.people.get(user)
            await store.commit()
        if mood is not None and mood <= LOW_MOOD:
            for group in groups:
                assert group.id is not None
                await self._check_streak(group.id, user, _name(person, situation))
        lang = _person_lang(person, situation.lang)
        text = texts.acknowledgement(self._tr, lang, mood)
        if note_given:
            text += " " + self._tr.tr(lang, "(I don't keep notes, only the number; share it in "
                                            "the group if you like.)")
        return [situation.private(text, interaction=interaction)]

    def _agree_first(self, situation: Situation, group: Group) -> Action:
        assert group.id is not None
        return situation.private(
            situation.t("Before you check in, please agree to the group's rules and how I handle "
                        "your data (/privacy)."),
            agree_buttons(self._tr, situation.lang, group.id),
            interaction=getattr(getattr(situation, "event", None), "interaction", None))

    async def _check_streak(self, group_id: int, user: UserRef, name: str) -> None:
        """Raise one quiet concern when the latest answers are three hard days in a row.

        The concern is recorded before the streak is marked, so a failure can repeat a concern
        but never lose one.
        """
        async with self._store() as store:
            recent = [a for a in await store.checkins.recent_answers(group_id, user, 10)
                      if a.mood is not None]
        streak = []
        for answer in recent:
            if answer.mood is None or answer.mood > LOW_MOOD:
                break
            streak.append(answer)
        if len(streak) < LOW_STREAK or any(a.flagged for a in streak):
            return
        await self._record_concern(group_id, user, name, "low_moods", "checkins")
        async with self._store() as store:
            await store.checkins.flag(streak[0].id)
            await store.commit()

    # -- member commands -----------------------------------------------------------------------
    async def checkin(self, ctx: CommandContext) -> Sequence[Action]:
        """`/checkin [1-5] [note]`: no number gives the mood buttons. Notes are never stored."""
        mood = ctx.args.integer("mood")
        note = ctx.args.text("note")
        if mood is None:
            prefix = ctx.t("I don't keep notes, only the number.") + " " if note else ""
            return [ctx.private(prefix + ctx.t("How are you today?") + "\n"
                                + texts.scale(self._tr, ctx.lang),
                                texts.mood_buttons(self._tr, ctx.lang, "ci:c"),
                                interaction=ctx.event.interaction)]
        return await self._answer_everywhere(ctx, mood, via="command", day=None,
                                             note_given=bool(note))

    async def pause(self, ctx: CommandContext) -> Sequence[Action]:
        """`/pause [days]`: no private prompts until then (or until /resume)."""
        days = ctx.args.integer("days")
        until = ctx.now + timedelta(days=days) if days else PAUSED_FOREVER
        person = await self._update_person(ctx, paused_until=until)
        if person is None:
            return [self._not_yet(ctx)]
        text = ctx.t("Paused until {date}. /resume starts your check-ins again.",
                     date=until.date().isoformat()) if days else ctx.t(
                     "Paused until you send /resume.")
        if not person.private_checkins:
            text += " " + ctx.t("(You don't get private check-ins now; the group's check-in is "
                                "for everyone, and you can always skip it.)")
        return [ctx.private(text, interaction=ctx.event.interaction)]

    async def resume(self, ctx: CommandContext) -> Sequence[Action]:
        """`/resume`."""
        person = await self._update_person(ctx, paused_until=None)
        if person is None:
            return [self._not_yet(ctx)]
        return [ctx.private(ctx.t("Welcome back: your check-ins are on again."),
                            interaction=ctx.event.interaction)]

    async def _update_person(self, ctx: CommandContext,
                             paused_until: datetime | None) -> Person | None:
        async with self._store() as store:
            person = await store.people.get(ctx.meta.sender)
            if person is None or person.consented_at is None:
                return None
            person = replace(person, paused_until=paused_until)
            await store.people.save(person)
            await store.commit()
        return person

    def _not_yet(self, ctx: CommandContext) -> Action:
        return ctx.private(ctx.t("Please first press “I agree” on your group's welcome message."),
                           interaction=ctx.event.interaction)

    # -- facilitator commands ------------------------------------------------------------------
    async def set_time(self, ctx: CommandContext) -> Sequence[Action]:
        """`/checkins at HH:MM`."""
        assert ctx.group is not None
        at = ctx.args.get("time")
        assert isinstance(at, time)
        return await self._reschedule(ctx, ctx.group.with_changes(checkin_time=at), "at")

    async def set_days(self, ctx: CommandContext) -> Sequence[Action]:
        """`/checkins days mon,tue,…`."""
        assert ctx.group is not None
        days = ctx.args.get("days")
        assert isinstance(days, tuple)
        return await self._reschedule(ctx, ctx.group.with_changes(checkin_days=days), "days")

    async def turn_off(self, ctx: CommandContext) -> Sequence[Action]:
        """`/checkins off`."""
        assert ctx.group is not None
        await self._save_group(ctx, ctx.group.with_changes(checkin_time=None), "off")
        return [ctx.answer(ctx.t("Daily check-ins are off. /checkins at HH:MM turns them on."))]

    async def _reschedule(self, ctx: CommandContext, group: Group, what: str) -> Sequence[Action]:
        at = group.checkin_time
        skipped_today = False
        async with self._store() as store:
            await store.groups.save(group)
            await store.audit.record(at=ctx.now, actor=ctx.meta.sender, action=f"checkins.{what}",
                                     subject=f"group:{group.id}", group_id=group.id)
            if at is not None and group.id is not None:
                today = local_today(ctx.now, group.timezone)
                passed = occurrence_on(today, at, group.timezone).at <= ctx.now
                if passed and today.weekday() in group.checkin_days:
                    # Setting a time that has already passed must not post a prompt at once.
                    skipped_today = await store.checkins.claim_prompt(
                        group.id, today.isoformat(), kind=SKIPPED, scheduled_for=None,
                        at=ctx.now) is not None
            await store.commit()
        if at is None:
            return [ctx.answer(ctx.t("Saved. Daily check-ins are off; /checkins at HH:MM turns "
                                     "them on."))]
        days = ", ".join(ctx.t(DAY_LABELS[d]) for d in group.checkin_days)
        text = ctx.t("Daily check-ins: {time} ({zone}) on {days}.", time=at.strftime("%H:%M"),
                     zone=group.timezone, days=days)
        if skipped_today:
            text += " " + ctx.t("Today's time has passed, so the first comes next time.")
        return [ctx.answer(text)]

    async def _save_group(self, ctx: CommandContext, group: Group, what: str) -> None:
        async with self._store() as store:
            await store.groups.save(group)
            await store.audit.record(at=ctx.now, actor=ctx.meta.sender, action=f"checkins.{what}",
                                     subject=f"group:{group.id}", group_id=group.id)
            await store.commit()

    async def post_now(self, ctx: CommandContext) -> Sequence[Action]:
        """`/checkins now`: today's prompt at once (it counts as today's: never a second)."""
        group = ctx.group
        assert group is not None and group.id is not None
        today = local_today(ctx.now, group.timezone).isoformat()
        async with self._store() as store:
            prompt_id = await store.checkins.claim_prompt(group.id, today, kind=MANUAL,
                                                          scheduled_for=None, at=ctx.now)
            if prompt_id is None:
                existing = await store.checkins.prompt_on(group.id, today)
                if existing is not None and existing.kind == SKIPPED and \
                        await store.checkins.reclaim_skipped(existing.id, ctx.now):
                    prompt_id = existing.id
            if prompt_id is None:
                return [ctx.answer(ctx.t("Today's check-in has already been posted."))]
            await add_all(store, [self._prompt_delivery(group, prompt_id)], ctx.now)
            await store.audit.record(at=ctx.now, actor=ctx.meta.sender, action="checkins.now",
                                     subject=f"group:{group.id}", group_id=group.id)
            await store.commit()
        self._poke()
        return [ctx.private(ctx.t("Posted today's check-in."), interaction=ctx.event.interaction)]

    # -- reports -------------------------------------------------------------------------------
    async def report(self, ctx: CommandContext) -> Sequence[Action]:
        """`/report [days]` (default 7): sent to the facilitator privately."""
        group = ctx.group
        assert group is not None and group.id is not None
        days = ctx.args.integer("days") or 7
        last = local_today(ctx.now, group.timezone)
        text, image = await self._report(group, last - timedelta(days=days - 1), last, ctx.lang)
        if not ctx.in_group:
            return [SendMessage(to=ctx.meta.chat, text=text, image=image,
                                answers=ctx.event.interaction)]
        return [
            ctx.private(ctx.t("I'm sending you the report in our private chat."),
                        interaction=ctx.event.interaction),
            SendDirect(to=ctx.meta.sender, text=text, image=image, fallback=ctx.meta.chat,
                       fallback_text=ctx.t("{name}, I can't write to you privately yet: open a "
                                           "private chat with me and send /report there.",
                                           name=ctx.meta.sender_name)),
        ]

    async def _report(self, group: Group, first: date, last: date,
                      lang: str) -> tuple[str, Image | None]:
        assert group.id is not None
        span = (last - first).days + 1
        async with self._store() as store:
            answers = await store.checkins.answers_between(group.id, first.isoformat(),
                                                           last.isoformat())
            before = await store.checkins.answers_between(
                group.id, (first - timedelta(days=span)).isoformat(),
                (first - timedelta(days=1)).isoformat())
            members = await store.onboarding.member_count(group.id)
        report = build_report(first, last, answers, before, members)
        title = group.title or group.key
        text = report_text(self._tr, lang, title, report)
        if report.empty:
            return text, None
        png = await asyncio.to_thread(render_chart, report, self._labels(lang, title, report))
        return text, Image(filename=f"checkins-{first.isoformat()}-{last.isoformat()}.png",
                           content=png)

    def _labels(self, lang: str, title: str, report: Report) -> ChartLabels:
        return ChartLabels(
            title=self._tr.tr(lang, "Check-ins in {group}, {first} to {last}", group=title,
                              first=report.first.isoformat(), last=report.last.isoformat()),
            answers=self._tr.tr(lang, "check-ins"), mood=self._tr.tr(lang, "average mood (1-5)"))

    async def report_sweep(self) -> None:
        """Each Monday from 09:00 group time, the week's report to each facilitator, once."""
        now = self._clock.now()
        async with self._store() as store:
            groups = await store.checkins.scheduled_groups()
        due: list[tuple[Group, date, str]] = []
        for group in groups:
            local = now.astimezone(zone(group.timezone))
            monday = local.date() - timedelta(days=local.weekday() - REPORT_WEEKDAY)
            if now >= occurrence_on(monday, REPORT_TIME, group.timezone).at:
                due.append((group, monday, iso_week(monday)))
        if not due:
            return
        async with self._store() as store:
            claimed = await store.checkins.reports_claimed(sorted({p for _, _, p in due}))
        for group, monday, period in due:
            assert group.id is not None
            if (group.id, period) not in claimed:
                await self._weekly_report(group, monday, period, now)

    async def _weekly_report(self, group: Group, monday: date, period: str,
                             now: datetime) -> None:
        assert group.id is not None
        first, last = monday - timedelta(days=7), monday - timedelta(days=1)
        text, image = await self._report(group, first, last, group.language)
        async with self._store() as store:
            if not await store.checkins.claim_report(group.id, period, now):
                return  # another process sent it meanwhile
            deliveries = []
            for member in await store.memberships.staff(group.id):
                if member.role < Role.FACILITATOR:
                    continue
                person = await store.people.get(member.user)
                if person is None or not person.can_message:
                    continue
                deliveries.append(NewDelivery(
                    dedupe_key=f"ci:report:{group.id}:{period}:{member.user.key}",
                    recipient=f"user:{member.user.key}",
                    action=SendDirect(to=member.user, text=text, image=image,
                                      priority=Priority.BULK)))
            await add_all(store, deliveries, now)
            await store.commit()
        self._poke()

    async def cleanup_sweep(self) -> None:
        """Forget private-prompt claims once they can no longer prevent a repeat."""
        async with self._store() as store:
            await store.checkins.forget_private_before(self._clock.now() - PRIVATE_CLAIM_KEPT)
            await store.commit()


def _mood(raw: str) -> int | None:
    mood = int(raw)
    if not SKIP <= mood <= 5:
        raise ValueError(raw)
    return None if mood == SKIP else mood


def _person_lang(person: Person | None, fallback: str) -> str:
    return person.language if person and person.language else fallback


def _name(person: Person | None, situation: Situation) -> str:
    return (person.display_name if person and person.display_name else "") or \
        situation.meta.sender_name


def _message_ref(group: Group, stored_key: str | None) -> MessageRef | None:
    """The prompt's message from the outbox's record ("platform:chat:message")."""
    if not stored_key:
        return None
    _chat_key, _, message_id = stored_key.rpartition(":")
    return MessageRef(group.home_chat, message_id) if message_id else None
