"""The console adapter: a terminal group chat where one person can speak as several people."""

from __future__ import annotations

from typing import Any

from adapters.console.platform import ConsoleConfig, ConsolePlatform


def build(config: Any) -> ConsolePlatform:
    """Build the console platform from a ConsoleConfig."""
    assert isinstance(config, ConsoleConfig)
    return ConsolePlatform(config)


__all__ = ["ConsoleConfig", "ConsolePlatform", "build"]
