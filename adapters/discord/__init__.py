"""The Discord adapter: discord.py 2.x in the shared loop; one Discord server is one support group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.discord.config import DiscordConfig
from adapters.discord.platform import DiscordLoginError, DiscordPlatform, DiscordStartError


def build(config: Mapping[str, Any]) -> DiscordPlatform:
    """Build the Discord platform from the composition root's dict (see DiscordConfig)."""
    return DiscordPlatform(DiscordConfig.from_mapping(config))


__all__ = ["DiscordConfig", "DiscordLoginError", "DiscordPlatform", "DiscordStartError", "build"]
