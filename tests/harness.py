"""Test harness: the real application with the console adapter, driven line by line."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.console import ConsoleConfig, ConsolePlatform
from bot.bootstrap import Application, build_application
from bot.settings import Settings


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class _LineFeed(io.TextIOBase):
    """A readable stream the test writes lines into (the console reads it in a thread)."""

    def __init__(self) -> None:
        import queue

        self._lines: queue.Queue[str] = queue.Queue()

    def feed(self, line: str) -> None:
        self._lines.put(line)

    def close_feed(self) -> None:
        self._lines.put("")

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self._lines.get()


@dataclass
class ConsoleBot:
    """A running bot and its console transcript."""

    app: Application
    console: ConsolePlatform
    feed: _LineFeed
    output: io.StringIO
    clock: FakeClock
    sent_lines: int = 0
    _read_upto: int = field(default=0)

    async def say(self, *lines: str) -> str:
        """Type lines into the console; returns everything printed while handling them."""
        for line in lines:
            for part in line.splitlines() or [""]:
                self.feed.feed(part + "\n")
                self.sent_lines += 1
        await self.console.wait_lines(self.sent_lines)
        return self.new_output()

    def new_output(self) -> str:
        text = self.output.getvalue()
        fresh = text[self._read_upto:]
        self._read_upto = len(text)
        return fresh

    async def close(self) -> None:
        self.feed.close_feed()
        await self.app.settle()
        await self.app.stop()


async def start_console_bot(database_url: str, tmp_path: Path,
                            env: dict[str, str] | None = None) -> ConsoleBot:
    """Build and start the application exactly as `kindred` does, on in-memory streams."""
    environ = {"DATABASE_URL": database_url, **(env or {})}
    settings = Settings.from_env(environ)
    feed = _LineFeed()
    output = io.StringIO()
    clock = FakeClock()
    config = ConsoleConfig(input=feed, output=output, image_dir=tmp_path / "images")
    app = build_application(settings, clock=clock, console=config)
    await app.start()
    # Tests walk a fake clock and run sweeps themselves; real-time ticks would race them.
    app.scheduler.stop()
    console = app.platforms["console"]
    assert isinstance(console, ConsolePlatform)
    bot = ConsoleBot(app=app, console=console, feed=feed, output=output, clock=clock)
    bot.new_output()
    return bot


__all__ = ["ConsoleBot", "FakeClock", "start_console_bot"]
