"""Group management commands: /setup, /group, /facilitator, /moderator, /alerts, /oncall, /help, /rules."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime

from bot.core.actions import Action, FormField, SendDirect, SendMessage, ShowForm
from bot.core.commands import CommandRegistry, CommandSpec, Param
from bot.core.context import CommandContext, FormContext, Situation
from bot.core.events import GroupMigrated, InboundEvent, Mention
from bot.core.i18n import LANGUAGE_NAMES, N_, SUPPORTED_LANGUAGES, Translator
from bot.core.identity import UserRef
from bot.core.models import AlertSubscription, Group, Membership
from bot.core.places import find_country, find_timezone
from bot.core.ports import VisibilityReport
from bot.core.roles import Role
from bot.groups.ports import GroupsStore
from bot.outbox import NewDelivery, add_all

StoreFactory = Callable[[], AbstractAsyncContextManager[GroupsStore]]
VisibilityCheck = Callable[[str], Awaitable[VisibilityReport]]
AdminLookup = Callable[[str], Awaitable[list[UserRef]]]

MAX_RULES_CHARS = 3000
DAY_LABELS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


class GroupService:
    """Registers groups, changes their settings and grants roles."""

    def __init__(
        self,
        *,
        store: StoreFactory,
        registry: CommandRegistry,
        check_visibility: VisibilityCheck,
        lookup_admins: AdminLookup,
        defaults: Group,
        translator: Translator,
        forms_supported: Callable[[str], bool] = lambda _platform: False,
    ) -> None:
        self._forms_supported = forms_supported
        self._tr = translator
        self._store = store
        self._registry = registry
        self._check_visibility = check_visibility
        self._lookup_admins = lookup_admins
        self._defaults = defaults

    def commands(self) -> list[CommandSpec]:
        """The commands this capability owns."""
        user = Param(name="user", kind="user")
        return [
            CommandSpec(name="help", role=Role.MEMBER, usage=N_("/help"),
                        summary=N_("what I can do for you"), handler=self.help),
            CommandSpec(name="rules", role=Role.MEMBER, usage=N_("/rules"),
                        summary=N_("the group's rules"), where="group", handler=self.rules),
            CommandSpec(name="setup", role=Role.FACILITATOR, usage=N_("/setup"),
                        summary=N_("register this group and show its settings"),
                        handler=self.setup),
            CommandSpec(
                name="group", role=Role.FACILITATOR,
                usage=N_("/group rules|welcome|timezone|language|region VALUE"),
                summary=N_("change the group's settings"), where="group",
                subcommands=(
                    CommandSpec(name="rules", role=Role.FACILITATOR, where="group",
                                usage=N_("/group rules TEXT"), summary="",
                                params=(Param(name="text", kind="rest", optional=True),),
                                handler=self.set_rules),
                    CommandSpec(name="welcome", role=Role.FACILITATOR, where="group",
                                usage=N_("/group welcome TEXT"), summary="",
                                params=(Param(name="text", kind="rest", optional=True),),
                                handler=self.set_welcome),
                    CommandSpec(name="timezone", role=Role.FACILITATOR, where="group",
                                usage=N_("/group timezone CITY-OR-ZONE (e.g. Madrid, "
                                         "America/Chicago)"), summary="",
                                params=(Param(name="zone", kind="rest"),),
                                handler=self.set_timezone),
                    CommandSpec(name="language", role=Role.FACILITATOR, where="group",
                                usage=N_("/group language en|es"), summary="",
                                params=(Param(name="language", kind="choice",
                                              choices=SUPPORTED_LANGUAGES),),
                                handler=self.set_language),
                    CommandSpec(name="region", role=Role.FACILITATOR, where="group",
                                usage=N_("/group region COUNTRY (e.g. US, GB, ES, MX)"),
                                summary="", params=(Param(name="region", kind="rest"),),
                                handler=self.set_region),
                    CommandSpec(name="hold", role=Role.FACILITATOR, where="group",
                                usage=N_("/group hold on|off"), summary="",
                                params=(Param(name="state", kind="choice",
                                              choices=("on", "off")),),
                                handler=self.set_hold),
                ),
            ),
            CommandSpec(
                name="facilitator", role=Role.FACILITATOR,
                usage=N_("/facilitator add|remove @user"),
                summary=N_("make someone a facilitator of this group, or stop"), where="group",
                subcommands=(
                    CommandSpec(name="add", role=Role.FACILITATOR, where="group",
                                usage=N_("/facilitator add @user"), summary="",
                                params=(user,), handler=self._grant(Role.FACILITATOR)),
                    CommandSpec(name="remove", role=Role.FACILITATOR, where="group",
                                usage=N_("/facilitator remove @user"), summary="",
                                params=(user,), handler=self._revoke(Role.FACILITATOR)),
                ),
            ),
            CommandSpec(
                name="moderator", role=Role.FACILITATOR, usage=N_("/moderator add|remove @user"),
                summary=N_("make someone a moderator (they receive alerts), or stop"),
                where="group",
                subcommands=(
                    CommandSpec(name="add", role=Role.FACILITATOR, where="group",
                                usage=N_("/moderator add @user"), summary="",
                                params=(user,), handler=self._grant(Role.MODERATOR)),
                    CommandSpec(name="remove", role=Role.FACILITATOR, where="group",
                                usage=N_("/moderator remove @user"), summary="",
                                params=(user,), handler=self._revoke(Role.MODERATOR)),
                ),
            ),
            CommandSpec(
                name="alerts", role=Role.MODERATOR, usage=N_("/alerts here|off"),
                summary=N_("receive crisis alerts in this chat, or stop"),
                subcommands=(
                    CommandSpec(name="here", role=Role.MODERATOR, usage=N_("/alerts here"),
                                summary="", handler=self.alerts_here),
                    CommandSpec(name="off", role=Role.MODERATOR, usage=N_("/alerts off"),
                                summary="", handler=self.alerts_off),
                ),
            ),
            CommandSpec(name="oncall", role=Role.MODERATOR, usage=N_("/oncall on|off"),
                        summary=N_("say whether you are on duty for alerts now"),
                        params=(Param(name="state", kind="choice", choices=("on", "off")),),
                        handler=self.oncall),
        ]

    async def follow_migration(self, event: InboundEvent, situation: Situation) -> Sequence[Action]:
        """Keep a group's settings when its chat changes id (Telegram supergroup upgrade)."""
        if not isinstance(event, GroupMigrated) or event.meta.group is None:
            return []
        async with self._store() as store:
            if await store.groups.by_key(event.new_group) is None:
                await store.groups.rekey(event.meta.group, event.new_group, event.new_chat)
                await store.audit.record(at=situation.now, actor=None, action="group.migrated",
                                         subject=f"group:{event.new_group}")
                await store.commit()
        return []

    # -- member commands ---------------------------------------------------------------------
    async def help(self, ctx: CommandContext) -> Sequence[Action]:
        """List the commands the caller may use, by role."""
        lines = [ctx.t("Here is what you can use:")]
        for spec in self._registry.visible_to(ctx.role):
            lines.append(f"{ctx.t(spec.usage)} — {ctx.t(spec.summary)}")
        if ctx.role == Role.MEMBER:
            lines.append(ctx.t("If you are struggling right now, send /sos and a facilitator "
                               "will be told at once."))
        return [ctx.answer("\n".join(lines))]

    async def rules(self, ctx: CommandContext) -> Sequence[Action]:
        """Show the group's rules."""
        assert ctx.group is not None
        if not ctx.group.rules:
            return [ctx.answer(ctx.t("This group has no written rules yet. Be kind, keep what "
                                     "others share private, and look after yourself."))]
        return [ctx.answer(ctx.t("The rules of this group:") + "\n" + ctx.group.rules)]

    # -- facilitator commands ----------------------------------------------------------------
    async def setup(self, ctx: CommandContext) -> Sequence[Action]:
        """Register the group (first time) and show its settings and what the bot can see."""
        meta = ctx.meta
        if not ctx.in_group or meta.group is None:
            return [ctx.answer(ctx.t("Please send /setup in the group chat you want me to "
                                     "look after."))]
        admins = await self._lookup_admins(meta.group)
        created = False
        async with self._store() as store:
            group = await store.groups.by_key(meta.group)
            if group is None:
                group = await store.groups.add(self._defaults.with_changes(
                    key=meta.group, platform=meta.chat.platform, home_chat=meta.chat,
                    title=meta.group_title, created_at=ctx.now))
                created = True
                await store.audit.record(at=ctx.now, actor=meta.sender, action="group.setup",
                                         subject=f"group:{group.id}", group_id=group.id)
            elif meta.group_title and meta.group_title != group.title:
                group = group.with_changes(title=meta.group_title)
                await store.groups.save(group)
            assert group.id is not None
            if admins:  # the platform's own list: former admins are admins no more
                for former in await store.memberships.staff(group.id):
                    if former.is_platform_admin and former.user not in admins \
                            and former.user != meta.sender:
                        await store.memberships.save(replace(former, is_platform_admin=False))
            for admin in {*admins, meta.sender}:
                current = await store.memberships.get(group.id, admin)
                if current is None or not current.is_platform_admin:
                    await store.memberships.save(Membership(
                        group_id=group.id, user=admin,
                        display_name=current.display_name if current else (
                            meta.sender_name if admin == meta.sender else ""),
                        granted_role=current.granted_role if current else Role.MEMBER,
                        is_platform_admin=True, on_call=current.on_call if current else False))
            await store.commit()
        report = await self._check_visibility(meta.group)
        situation = _in_language(ctx, group.language)
        text = situation.t("This group is set up. I will welcome new members, run check-ins "
                           "and watch for crisis messages.") if created else situation.t(
                           "This group is already set up.")
        lines = [text, self.describe(group, situation)]
        if not report.can_read_all_messages:
            lines.append(situation.t(
                "Warning: I cannot read every message here, so crisis screening would miss "
                "messages in silence. Please fix this:"))
            lines.extend(f"• {situation.t(problem)}" for problem in report.problems)
        return [situation.reply("\n".join(lines))]

    async def warn_where_blind(self, platforms: Collection[str], now: datetime) -> int:
        """At start: tell each group's facilitators plainly when screening cannot see messages.

        Once a day per group at most (the outbox de-duplicates by group and date). Returns the
        number of groups warned.
        """
        async with self._store() as store:
            groups = [g for g in await store.groups.all() if g.platform in platforms]
        warned = 0
        for group in groups:
            report = await self._check_visibility(group.key)
            if report.can_read_all_messages or group.id is None:
                continue
            lang = group.language
            text = "\n".join([self._tr.tr(lang, "Warning: I cannot read every message in {group}, "
                                                 "so crisis screening would miss messages in "
                                                 "silence. Please fix this:",
                                           group=group.title or group.key),
                              *(f"• {self._tr.tr(lang, p)}" for p in report.problems)])
            day = now.date().isoformat()
            async with self._store() as store:
                staff = [m for m in await store.memberships.staff(group.id)
                         if m.role >= Role.FACILITATOR]
                deliveries = []
                for member in staff:
                    person = await store.people.get(member.user)
                    if person is not None and person.can_message:
                        deliveries.append(NewDelivery(
                            dedupe_key=f"blind:{group.id}:{day}:{member.user.key}",
                            action=SendDirect(to=member.user, text=text),
                            recipient=member.user.key))
                if not deliveries:
                    deliveries.append(NewDelivery(dedupe_key=f"blind:{group.id}:{day}:group",
                                                  action=SendMessage(to=group.home_chat,
                                                                     text=text)))
                await add_all(store, deliveries, now)
                await store.commit()
            warned += 1
        return warned

    def describe(self, group: Group, situation: Situation) -> str:
        """The group's settings, one per line."""
        if group.checkin_time is None:
            checkins = situation.t("off")
        else:
            days = ", ".join(situation.t(DAY_LABELS[d]) for d in group.checkin_days)
            checkins = situation.t("{time} on {days}", time=group.checkin_time.strftime("%H:%M"),
                                   days=days)
        return "\n".join([
            situation.t("Settings:"),
            situation.t("• language: {language}", language=LANGUAGE_NAMES[group.language]),
            situation.t("• time zone: {zone}", zone=group.timezone),
            situation.t("• region (crisis lines): {region}", region=group.region),
            situation.t("• daily check-ins: {checkins}", checkins=checkins),
            situation.t("• hold new members until they agree: {hold}",
                        hold=situation.t("yes") if group.hold_new_members else situation.t("no")),
        ])

    async def _save(self, situation: Situation, group: Group, what: str) -> None:
        async with self._store() as store:
            await store.groups.save(group)
            await store.audit.record(at=situation.now, actor=situation.meta.sender,
                                     action=f"group.{what}", subject=f"group:{group.id}",
                                     group_id=group.id)
            await store.commit()

    async def set_rules(self, ctx: CommandContext) -> Sequence[Action]:
        """`/group rules TEXT` (no text, where the platform has forms: a form to write them)."""
        return await self._set_text(ctx, "rules")

    async def set_welcome(self, ctx: CommandContext) -> Sequence[Action]:
        """`/group welcome TEXT` (no text, where the platform has forms: a form to write it)."""
        return await self._set_text(ctx, "welcome")

    async def _set_text(self, ctx: CommandContext, what: str) -> Sequence[Action]:
        assert ctx.group is not None
        text = ctx.args.text("text")[:MAX_RULES_CHARS]
        if not text:
            if ctx.event.interaction is not None and self._forms_supported(ctx.meta.chat.platform):
                current = ctx.group.rules if what == "rules" else ctx.group.welcome
                title = (ctx.t("The group's rules") if what == "rules"
                         else ctx.t("The welcome new members see"))
                return [ShowForm(to=ctx.meta.sender, chat=ctx.meta.chat, form=f"group_{what}",
                                 title=title, interaction=ctx.event.interaction,
                                 fields=(FormField(name="text", label=title, long=True,
                                                   value=current[:MAX_RULES_CHARS]),))]
            return [ctx.answer(ctx.t("Usage: {usage}", usage=ctx.t(ctx.spec.usage)))]
        return [ctx.answer(await self._save_text(ctx, ctx.group, what, text))]

    async def _save_text(self, situation: Situation, group: Group, what: str, text: str) -> str:
        if what == "rules":
            await self._save(situation, group.with_changes(rules=text), "rules")
            return situation.t("Saved the group's rules.")
        await self._save(situation, group.with_changes(welcome=text), "welcome")
        return situation.t("Saved the welcome message new members will see.")

    async def on_form(self, ctx: FormContext) -> Sequence[Action]:
        """A submitted rules or welcome form (Discord modals)."""
        what = ctx.event.form.removeprefix("group_")
        text = dict(ctx.event.values).get("text", "").strip()[:MAX_RULES_CHARS]
        if ctx.group is None or ctx.role < Role.FACILITATOR:
            return [ctx.private(ctx.t("Sorry, only a group facilitator can change this."),
                                interaction=ctx.event.interaction)]
        if what not in ("rules", "welcome") or not text:
            return [ctx.private(ctx.t("Nothing was saved: the text was empty."),
                                interaction=ctx.event.interaction)]
        return [ctx.private(await self._save_text(ctx, ctx.group, what, text),
                            interaction=ctx.event.interaction)]

    async def set_timezone(self, ctx: CommandContext) -> Sequence[Action]:
        """`/group timezone ZONE` (an IANA name, a city or a country)."""
        assert ctx.group is not None
        zone = find_timezone(ctx.args.text("zone"))
        if zone is None:
            return [ctx.answer(ctx.t("I don't know that time zone. Try a city such as Madrid or "
                                     "Chicago, or a name such as America/Chicago."))]
        await self._save(ctx, ctx.group.with_changes(timezone=zone), "timezone")
        return [ctx.answer(ctx.t("The group's time zone is now {zone}.", zone=zone))]

    async def set_language(self, ctx: CommandContext) -> Sequence[Action]:
        """`/group language en|es`: the group's replies switch at once."""
        assert ctx.group is not None
        language = ctx.args.text("language")
        await self._save(ctx, ctx.group.with_changes(language=language), "language")
        situation = _in_language(ctx, language)
        return [situation.reply(situation.t("From now on I will write in English in this group."))]

    async def set_region(self, ctx: CommandContext) -> Sequence[Action]:
        """`/group region CC`: which country's crisis lines members are given."""
        assert ctx.group is not None
        region = find_country(ctx.args.text("region"))
        if region is None:
            return [ctx.answer(ctx.t("I don't know that country. Use a two-letter code such as "
                                     "US, GB, ES or MX."))]
        await self._save(ctx, ctx.group.with_changes(region=region), "region")
        return [ctx.answer(ctx.t("The group's region is now {region}; members will be given "
                                 "that country's crisis lines.", region=region))]

    async def set_hold(self, ctx: CommandContext) -> Sequence[Action]:
        """`/group hold on|off`: hold new members until they agree to the rules."""
        assert ctx.group is not None
        hold = ctx.args.text("state") == "on"
        await self._save(ctx, ctx.group.with_changes(hold_new_members=hold), "hold")
        return [ctx.answer(ctx.t("New members will wait until they agree to the rules.") if hold
                           else ctx.t("New members join straight away."))]

    def _grant(self, role: Role) -> Callable[[CommandContext], Awaitable[Sequence[Action]]]:
        async def grant(ctx: CommandContext) -> Sequence[Action]:
            assert ctx.group is not None and ctx.group.id is not None
            mention = ctx.args.get("user")
            assert isinstance(mention, Mention)
            async with self._store() as store:
                current = await store.memberships.get(ctx.group.id, mention.user)
                await store.memberships.save(Membership(
                    group_id=ctx.group.id, user=mention.user,
                    display_name=mention.name or (current.display_name if current else ""),
                    granted_role=max(role, current.granted_role) if current else role,
                    is_platform_admin=current.is_platform_admin if current else False,
                    on_call=current.on_call if current else False))
                await store.audit.record(at=ctx.now, actor=ctx.meta.sender,
                                         action=f"role.grant.{role.label}",
                                         subject=f"user:{mention.user.key}",
                                         group_id=ctx.group.id)
                await store.commit()
            name = _display(mention)
            if role == Role.FACILITATOR:
                return [ctx.answer(ctx.t("{name} is now a facilitator of this group.", name=name))]
            return [ctx.answer(ctx.t("{name} is now a moderator of this group and will receive "
                                     "its alerts once they start a private chat with me.",
                                     name=name))]
        return grant

    def _revoke(self, role: Role) -> Callable[[CommandContext], Awaitable[Sequence[Action]]]:
        async def revoke(ctx: CommandContext) -> Sequence[Action]:
            assert ctx.group is not None and ctx.group.id is not None
            mention = ctx.args.get("user")
            assert isinstance(mention, Mention)
            name = _display(mention)
            async with self._store() as store:
                current = await store.memberships.get(ctx.group.id, mention.user)
                if current is None or current.granted_role != role:
                    if current is not None and current.is_platform_admin:
                        return [ctx.answer(ctx.t(
                            "{name} is an admin of this group on the platform, so they stay a "
                            "facilitator until that changes.", name=name))]
                    return [ctx.answer(ctx.t("{name} did not have that role.", name=name))]
                await store.memberships.save(Membership(
                    group_id=ctx.group.id, user=mention.user, display_name=current.display_name,
                    granted_role=Role.MEMBER, is_platform_admin=current.is_platform_admin,
                    on_call=False))
                await store.audit.record(at=ctx.now, actor=ctx.meta.sender,
                                         action=f"role.revoke.{role.label}",
                                         subject=f"user:{mention.user.key}",
                                         group_id=ctx.group.id)
                await store.commit()
            return [ctx.answer(ctx.t("{name} no longer has that role.", name=name))]
        return revoke

    async def alerts_here(self, ctx: CommandContext) -> Sequence[Action]:
        """`/alerts here`: this chat receives the alerts of every group the caller staffs."""
        if ctx.in_group and ctx.group is not None and not ctx.meta.staff_only:
            return [ctx.answer(ctx.t("Alerts must not go to a support group. Send /alerts here "
                                     "in a private chat with me, or in a staff-only chat."))]
        async with self._store() as store:
            staff = await store.memberships.staff_groups(ctx.meta.sender)
            if not staff:
                return [ctx.answer(ctx.t("You are not a moderator or facilitator of any group "
                                         "yet."))]
            added = await store.alert_subscriptions.add(AlertSubscription(
                chat=ctx.meta.chat, subscriber=ctx.meta.sender))
            if ctx.meta.chat.kind == "direct":
                person = await store.people.get(ctx.meta.sender)
                if person is not None and not person.can_message:
                    await store.people.save(replace(person, can_message=True))
            await store.audit.record(at=ctx.now, actor=ctx.meta.sender, action="alerts.here",
                                     subject=f"chat:{ctx.meta.chat.key}")
            await store.commit()
        names = ", ".join(g.title or g.key for g, _ in staff)
        if not added:
            return [ctx.answer(ctx.t("This chat already receives alerts for: {groups}.",
                                     groups=names))]
        return [ctx.answer(ctx.t("This chat will now receive alerts for: {groups}.",
                                 groups=names))]

    async def alerts_off(self, ctx: CommandContext) -> Sequence[Action]:
        """`/alerts off`: stop alerts in this chat."""
        async with self._store() as store:
            removed = await store.alert_subscriptions.remove(ctx.meta.chat, ctx.meta.sender)
            await store.audit.record(at=ctx.now, actor=ctx.meta.sender, action="alerts.off",
                                     subject=f"chat:{ctx.meta.chat.key}")
            await store.commit()
        return [ctx.answer(ctx.t("This chat will no longer receive alerts.") if removed else
                           ctx.t("This chat was not receiving alerts."))]

    async def oncall(self, ctx: CommandContext) -> Sequence[Action]:
        """`/oncall on|off` in each group (or every group, in a private chat)."""
        on = ctx.args.text("state") == "on"
        groups = [ctx.group] if ctx.group is not None else [g for g, _ in ctx.staff_groups]
        async with self._store() as store:
            for group in groups:
                if group is None or group.id is None:
                    continue
                current = await store.memberships.get(group.id, ctx.meta.sender)
                if current is None or current.role < Role.MODERATOR:
                    continue
                await store.memberships.save(Membership(
                    group_id=group.id, user=ctx.meta.sender,
                    display_name=ctx.meta.sender_name or current.display_name,
                    granted_role=current.granted_role,
                    is_platform_admin=current.is_platform_admin, on_call=on))
                await store.audit.record(at=ctx.now, actor=ctx.meta.sender,
                                         action="oncall.on" if on else "oncall.off",
                                         subject=f"user:{ctx.meta.sender.key}", group_id=group.id)
            await store.commit()
        return [ctx.answer(ctx.t("You are on duty: alerts come to you first.") if on else
                           ctx.t("You are off duty. Alerts go to whoever is on duty, or to "
                                 "everyone when no one is."))]


def _display(mention: Mention) -> str:
    name = mention.name or mention.token
    return re.sub(r"[\r\n]", " ", name)[:64]


def _in_language(ctx: CommandContext, language: str) -> CommandContext:
    # Still the command's context, so a public reply answers the command it came from.
    return replace(ctx, lang=language)

