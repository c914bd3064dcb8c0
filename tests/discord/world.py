"""A fake Discord server with one support group, and the real Kindred application logged in to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.discord import DiscordPlatform
from bot.bootstrap import Application, build_application
from bot.core.events import InboundEvent
from bot.settings import Settings
from tests.fakes.discord_api import CHANNEL_CATEGORY, CHANNEL_PUBLIC_THREAD, FakeDiscord, Perm

GUILD = 500
OWNER = 10  # dana: owns the server, so she has Manage Server
ALICE = 11  # a member
BOB = 12  # has the Facilitator role (no Manage Server)
CAROL = 13  # joins later
CATEGORY = 599
GENERAL = 600
STAFF = 601  # private: facilitators and the bot
THREAD = 602  # a thread in #general
FACILITATOR_ROLE = 700


def build_world(fake: FakeDiscord) -> None:
    """Parents Together: #general with a thread, a private #staff, dana, alice, bob."""
    fake.add_user(OWNER, "dana", global_name="Dana")
    fake.add_guild(GUILD, "Parents Together", OWNER)
    fake.add_role(GUILD, FACILITATOR_ROLE, "Facilitator", Perm.MANAGE_MESSAGES)
    fake.add_channel(GUILD, CATEGORY, "support", CHANNEL_CATEGORY)
    fake.add_channel(GUILD, GENERAL, "general", parent_id=CATEGORY)
    fake.add_channel(GUILD, STAFF, "staff", permission_overwrites=[
        {"id": GUILD, "type": 0, "deny": Perm.VIEW_CHANNEL},
        {"id": FACILITATOR_ROLE, "type": 0, "allow": Perm.VIEW_CHANNEL},
        {"id": fake.bot_id, "type": 1, "allow": Perm.VIEW_CHANNEL},
    ])
    fake.add_channel(GUILD, THREAD, "newcomers", CHANNEL_PUBLIC_THREAD, parent_id=GENERAL)
    fake.add_member(GUILD, ALICE, "alice", global_name="Alice")
    fake.add_member(GUILD, BOB, "bob", global_name="Bob", roles=[FACILITATOR_ROLE])


@dataclass
class Kindred:
    """A running application and what its core was handed (recorded, then really handled)."""

    app: Application
    platform: DiscordPlatform
    handled: list[InboundEvent] = field(default_factory=list)

    async def close(self) -> None:
        await self.app.settle()
        await self.app.stop()


async def start_kindred(fake: FakeDiscord, database_url: str, *, guild: bool = True,
                        token: str | None = None,
                        log: list[InboundEvent] | None = None) -> Kindred:
    """Build and start the application exactly as `kindred` does, with the Discord settings."""
    env = {"DATABASE_URL": database_url, "DISCORD_BOT_TOKEN": token or fake.token,
           "DISCORD_API_BASE_URL": fake.api_base, "DISCORD_GATEWAY_URL": fake.gateway_url}
    if guild:
        env["DISCORD_GUILD_ID"] = str(GUILD)
    app = build_application(Settings.from_env(env))
    platform = app.platforms["discord"]
    assert isinstance(platform, DiscordPlatform)
    # discord.py waits this long after the last GUILD_CREATE (2 s in production).
    platform.guild_ready_timeout = 0.05
    handled = log if log is not None else []
    real: Callable[[InboundEvent], Awaitable[list[Any]]] = app.dispatcher.handle

    async def recording(event: InboundEvent) -> list[Any]:
        # Only events the runtime did not skip as already handled reach the dispatcher.
        handled.append(event)
        return await real(event)

    app.dispatcher.handle = recording  # type: ignore[method-assign]
    try:
        await app.start()
    except BaseException:
        await app.stop()
        raise
    return Kindred(app=app, platform=platform, handled=handled)
