"""Fixtures for the Discord adapter tests: a fake Discord server with one support group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.discord.world import build_world
from tests.fakes.discord_api import FakeDiscord


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """The fake server; Kindred reaches it through DISCORD_API_BASE_URL and DISCORD_GATEWAY_URL."""
    async with FakeDiscord() as server:
        build_world(server)
        yield server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database, for scenarios that are about Discord rather than storage."""
    return f"sqlite:///{tmp_path / 'kindred-discord.db'}"
