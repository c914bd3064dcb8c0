"""Fixtures: the fake Bot API server with a small world, and the real application against it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.telegram import TelegramPlatform
from bot.bootstrap import Application, build_application
from bot.settings import Settings
from tests.fakes.telegram_api import FakeTelegram, SentRecord

# PTB warns on every RetryAfter until retry_after becomes a timedelta; irrelevant here.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

GROUP = -1001234567890
FORUM = -1009876543210
BASIC = -4123456
STAFF = -1005550001
DANA = 1002  # admin of GROUP, FORUM and BASIC
SAM = 1003  # a member
ROBIN = 1004  # a member who speaks Spanish


def make_fake(**options: object) -> FakeTelegram:
    """A fake server with Dana (admin), Sam and Robin, a supergroup, a forum and a basic group."""
    fake = FakeTelegram(**options)  # type: ignore[arg-type]
    fake.add_user(DANA, "Dana", "dana_fac", "en", last_name="Reyes")
    fake.add_user(SAM, "Sam", "sam_parent", "en")
    fake.add_user(ROBIN, "Robin", None, "es")
    fake.add_group(GROUP, "Parents Circle")
    fake.add_group(FORUM, "Parents Forum", is_forum=True)
    fake.add_group(BASIC, "Small group", type="group")
    fake.add_group(STAFF, "Staff room")
    for chat in (GROUP, FORUM, BASIC):
        fake.set_admins(chat, [DANA])
        fake.add_member(chat, SAM)
        fake.add_member(chat, ROBIN)
    fake.set_admins(STAFF, [DANA])
    return fake


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server (privacy mode off)."""
    server = make_fake()
    async with server:
        yield server
        assert server.server_errors == []


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def app_settings(fake: FakeTelegram, database_url: str, **env: str) -> Settings:
    """Settings as an operator would write them, pointing at the fake server."""
    return Settings.from_env({
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "DATABASE_URL": database_url,
        **env,
    })


async def start_app(fake: FakeTelegram, database_url: str, **env: str) -> Application:
    """Build and start the whole application exactly as `kindred` does."""
    app = build_application(app_settings(fake, database_url, **env))
    await app.start()
    return app


def platform_of(app: Application) -> TelegramPlatform:
    """The running Telegram adapter."""
    platform = app.platforms["telegram"]
    assert isinstance(platform, TelegramPlatform)
    return platform


@dataclass
class Bot:
    """A started application and helpers to wait for what it sends."""

    app: Application
    fake: FakeTelegram
    marks: list[int] = field(default_factory=list)

    @property
    def platform(self) -> TelegramPlatform:
        return platform_of(self.app)

    async def reply_to(self, chat_id: int, contains: str = "", *, timeout: float = 5.0,
                       thread_id: int | None = None) -> SentRecord:
        """The next message (after the last one returned) sent to `chat_id` containing `contains`."""
        start = self.marks[-1] if self.marks else 0

        def matches(record: SentRecord) -> bool:
            return (record.chat_id == chat_id and record.method in ("sendMessage", "sendPhoto")
                    and contains in (record.rendered_text or "")
                    and (thread_id is None or record.thread_id == thread_id))

        record = await self.fake.wait_for(matches, timeout=timeout, start=start)
        self.marks.append(self.fake.sent.index(record) + 1)
        return record

    async def settle(self) -> None:
        """Wait until every update was handled and every reply sent."""
        await self.fake.wait_updates_confirmed(timeout=5)
        await self.app.settle()

    def texts_to(self, chat_id: int) -> list[str]:
        return [r.rendered_text or "" for r in self.fake.messages_to(chat_id)]


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file, for scenarios that need not run on PostgreSQL too."""
    return f"sqlite:///{tmp_path / 'kindred-telegram.db'}"


@pytest.fixture
async def bot(fake: FakeTelegram, database_url: str) -> AsyncIterator[Bot]:
    """The application on the fake server, on SQLite and on PostgreSQL."""
    app = await start_app(fake, database_url)
    try:
        yield Bot(app, fake)
    finally:
        await app.settle()
        await app.stop()


@pytest.fixture
async def lite_bot(fake: FakeTelegram, sqlite_url: str) -> AsyncIterator[Bot]:
    """The application on the fake server, on SQLite only."""
    app = await start_app(fake, sqlite_url)
    try:
        yield Bot(app, fake)
    finally:
        await app.settle()
        await app.stop()
