"""The composition root: the one place that wires storage, adapters and the scheduler to the core."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import adapters
from adapters.console import ConsoleConfig
from bot.checkins.service import CheckinService
from bot.core.commands import CommandInfo, describe_commands
from bot.core.events import GroupMigrated, MemberJoined, MessageReceived
from bot.core.i18n import SUPPORTED_LANGUAGES, Translator
from bot.core.identity import ChatRef, UserRef
from bot.core.models import Group
from bot.core.ports import Clock, Platform, SystemClock, VisibilityReport
from bot.crisis.detector import Detector
from bot.crisis.service import CrisisService
from bot.delivery import DeliveryQueue
from bot.dispatch import Dispatcher
from bot.groups.service import GroupService
from bot.metrics import Metrics, OpsServer
from bot.onboarding.service import OnboardingService
from bot.outbox import OutboxPump
from bot.privacy.service import PrivacyService
from bot.resources.csvio import load_shipped_resources
from bot.resources.directory import ResourceDirectory
from bot.resources.service import FORM_NAME as RESOURCE_FORM
from bot.resources.service import ResourceService
from bot.runtime import Runtime
from bot.scheduling import Scheduler
from bot.settings import Settings
from storage import migrate
from storage.crypto import FieldCipher
from storage.db import Database
from storage.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class Application:
    """Everything wired together; `run` until stopped."""

    settings: Settings
    database: Database
    uow: UnitOfWorkFactory
    translator: Translator
    dispatcher: Dispatcher
    queue: DeliveryQueue
    runtime: Runtime
    platforms: dict[str, Platform]
    scheduler: Scheduler
    clock: Clock
    outbox: OutboxPump
    crisis: CrisisService
    groups: GroupService
    onboarding: OnboardingService
    checkins: CheckinService
    privacy: PrivacyService
    metrics: Metrics | None = None
    ops_server: OpsServer | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    started: bool = False

    async def start(self) -> None:
        """Migrate, then start the queue, every platform and the scheduler."""
        await migrate.upgrade(self.database)
        self.queue.start()
        self.outbox.start()  # first thing: deliveries a killed process left behind go out now
        for name, platform in self.platforms.items():
            await platform.start(self.runtime.handle)
            log.info("platform started", extra={"platform": name})
        self.scheduler.start()
        self.started = True
        # Crisis screening must never fail in silence: warn facilitators of blind groups now.
        await self.groups.warn_where_blind(
            [name for name in self.platforms if name != "console"], self.clock.now())
        self.outbox.poke()
        if self.ops_server is not None:
            await self.ops_server.start()

    async def stop(self) -> None:
        """Stop in reverse order; nothing half-written (every write is one transaction)."""
        if self.ops_server is not None:
            await self.ops_server.stop()
        self.scheduler.stop()
        await self.outbox.stop()
        await self.queue.stop()
        await self.outbox.release()
        for platform in self.platforms.values():
            await platform.stop()
        await self.database.dispose()
        self.started = False

    async def settle(self) -> None:
        """Wait until every queued action and due delivery has been sent (scripts, tests)."""
        await self.queue.wait_idle(timeout=30)
        await self.outbox.settle()

    async def run(self) -> None:
        """Start, wait for SIGTERM/SIGINT or the end of console input, then stop cleanly."""
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stopping.set)
            except (NotImplementedError, RuntimeError):
                pass
        await self.start()
        try:
            await self.stopping.wait()
        finally:
            await self.settle()
            await self.stop()


@functools.cache
def shared_detector() -> Detector:
    """The crisis detector, compiled once per process (its lexicon files are read-only)."""
    return Detector.load()


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    platforms: Mapping[str, Platform] | None = None,
    console: ConsoleConfig | None = None,
) -> Application:
    """Build the whole bot from settings; tests pass their own clock, platforms or console."""
    clock = clock or SystemClock()
    database = Database(settings.database_url, cipher=FieldCipher(settings.data_encryption_key))
    uow = UnitOfWorkFactory(database)
    translator = Translator()
    dispatcher = Dispatcher(store=uow, translator=translator, clock=clock,
                            default_language=settings.default_language)
    stopping = asyncio.Event()
    built: dict[str, Platform] = dict(platforms or {})
    queue = DeliveryQueue(built)
    metrics = Metrics(queue.stats)

    async def count_handled(_event: object) -> None:
        metrics.events_handled.inc()

    runtime = Runtime(dispatcher=dispatcher, queue=queue, store=uow, clock=clock,
                      on_handled=count_handled)
    scheduler = Scheduler()

    async def check_visibility(group: str) -> VisibilityReport:
        platform = built.get(group.partition(":")[0])
        if platform is None:
            return VisibilityReport(can_read_all_messages=True)
        return await platform.check_visibility(group)

    async def lookup_admins(group: str) -> list[UserRef]:
        platform = built.get(group.partition(":")[0])
        return await platform.group_admins(group) if platform else []

    defaults = Group(key="", platform="", home_chat=ChatRef("", "", "group"),
                     language=settings.default_language, timezone=settings.default_timezone,
                     region=settings.default_region)
    groups = GroupService(store=uow, registry=dispatcher.commands,
                          check_visibility=check_visibility, lookup_admins=lookup_admins,
                          defaults=defaults, translator=translator,
                          forms_supported=lambda name: name in built
                          and built[name].capabilities.forms)
    for spec in groups.commands():
        dispatcher.commands.register(spec)
    dispatcher.on(GroupMigrated, groups.follow_migration)
    dispatcher.on_form("group_rules", groups.on_form)
    dispatcher.on_form("group_welcome", groups.on_form)

    async def purge_processed_events() -> None:
        async with uow() as store:
            await store.processed_events.forget_before(clock.now() - timedelta(days=2))
            await store.commit()

    scheduler.every(3600, purge_processed_events, name="purge-processed-events")

    outbox = OutboxPump(store=uow, queue=queue, clock=clock)
    uow.handover = outbox.handover()  # alerts go to the sender at commit, not at the next claim

    async def measure_outbox() -> None:
        async with uow() as store:
            metrics.alerts_pending.set(await store.outbox.pending_count())

    scheduler.every(15, measure_outbox, name="metrics-outbox")
    # The resource directory is the crisis capability's one source of crisis lines.
    resource_directory = ResourceDirectory(store=uow, shipped=load_shipped_resources(), clock=clock)
    crisis = CrisisService(
        store=uow, detector=shared_detector(), resources=resource_directory.crisis_lines,
        translator=translator, clock=clock,
        renotify_minutes=settings.escalation_renotify_minutes, metrics=metrics,
        default_region=settings.default_region, poke_outbox=outbox.poke)
    dispatcher.add_screen(crisis)
    for spec in crisis.commands():
        dispatcher.commands.register(spec)
    dispatcher.on_button("crisis", crisis.on_button)
    scheduler.every(5, crisis.renotify_sweep, name="crisis-renotify", first_after=2)
    scheduler.every(300, crisis.digest_sweep, name="crisis-digest")
    scheduler.every(3600, crisis.purge_sweep, name="crisis-purge")

    # -- onboarding, check-ins and privacy (issue #4) ------------------------------------------
    onboarding = OnboardingService(store=uow, translator=translator, clock=clock,
                                   default_timezone=settings.default_timezone)
    checkins = CheckinService(store=uow, translator=translator, clock=clock,
                              poke_outbox=outbox.poke, record_concern=crisis.record_concern,
                              default_timezone=settings.default_timezone,
                              default_language=settings.default_language)
    privacy = PrivacyService(store=uow)
    for spec in [*onboarding.commands(), *checkins.commands(), *privacy.commands()]:
        dispatcher.commands.register(spec)
    dispatcher.on(MemberJoined, onboarding.on_join)
    dispatcher.on(MessageReceived, onboarding.on_message)  # typed answers in a private chat
    dispatcher.on_button("onb", onboarding.on_button)
    dispatcher.on_button("ci", checkins.on_button)
    dispatcher.on_button("priv", privacy.on_button)
    scheduler.every(30, checkins.prompt_sweep, name="checkins-prompts", first_after=2)
    scheduler.every(300, checkins.report_sweep, name="checkins-weekly-report")
    scheduler.every(3600, onboarding.cleanup_sweep, name="onboarding-cleanup")
    scheduler.every(3600, checkins.cleanup_sweep, name="checkins-cleanup")

    # -- resources (issue #5): the stored directory, /resources and /resource ------------------
    resources = ResourceService(
        store=uow, directory=resource_directory, translator=translator, clock=clock,
        default_region=settings.default_region,
        forms_supported=lambda name: name in built and built[name].capabilities.forms)
    for spec in resources.commands():
        dispatcher.commands.register(spec)
    dispatcher.on_button("res", resources.on_button)
    dispatcher.on_form(RESOURCE_FORM, resources.on_form)
    dispatcher.on(MessageReceived, resources.on_message)  # answers to a guided /resource add
    # Loads the directory within seconds of start and picks up other processes' changes.
    scheduler.every(5, resource_directory.refresh_sweep, name="resources-refresh")

    async def settle() -> None:
        await queue.wait_idle(timeout=30)
        await outbox.settle()

    # Platforms come last: they are told every command (menus, slash commands) at start.
    catalogue = describe_commands(dispatcher.commands, translator.tr, SUPPORTED_LANGUAGES)
    if platforms is None:
        for name in settings.platforms:
            built[name] = adapters.build_platform(name, _adapter_config(
                name, settings, console, settle, stopping, catalogue, uow))
            queue.add_platform(built[name])

    return Application(settings=settings, database=database, uow=uow, translator=translator,
                       dispatcher=dispatcher, queue=queue, runtime=runtime, platforms=built,
                       scheduler=scheduler, clock=clock, stopping=stopping, outbox=outbox,
                       crisis=crisis, groups=groups, onboarding=onboarding, checkins=checkins,
                       privacy=privacy, metrics=metrics,
                       ops_server=OpsServer(metrics, port=settings.metrics_port, platforms=built)
                       if settings.metrics_port else None)


def _adapter_config(name: str, settings: Settings, console: ConsoleConfig | None,
                    settle: Callable[[], Awaitable[None]], stopping: asyncio.Event,
                    catalogue: tuple[CommandInfo, ...], uow: UnitOfWorkFactory) -> Any:
    if name == "console":
        config = console or ConsoleConfig()
        if config.settle is None:
            config.settle = settle
        if config.on_end is None:
            config.on_end = stopping.set
        return config
    if name == "telegram":
        return {"token": settings.telegram_bot_token, "base_url": settings.telegram_api_base_url,
                "webhook_url": settings.telegram_webhook_url, "port": settings.port,
                "webhook_secret": settings.telegram_webhook_secret, "commands": catalogue,
                "default_language": settings.default_language}
    async def last_discord_message() -> datetime | None:
        async with uow() as store:
            return await store.processed_events.last_handled_at("discord:msg:")

    return {"catchup_since": last_discord_message,
            "token": settings.discord_bot_token, "api_base_url": settings.discord_api_base_url,
            "gateway_url": settings.discord_gateway_url, "guild_id": settings.discord_guild_id,
            "facilitator_role": settings.discord_facilitator_role, "commands": catalogue,
            "default_language": settings.default_language}
