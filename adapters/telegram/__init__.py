"""The Telegram adapter: Bot API updates in, core actions out, through python-telegram-bot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.telegram.platform import TelegramConfig, TelegramPlatform


def build(config: Mapping[str, Any] | TelegramConfig) -> TelegramPlatform:
    """Build the Telegram platform from the composition root's dict (or a TelegramConfig)."""
    if not isinstance(config, TelegramConfig):
        config = TelegramConfig.from_mapping(config)
    return TelegramPlatform(config)


__all__ = ["TelegramConfig", "TelegramPlatform", "build"]
