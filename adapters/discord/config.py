"""The Discord adapter's settings, read once from the dict the composition root hands to `build`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.commands import CommandInfo

DISCORD_API_BASE_URL = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscordConfig:
    """Everything the adapter is configured with.

    The first seven fields come from `bot.bootstrap._adapter_config`; the rest are tuning knobs
    with production defaults that the same dict may override.
    """

    token: str
    api_base_url: str = DISCORD_API_BASE_URL
    gateway_url: str = DISCORD_GATEWAY_URL
    guild_id: int | None = None
    facilitator_role: str = "Facilitator"
    commands: tuple[CommandInfo, ...] = ()
    default_language: str = "en"
    catchup_hours: float = 6.0  # history read at start when the last handled message is unknown
    # The time of the last Discord message the core handled: catch-up reads history since then.
    catchup_since: Callable[[], Awaitable[datetime | None]] | None = None
    hold_role: str = "Newcomer"  # removed from a member by ApproveJoin, when the server has it
    guild_ready_timeout: float = 2.0  # discord.py's wait for the last GUILD_CREATE after READY
    ready_timeout: float = 60.0  # start() returns after this even if the gateway is not ready
    defer_after: float = 1.5  # an interaction nobody answered is deferred after this (limit 3 s)
    settle_after: float = 0.6  # after the core handled an interaction, wait this for its reply
    finish_after: float = 1.5  # an unanswered "thinking…" is removed this long after handling
    max_sends_per_second: float = 40.0  # our own global cap; alerts may use a little more
    alert_headroom_per_second: float = 8.0
    # One action, end to end, including discord.py's own waits (429s up to 30 s, 5xx retries):
    # past this it fails as TransientError and the delivery queue retries it. Without it a
    # request Discord never answers would hold a sender for aiohttp's default five minutes.
    send_timeout: float = 60.0

    def __repr__(self) -> str:
        # The token must never reach a log line.
        return f"DiscordConfig(guild_id={self.guild_id}, commands={len(self.commands)})"

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> DiscordConfig:
        """Read the composition root's dict; unknown keys are ignored, missing ones default.

        Raises:
            ValueError: no token, or a value of the wrong kind.
        """
        token = config.get("token")
        if not isinstance(token, str) or not token.strip():
            raise ValueError("the Discord adapter needs DISCORD_BOT_TOKEN")
        guild = config.get("guild_id")
        values: dict[str, Any] = {
            "token": token.strip(),
            "api_base_url": str(config.get("api_base_url") or DISCORD_API_BASE_URL).rstrip("/"),
            "gateway_url": str(config.get("gateway_url") or DISCORD_GATEWAY_URL),
            "guild_id": int(guild) if guild not in (None, "") else None,
            "facilitator_role": str(config.get("facilitator_role") or "Facilitator"),
            "commands": tuple(config.get("commands") or ()),
            "default_language": str(config.get("default_language") or "en"),
        }
        for name in ("catchup_hours", "guild_ready_timeout", "ready_timeout", "defer_after",
                     "settle_after", "finish_after", "max_sends_per_second",
                     "alert_headroom_per_second", "send_timeout"):
            if config.get(name) is not None:
                values[name] = float(config[name])
        if callable(config.get("catchup_since")):
            values["catchup_since"] = config["catchup_since"]
        if config.get("hold_role"):
            values["hold_role"] = str(config["hold_role"])
        return cls(**values)
