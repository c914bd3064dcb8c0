"""Shared pieces for the benchmarks: a recording platform and a ready application on a database."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.bootstrap import Application, build_application  # noqa: E402
from bot.core.actions import Action, Delivered  # noqa: E402
from bot.core.events import EventMeta, MessageReceived  # noqa: E402
from bot.core.identity import ChatRef, MessageRef, UserRef  # noqa: E402
from bot.core.ports import Capabilities, Inbox, VisibilityReport  # noqa: E402
from bot.settings import Settings  # noqa: E402

PG_ADMIN = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class RecordingPlatform:
    """A platform that answers instantly and notes when each action reached it."""

    name: str = "bench"
    capabilities: Capabilities = field(default_factory=Capabilities)
    performed: list[tuple[float, Action]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self, inbox: Inbox) -> None: ...
    async def stop(self) -> None: ...

    async def group_admins(self, group: str) -> list[UserRef]:
        return []

    async def check_visibility(self, group: str | None) -> VisibilityReport:
        return VisibilityReport(True)

    def reserve(self, action: Action) -> float:
        return 0.0

    async def perform(self, action: Action) -> Delivered:
        self.performed.append((time.perf_counter(), action))
        return Delivered(MessageRef(ChatRef(self.name, "x", "group"), str(next(self.ids))))


def message(group: int, user: int, text: str, n: int) -> MessageReceived:
    """An ordinary group message event, as an adapter would hand it over."""
    chat = ChatRef("bench", f"g{group}", "group")
    return MessageReceived(
        meta=EventMeta(event_id=f"bench:{uuid.uuid4().hex}", occurred_at=datetime.now(UTC),
                       chat=chat, sender=UserRef("bench", f"u{user}"), sender_name=f"Parent {user}",
                       group=f"bench:g{group}", group_title=f"Group {group}"),
        message=MessageRef(chat, str(n)), text=text)


async def create_pg_database() -> str:
    """A fresh PostgreSQL database for one benchmark; returns its URL."""
    import asyncpg

    name = f"kindred_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


async def drop_pg_database(url: str) -> None:
    """Drop a database made by create_pg_database."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


@asynccontextmanager
async def bench_app(backend: str, tmp: Path) -> AsyncIterator[tuple[Application, RecordingPlatform]]:
    """A started application on SQLite or PostgreSQL with the recording platform."""
    url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    if backend == "postgres":
        url = await create_pg_database()
    platform = RecordingPlatform()
    app = build_application(Settings.from_env({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}),
                            platforms={"bench": platform})
    await app.start()
    app.scheduler.stop()
    try:
        yield app, platform
    finally:
        await app.settle()
        await app.stop()
        if backend == "postgres":
            await drop_pg_database(url)


def run_async(coro: object) -> object:
    """asyncio.run for the bench scripts."""
    return asyncio.run(coro)  # type: ignore[arg-type]


async def register_groups(app: Application, count: int, staff_per_group: int = 1) -> None:
    """Set up `count` groups directly in storage, each with reachable staff."""
    from dataclasses import replace

    from bot.core.models import Group, Membership, Person
    from bot.core.roles import Role

    async with app.uow() as store:
        for n in range(count):
            group = await store.groups.add(Group(
                key=f"bench:g{n}", platform="bench", home_chat=ChatRef("bench", f"g{n}", "group"),
                title=f"Group {n}", created_at=datetime.now(UTC)))
            assert group.id is not None
            for s in range(staff_per_group):
                staff = UserRef("bench", f"staff{n}-{s}")
                await store.memberships.save(Membership(group_id=group.id, user=staff,
                                                        granted_role=Role.FACILITATOR))
                await store.people.save(replace(Person(user=staff), can_message=True))
            if n % 500 == 499:
                await store.commit()
        await store.commit()
