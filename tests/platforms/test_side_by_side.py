"""Telegram and Discord run side by side in one process and one event loop, each group apart."""

from __future__ import annotations

import pytest

from adapters.discord import DiscordPlatform
from bot.bootstrap import build_application
from bot.settings import Settings
from tests.discord.world import ALICE, GENERAL, GUILD, OWNER, build_world
from tests.fakes.discord_api import FakeDiscord
from tests.telegram.conftest import DANA, GROUP, SAM, make_fake

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CRISIS = "i have the pills ready and tonight is the night"


async def test_telegram_and_discord_in_one_process(database_url: str) -> None:
    telegram = make_fake()
    discord_fake = FakeDiscord()
    build_world(discord_fake)
    async with telegram, discord_fake:
        app = build_application(Settings.from_env({
            "DATABASE_URL": database_url,
            "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.base_url,
            "DISCORD_BOT_TOKEN": discord_fake.token, "DISCORD_API_BASE_URL": discord_fake.api_base,
            "DISCORD_GATEWAY_URL": discord_fake.gateway_url, "DISCORD_GUILD_ID": str(GUILD)}))
        discord_platform = app.platforms["discord"]
        assert isinstance(discord_platform, DiscordPlatform)
        discord_platform.guild_ready_timeout = 0.05
        assert set(app.platforms) == {"telegram", "discord"}
        await app.start()
        try:
            telegram.user_sends(GROUP, DANA, "/setup")
            await telegram.wait_for(lambda r: r.chat_id == GROUP and "set up" in (r.text or ""))
            invoked = await discord_fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup")
            await discord_fake.wait_for(lambda s: s.interaction_id == int(str(invoked["id"])))
            telegram.user_starts_bot(DANA)
            await telegram.wait_for(lambda r: r.chat_id == DANA)
            await discord_fake.user_dms(OWNER, "hello")

            # A crisis on each platform alerts that group's own staff, on that platform.
            telegram.user_sends(GROUP, SAM, CRISIS)
            await discord_fake.user_says(GENERAL, ALICE, CRISIS)
            tg_alert = await telegram.wait_for(
                lambda r: r.chat_id == DANA and "URGENT" in (r.text or ""), timeout=10)
            dc_alert = await discord_fake.wait_for(
                lambda s: s.recipient_id == OWNER and "URGENT" in s.text, timeout=10)
            assert "Member: Sam" in (tg_alert.text or "")
            assert "Member: Alice" in dc_alert.text
            assert "Alice" not in (tg_alert.text or "") and "Sam" not in dc_alert.text
        finally:
            await app.settle()
            await app.stop()
