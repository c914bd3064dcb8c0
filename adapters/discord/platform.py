"""The Discord platform: discord.py's client in the shared loop, its events, and their lifecycle.

Guarantees:
    * `start` returns once the gateway is ready and slash commands are synced (or raises
      DiscordLoginError naming DISCORD_BOT_TOKEN); without the privileged intents it still
      starts, so commands and buttons work, and reports plainly that screening is blind.
    * Every message, edit, join, leave, slash command, button press and form submit is handed to
      the inbox once per process; history read after downtime is handed over marked late, and
      the core's event ids make a message handled once across restarts.
    * Every interaction gets an answer within Discord's three seconds (see outbound.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
import discord
import yarl

from adapters.discord import translate
from adapters.discord.config import DISCORD_API_BASE_URL, DISCORD_GATEWAY_URL, DiscordConfig
from adapters.discord.interactions import Interactions, SlotKind
from adapters.discord.outbound import Outbound
from adapters.discord.translate import PLATFORM
from bot.core.actions import Action, Delivered, Priority, SendPrivateReply
from bot.core.commands import CommandInfo
from bot.core.events import Attachment, InboundEvent
from bot.core.i18n import N_, Translator
from bot.core.identity import ChatRef, UserRef
from bot.core.ports import Capabilities, Inbox, VisibilityReport
from bot.settings import SettingsError

log = logging.getLogger(__name__)

CONTENT_INTENT_OFF = N_(
    "Discord's Message Content intent is off: open the Developer Portal, Bot, Privileged Gateway "
    "Intents, switch on Message Content Intent and Server Members Intent, then restart Kindred.")
MEMBERS_INTENT_OFF = N_(
    "Discord's Server Members intent is off, so I cannot see who joins or leaves: open the "
    "Developer Portal, Bot, Privileged Gateway Intents, switch on Server Members Intent, then "
    "restart Kindred.")
CHANNELS_HIDDEN = N_(
    "I cannot read some channels, so crisis screening would miss messages there. Give Kindred "
    "the View Channel and Read Message History permissions in:")
NOT_IN_SERVER = N_("Kindred is not in this Discord server any more: invite it again with the link "
                 "in the README.")
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
MAX_LISTED_CHANNELS = 10
MAX_CLAIMED = 50_000
MAX_CATCH_UP = timedelta(days=7)  # never read further back than this at start
MAX_ATTACHMENT_BYTES = 1_000_000
RATE_LIMIT_WAIT_S = 30.0  # discord.py sleeps through shorter 429s itself; longer ones come to us
RECONNECT_OVERLAP = timedelta(minutes=5)
_USER_MENTION = re.compile(r"^<@!?(\d{1,20})>$")
Delivery = Literal["handled", "duplicate", "failed"]


class DiscordStartError(SettingsError):
    """Discord could not be reached or refused us at start; the message is one clear line."""


class DiscordLoginError(DiscordStartError):
    """Discord refused DISCORD_BOT_TOKEN."""


class _Client(discord.Client):
    """discord.Client whose events go to the platform (which knows the core)."""

    def __init__(self, platform: DiscordPlatform, **options: Any) -> None:
        super().__init__(**options)
        self.platform = platform

    async def on_ready(self) -> None:
        await self.platform._on_ready(self)

    async def on_resumed(self) -> None:
        self.platform._disconnected_at = None  # a resumed session replays what we missed

    async def on_disconnect(self) -> None:
        self.platform._note_disconnect(self)

    async def on_message(self, message: discord.Message) -> None:
        await self.platform._on_message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.platform._on_edit(payload)

    async def on_member_join(self, member: discord.Member) -> None:
        await self.platform._on_member_join(member)

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        await self.platform._on_member_remove(payload)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await self.platform._on_interaction(interaction)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("Discord event handler failed", extra={"event": event_method})


class DiscordPlatform:
    """Discord through discord.py 2.x: one server is one support group."""

    name = PLATFORM
    capabilities = Capabilities(buttons=True, direct_messages=True,
                                max_text_length=2000, forms=True)

    def __init__(self, config: DiscordConfig) -> None:
        self.config = config
        self.guild_ready_timeout = config.guild_ready_timeout
        self._catalogue: dict[str, CommandInfo] = {c.name: c for c in config.commands}
        self._slots = Interactions()
        self._outbound = Outbound(config, self._slots, lambda: self._client)
        self._translator = Translator()
        self._inbox: Inbox | None = None
        self._client: _Client | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._started = False
        self._synced = False
        self._content_intent = True
        self._members_intent = True
        self._disconnected_at: datetime | None = None
        self._claimed: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inflight: set[asyncio.Task[Any]] = set()
        self._saved_urls: tuple[str, yarl.URL] | None = None
        self._caught_up = asyncio.Event()
        self._catch_up_tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.catch_ups = 0
        now = time.monotonic()
        self._buckets = {"all": (config.max_sends_per_second + config.alert_headroom_per_second,
                                 now),
                         "bulk": (config.max_sends_per_second, now)}

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, inbox: Inbox) -> None:
        """Log in, connect the gateway as a task in this loop, sync commands, begin catch-up.

        Raises:
            DiscordLoginError: Discord refused the token.
            DiscordStartError: Discord's API or gateway could not be reached or refused us.
        """
        if self._client is not None:
            return
        self._inbox = inbox
        self._stopping = False
        _quiet_library_logs()
        self._patch_urls()
        try:
            await self._connect_with_fallback()
        except BaseException:
            await self._close_client()
            self._restore_urls()
            raise
        for problem in self._intent_problems():
            log.error(problem)
        self._disconnected_at = None
        self._started = True
        if self._ready.is_set():
            await self._sync_commands()
            self._begin_catch_up(await self._first_catch_up_since())

    async def stop(self) -> None:
        """Let events in flight finish (5 s at most), close the client, restore the URLs.

        Catch-up stops after the message it is handing over, so no event is cut off halfway.
        """
        self._started = False
        self._stopping = True
        current = asyncio.current_task()
        waiting = {t for t in (*self._inflight, *self._catch_up_tasks)
                   if t is not current and not t.done()}
        if waiting:
            await asyncio.wait(waiting, timeout=5)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._close_client()
        self._slots.clear()
        self._restore_urls()

    async def wait_caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the current catch-up pass (history after downtime) has finished."""
        await asyncio.wait_for(self._caught_up.wait(), timeout)

    def _patch_urls(self) -> None:
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        if self._saved_urls is None:
            self._saved_urls = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        if self.config.api_base_url != DISCORD_API_BASE_URL:
            Route.BASE = self.config.api_base_url
        if self.config.gateway_url != DISCORD_GATEWAY_URL:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.config.gateway_url)

    def _restore_urls(self) -> None:
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        if self._saved_urls is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved_urls
            self._saved_urls = None

    async def _connect_with_fallback(self) -> None:
        full = discord.Intents.default()
        full.members = True
        full.message_content = True
        try:
            await self._connect(full)
            return
        except discord.PrivilegedIntentsRequired:
            flags = self._client.application_flags if self._client else discord.ApplicationFlags()
            await self._close_client()
        # Keep whatever the portal allows (the application flags say), so commands and buttons
        # work and facilitators can be told what is missing.
        reduced = discord.Intents.default()
        reduced.message_content = (flags.gateway_message_content
                                   or flags.gateway_message_content_limited)
        reduced.members = flags.gateway_guild_members or flags.gateway_guild_members_limited
        attempts = [reduced] if reduced.message_content or reduced.members else []
        attempts.append(discord.Intents.default())
        for intents in attempts:
            self._content_intent = bool(intents.message_content)
            self._members_intent = bool(intents.members)
            try:
                await self._connect(intents)
                return
            except discord.PrivilegedIntentsRequired:
                await self._close_client()
        raise DiscordStartError("Discord refused every set of gateway intents Kindred asked for")

    async def _connect(self, intents: discord.Intents) -> None:
        client = _Client(self, intents=intents, guild_ready_timeout=self.guild_ready_timeout,
                         max_ratelimit_timeout=RATE_LIMIT_WAIT_S,
                         allowed_mentions=discord.AllowedMentions.none(),
                         chunk_guilds_at_startup=bool(intents.members),
                         # No message cache: discord.py would rewrite a cached message in place
                         # on an edit, and the original text might never be screened.
                         max_messages=None)
        self._client = client
        self._ready = asyncio.Event()
        try:
            await client.login(self.config.token)
        except discord.LoginFailure:
            raise DiscordLoginError(
                "Discord refused DISCORD_BOT_TOKEN: copy the bot token again from the Developer "
                "Portal (Applications, your app, Bot, Reset Token)") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as error:
            raise DiscordStartError(
                f"cannot reach Discord's API at DISCORD_API_BASE_URL ({type(error).__name__})"
            ) from None
        connect = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        self._connect_task = connect
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({connect, ready}, timeout=self.config.ready_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if connect in done:
            ready.cancel()
            ended = connect.exception()
            if isinstance(ended, discord.PrivilegedIntentsRequired):
                raise ended
            if isinstance(ended, discord.LoginFailure):
                raise DiscordLoginError("Discord's gateway refused DISCORD_BOT_TOKEN") from None
            raise DiscordStartError(
                "Discord's gateway at DISCORD_GATEWAY_URL closed the connection "
                f"({type(ended).__name__ if ended else 'closed'})")
        if ready not in done:
            ready.cancel()
            log.error("Discord is not ready yet; still connecting in the background",
                      extra={"seconds": self.config.ready_timeout})
        connect.add_done_callback(_log_gateway_end)

    async def _close_client(self) -> None:
        client, connect = self._client, self._connect_task
        self._client = None
        self._connect_task = None
        if client is not None:
            try:
                await client.close()
            except Exception:  # closing must not fail a stop
                log.warning("closing the Discord client failed", exc_info=True)
        if connect is not None:
            if not connect.done():
                try:
                    await asyncio.wait_for(asyncio.shield(connect), timeout=5)
                except Exception:  # a timeout too: give up waiting and cancel
                    connect.cancel()
            if connect.done() and not connect.cancelled():
                connect.exception()  # retrieved, so asyncio does not log it again

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- ready, commands, catch-up -------------------------------------------------------------
    async def _on_ready(self, client: _Client) -> None:
        if client is not self._client:
            return
        self._ready.set()
        if not self._started:
            return  # start() syncs and catches up itself
        since = self._catch_up_since()
        self._disconnected_at = None
        if not self._synced:
            await self._sync_commands()
        # A new session (not a resume) means events were lost while we were away.
        self._begin_catch_up(since)

    def _note_disconnect(self, client: _Client) -> None:
        # Only a live client's drop counts; closing a client at start or stop does not.
        if client is self._client and self._started and self._disconnected_at is None:
            self._disconnected_at = datetime.now(UTC)

    async def _first_catch_up_since(self) -> datetime:
        """At start: since the last message the core handled (the core keeps two days of them).

        Without one, the configured window; never further back than a week.
        """
        window = self._catch_up_since()
        if self.config.catchup_since is None:
            return window
        try:
            last = await self.config.catchup_since()
        except Exception:
            log.exception("could not read the last handled message; using the window")
            return window
        if last is None:
            return window
        return max(min(window, last - RECONNECT_OVERLAP), datetime.now(UTC) - MAX_CATCH_UP)

    def _catch_up_since(self) -> datetime:
        now = datetime.now(UTC)
        window = now - timedelta(hours=self.config.catchup_hours)
        if self._disconnected_at is not None:
            return max(window, self._disconnected_at - RECONNECT_OVERLAP)
        return window

    async def _sync_commands(self) -> None:
        """Register every core command: to DISCORD_GUILD_ID at once, else globally.

        With a development guild, commands are registered there (instant) and a DM-only global
        copy keeps them usable in a private chat with the bot.
        """
        client = self._client
        if client is None or client.application_id is None:
            return
        language = self.config.default_language
        commands = list(self._catalogue.values())
        try:
            if self.config.guild_id is not None:
                await client.http.bulk_upsert_guild_commands(
                    client.application_id, self.config.guild_id,
                    translate.command_payloads(commands, base_language=language, contexts=None))
                await client.http.bulk_upsert_global_commands(
                    client.application_id,
                    translate.command_payloads(commands, base_language=language,
                                               contexts=[translate.CONTEXT_BOT_DM]))
            else:
                await client.http.bulk_upsert_global_commands(
                    client.application_id,
                    translate.command_payloads(
                        commands, base_language=language,
                        contexts=[translate.CONTEXT_GUILD, translate.CONTEXT_BOT_DM]))
            self._synced = True
            log.info("Discord slash commands synced",
                     extra={"commands": len(commands), "guild": self.config.guild_id})
        except discord.HTTPException as error:
            if self.config.guild_id is not None and error.status in (403, 404):
                log.error("could not register slash commands in DISCORD_GUILD_ID: Kindred is not "
                          "in that server (invite it with the link in the README)",
                          extra={"status": error.status, "code": error.code})
            else:
                log.error("could not register Discord slash commands",
                          extra={"status": error.status, "code": error.code})

    def _begin_catch_up(self, since: datetime) -> None:
        self._caught_up = asyncio.Event()  # before the task runs, so wait_caught_up sees it
        task = self._spawn(self._catch_up(since), "discord-catch-up")
        self._catch_up_tasks.add(task)
        task.add_done_callback(self._catch_up_tasks.discard)

    async def _catch_up(self, since: datetime) -> None:
        """Hand every member message posted since `since` to the core, oldest first, as late."""
        client = self._client
        handed = 0
        try:
            if client is None:
                return
            for guild in list(client.guilds):
                for channel in _screened_channels(guild):
                    if self._stopping:
                        return
                    handed += await self._catch_up_channel(guild, channel, since)
        finally:
            self.catch_ups += 1
            self._caught_up.set()
            log.info("Discord catch-up finished", extra={"messages": handed})

    async def _catch_up_channel(self, guild: discord.Guild,
                                channel: discord.TextChannel | discord.Thread,
                                since: datetime) -> int:
        permissions = channel.permissions_for(guild.me)
        if not (permissions.view_channel and permissions.read_message_history):
            return 0
        last = channel.last_message_id
        if last is not None and discord.utils.snowflake_time(last) < since:
            return 0
        handed = 0
        try:
            async for message in channel.history(limit=None, after=since, oldest_first=True):
                if self._stopping:
                    break
                member = guild.get_member(message.author.id)
                event = translate.message_event(
                    message, member=member, facilitator_role=self.config.facilitator_role,
                    late=True)
                if event is not None and await self._deliver(event) == "handled":
                    handed += 1
                if message.edited_at is not None and message.edited_at >= since:
                    edit = translate.message_event(
                        message, member=member, facilitator_role=self.config.facilitator_role,
                        late=True, edited=True)
                    if edit is not None:
                        await self._deliver(edit)
        except discord.HTTPException as error:
            log.warning("could not read a channel's history",
                        extra={"status": error.status, "code": error.code})
        return handed

    # -- inbound events ------------------------------------------------------------------------
    async def _deliver(self, event: InboundEvent) -> Delivery:
        """Hand one event to the core, at most once per process (live and catch-up overlap)."""
        key = event.meta.event_id
        if key in self._claimed or self._inbox is None:
            return "duplicate"
        self._claimed[key] = None
        while len(self._claimed) > MAX_CLAIMED:
            self._claimed.popitem(last=False)
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await self._inbox(event)
            return "handled"
        except Exception:
            self._claimed.pop(key, None)  # a later catch-up may try again
            log.exception("the core failed to handle a Discord event",
                          extra={"event_id": key, "event_type": type(event).__name__})
            return "failed"
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        member = _member_of(message)
        attachment = None
        if message.guild is None and message.attachments and message.content.startswith("/"):
            attachment = await _download(message.attachments[0])
        event = translate.message_event(message, member=member,
                                        facilitator_role=self.config.facilitator_role,
                                        lookup=self._lookup_user, attachment=attachment)
        if event is not None:
            await self._deliver(event)

    async def _on_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        if message.author.bot or message.edited_at is None:
            return  # no edited_timestamp: an embed unfurled, the text did not change
        event = translate.message_event(message, member=_member_of(message),
                                        facilitator_role=self.config.facilitator_role,
                                        edited=True)
        if event is not None:
            await self._deliver(event)

    async def _on_member_join(self, member: discord.Member) -> None:
        if member.bot:
            return
        await self._deliver(translate.member_joined(
            member, _home_chat(member.guild), facilitator_role=self.config.facilitator_role))

    async def _on_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        if payload.user.bot:
            return
        client = self._client
        guild = client.get_guild(payload.guild_id) if client else None
        home = _home_chat(guild) if guild else ChatRef(PLATFORM, str(payload.guild_id), "group")
        await self._deliver(translate.member_left(payload.guild_id, payload.user, home,
                                                  now=datetime.now(UTC)))

    async def _on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        kinds: dict[discord.InteractionType, SlotKind] = {
            discord.InteractionType.application_command: "command",
            discord.InteractionType.component: "component",
            discord.InteractionType.modal_submit: "form",
        }
        kind = kinds.get(interaction.type)
        if kind is None:
            return
        event = translate.interaction_event(interaction,
                                            facilitator_role=self.config.facilitator_role,
                                            catalogue=self._catalogue)
        if event is None:
            return
        message_id = interaction.message.id if interaction.message is not None else None
        slot = self._slots.open(interaction, kind, event.meta.chat, message_id)
        self._spawn(self._outbound.watch(slot), f"discord-interaction-{interaction.id}")
        outcome = await self._deliver(event)
        slot.mark_handled()
        if outcome == "failed":
            text = self._translator.tr(str(interaction.locale.value), APOLOGY)
            try:
                await self._outbound.perform(SendPrivateReply(
                    to=event.meta.sender, chat=event.meta.chat, text=text,
                    interaction=slot.token))
            except Exception:
                log.warning("could not apologise for a failed interaction", exc_info=True)

    def _lookup_user(self, token: str) -> tuple[UserRef, str] | None:
        client = self._client
        if client is None:
            return None
        match = _USER_MENTION.match(token)
        if match is not None:
            user = client.get_user(int(match.group(1)))
            return (UserRef(PLATFORM, match.group(1)), user.display_name if user else "")
        wanted = token.removeprefix("@").casefold()
        for user in client.users:
            if not user.bot and wanted in (user.name.casefold(),
                                           (user.global_name or "").casefold()):
                return UserRef(PLATFORM, str(user.id)), user.display_name
        return None

    # -- the Platform protocol: actions, admins, visibility, rate ------------------------------
    async def perform(self, action: Action) -> Delivered:
        """Deliver one action (see outbound.py for the guarantees)."""
        return await self._outbound.perform(action)

    async def group_admins(self, group: str) -> list[UserRef]:
        """Members with Manage Server (or Administrator, or the owner) or the facilitator role.

        Only members discord.py has cached are seen: all of them with the Server Members
        intent, otherwise those who spoke recently.
        """
        guild = self._guild(group)
        if guild is None:
            return []
        return [UserRef(PLATFORM, str(member.id)) for member in guild.members
                if not member.bot and translate.is_facilitator(member,
                                                               self.config.facilitator_role)]

    async def check_visibility(self, group: str | None) -> VisibilityReport:
        """Whether screening sees every message: the intents, then channel permissions."""
        problems = list(self._intent_problems())
        client = self._client
        if client is not None and self._ready.is_set():
            if group is not None:
                guild = self._guild(group)
                guilds = [guild] if guild is not None else []
                if guild is None:
                    problems.append(NOT_IN_SERVER)
            else:
                guilds = list(client.guilds)
            hidden = [f"#{channel.name}" for guild in guilds
                      for channel in _screened_channels(guild)
                      if not _readable(guild, channel)]
            if hidden:
                problems.append(CHANNELS_HIDDEN)
                problems.extend(hidden[:MAX_LISTED_CHANNELS])
                if len(hidden) > MAX_LISTED_CHANNELS:
                    problems.append("…")
        return VisibilityReport(can_read_all_messages=not problems, problems=tuple(problems))

    def reserve(self, action: Action) -> float:
        """Take a send slot under Kindred's own global cap; 0 means send now.

        discord.py keeps Discord's per-route buckets itself. This cap (40 sends a second for
        ordinary messages, a little more for alerts and safety replies) keeps a check-in wave
        from reaching Discord's global limit, so alerts never queue behind it. Answers through an
        interaction are outside Discord's global limit and always go at once.
        """
        if self._outbound.answers_interaction(action):
            return 0.0
        urgent = action.priority <= Priority.SAFETY_REPLY
        names = ("all",) if urgent else ("all", "bulk")
        rates = {"all": self.config.max_sends_per_second + self.config.alert_headroom_per_second,
                 "bulk": self.config.max_sends_per_second}
        now = time.monotonic()
        levels = {}
        for name in names:
            tokens, at = self._buckets[name]
            levels[name] = min(rates[name], tokens + (now - at) * rates[name])
        wait = max((1.0 - levels[name]) / rates[name] for name in names)
        if wait > 0:
            return wait
        for name in names:
            self._buckets[name] = (levels[name] - 1.0, now)
        return 0.0

    # -- helpers -------------------------------------------------------------------------------
    def _intent_problems(self) -> list[str]:
        problems = []
        if not self._content_intent:
            problems.append(CONTENT_INTENT_OFF)
        elif not self._members_intent:
            problems.append(MEMBERS_INTENT_OFF)
        return problems

    def _guild(self, group: str) -> discord.Guild | None:
        platform, _, ident = group.partition(":")
        client = self._client
        if platform != PLATFORM or client is None or not ident.isdigit():
            return None
        return client.get_guild(int(ident))


def build_platform(config: DiscordConfig) -> DiscordPlatform:
    """A platform for `config` (not connected until `start`)."""
    return DiscordPlatform(config)


def _screened_channels(guild: discord.Guild) -> list[discord.TextChannel | discord.Thread]:
    """The channels members write in: text (and announcement) channels and active threads."""
    channels: list[discord.TextChannel | discord.Thread] = list(guild.text_channels)
    channels.extend(thread for thread in guild.threads if not thread.archived)
    return channels


def _readable(guild: discord.Guild, channel: discord.TextChannel | discord.Thread) -> bool:
    permissions = channel.permissions_for(guild.me)
    return bool(permissions.view_channel and permissions.read_message_history)


def _member_of(message: discord.Message) -> discord.Member | None:
    if message.guild is None:
        return None
    if isinstance(message.author, discord.Member):
        return message.author
    return message.guild.get_member(message.author.id)


def _home_chat(guild: discord.Guild) -> ChatRef:
    """Where a join is answered: the system channel, else the first channel Kindred may post in."""
    me = guild.me
    candidates: list[discord.TextChannel] = []
    if guild.system_channel is not None:
        candidates.append(guild.system_channel)
    candidates.extend(sorted(guild.text_channels, key=lambda c: c.position))
    for channel in candidates:
        permissions = channel.permissions_for(me)
        if permissions.view_channel and permissions.send_messages:
            return translate.chat_of(channel.id, guild.id)
    fallback = candidates[0].id if candidates else guild.id
    return translate.chat_of(fallback, guild.id)


async def _download(attachment: discord.Attachment) -> Attachment | None:
    if attachment.size > MAX_ATTACHMENT_BYTES:
        return None
    try:
        content = await attachment.read()
    except (discord.HTTPException, aiohttp.ClientError, OSError):
        log.warning("could not download a Discord attachment")
        return None
    return Attachment(filename=attachment.filename, content=content)


def _log_gateway_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("the Discord gateway connection ended",
                  extra={"error": type(error).__name__})


def _quiet_library_logs() -> None:
    # discord.py logs whole gateway payloads (message text) and request bodies at DEBUG.
    # Kindred has no voice, so the warnings about voice libraries are noise.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    library = logging.getLogger("discord")
    if library.getEffectiveLevel() < logging.INFO:
        library.setLevel(logging.INFO)
