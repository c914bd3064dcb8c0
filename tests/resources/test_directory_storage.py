"""The stored directory on SQLite and PostgreSQL: seeding, local edits, group entries, reloads."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.core.identity import ChatRef
from bot.core.models import Group
from bot.resources import Resource, crisis_lines, load_shipped_resources
from bot.resources.directory import ResourceDirectory, seed_shipped
from storage import migrate
from storage.db import Database
from storage.unit_of_work import UnitOfWorkFactory
from tests.harness import FakeClock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHIPPED = load_shipped_resources()


@pytest.fixture
async def uow(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    database = Database(database_url)
    await migrate.upgrade(database)
    try:
        yield UnitOfWorkFactory(database)
    finally:
        await database.dispose()


async def make_group(uow: UnitOfWorkFactory, key: str, region: str = "US") -> Group:
    async with uow() as store:
        group = await store.groups.add(Group(key=key, platform="console",
                                             home_chat=ChatRef("console", key, "group"),
                                             region=region))
        await store.commit()
    return group


def local_line(group_key: str, country: str = "FR") -> Resource:
    return Resource(id="team", name="Equipo de crisis del grupo", categories=("crisis",),
                    country=country, phone="+33 1 55 55 01 01", group_id=group_key)


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_seeding_is_idempotent_and_keeps_the_shipped_order(uow: UnitOfWorkFactory) -> None:
    first = await seed_shipped(uow, SHIPPED, at=NOW)
    again = await seed_shipped(uow, SHIPPED, at=NOW)
    assert first.added == len(SHIPPED) and not again.changed
    async with uow() as store:
        stored = await store.resources.all()
        version = await store.resources.version()
    assert [s.resource for s in stored] == list(SHIPPED)
    assert all(s.origin == "shipped" and s.group_id is None for s in stored)
    assert version == 1  # one bump for the first seeding, none for the second


async def test_a_changed_shipped_file_updates_shipped_rows_but_never_a_local_edit(
        uow: UnitOfWorkFactory) -> None:
    await seed_shipped(uow, SHIPPED, at=NOW)
    async with uow() as store:
        samaritans = await store.resources.find(None, "gb-samaritans")
        childline = await store.resources.find(None, "gb-childline")
        assert samaritans is not None and childline is not None
        edited = dataclasses.replace(samaritans.resource, hours="Operator's note: 24/7")
        assert await store.resources.update(samaritans.number, edited, at=NOW)
        await store.commit()
    # The next release changes both lines, retires the last one and adds one.
    retired = SHIPPED[-1].id
    newer = [dataclasses.replace(r, hours="changed upstream")
             if r.id in ("gb-samaritans", "gb-childline") else r
             for r in SHIPPED if r.id != retired]
    newer.append(Resource(id="gb-new-line", name="New line", categories=("crisis",), country="GB",
                          phone="0800 555 0100"))
    report = await seed_shipped(uow, newer, at=NOW)
    assert (report.added, report.updated, report.removed, report.kept_local) == (1, 1, 1, 1)
    async with uow() as store:
        by_id = {s.resource.id: s for s in await store.resources.all()}
    assert by_id["gb-samaritans"].resource.hours == "Operator's note: 24/7"
    assert by_id["gb-samaritans"].origin == "local"
    assert by_id["gb-childline"].resource.hours == "changed upstream"
    assert retired not in by_id and "gb-new-line" in by_id


async def test_group_entries_carry_their_group_key_and_ids_are_per_scope(
        uow: UnitOfWorkFactory) -> None:
    one = await make_group(uow, "console:one")
    two = await make_group(uow, "console:two")
    assert one.id is not None and two.id is not None
    async with uow() as store:
        first = await store.resources.add(local_line(one.key), group_id=one.id, at=NOW)
        # The same id in another group is another entry; in the same group it is refused.
        await store.resources.add(local_line(two.key), group_id=two.id, at=NOW)
        with pytest.raises(ValueError, match="already used"):
            await store.resources.add(local_line(one.key), group_id=one.id, at=NOW)
        await store.commit()
    async with uow() as store:
        mine = await store.resources.in_group(one.id)
        found = await store.resources.get(first.number)
    assert [s.resource.group_id for s in mine] == ["console:one"]
    assert found is not None and found.group_id == one.id
    assert found.resource == local_line("console:one")


async def test_import_replaces_by_id_within_a_scope(uow: UnitOfWorkFactory) -> None:
    group = await make_group(uow, "console:g")
    assert group.id is not None
    line = local_line(group.key)
    async with uow() as store:
        assert await store.resources.upsert_many([(line, group.id)], at=NOW) == (1, 0)
        renamed = dataclasses.replace(line, name="Renamed")
        assert await store.resources.upsert_many([(renamed, group.id), (line, None)], at=NOW) == (1, 1)
        await store.commit()
    async with uow() as store:
        assert [s.resource.name for s in await store.resources.in_group(group.id)] == ["Renamed"]
        assert (await store.resources.find(None, "team")) is not None


async def test_directory_serves_shipped_lines_until_loaded_then_the_stored_ones(
        uow: UnitOfWorkFactory) -> None:
    group = await make_group(uow, "console:fr", region="FR")
    assert group.id is not None
    directory = ResourceDirectory(store=uow, shipped=SHIPPED, clock=FakeClock(NOW))
    view = directory.crisis_lines
    assert len(view) == sum(r.is_crisis_line for r in SHIPPED)  # before any load
    async with uow() as store:
        await store.resources.add(local_line(group.key), group_id=group.id, at=NOW)
        await store.resources.bump_version()
        await store.commit()
    await directory.changed()
    visible = [r for r in view if r.visible_to(group.key)]
    lines = crisis_lines(visible, country="FR", language="es", imminent=False)
    assert lines[0].name == "Equipo de crisis del grupo"
    # Another group never gets it.
    assert not [r for r in view if r.visible_to("console:other") and r.id == "team"]


async def test_a_change_in_another_process_is_seen_after_the_check_interval(
        uow: UnitOfWorkFactory) -> None:
    group = await make_group(uow, "console:g")
    assert group.id is not None
    ticks = Ticks()
    here = ResourceDirectory(store=uow, shipped=SHIPPED, clock=FakeClock(NOW), monotonic=ticks)
    there = ResourceDirectory(store=uow, shipped=SHIPPED, clock=FakeClock(NOW), monotonic=ticks)
    await here.refresh()
    await there.refresh()
    assert here.loads == there.loads == 1
    async with uow() as store:
        await store.resources.add(local_line(group.key, "US"), group_id=group.id, at=NOW)
        await store.resources.bump_version()
        await store.commit()
    await here.changed()
    index = await there.index()  # within the interval: the old copy, no database read
    assert "team" not in {r.id for r in index.resources}
    ticks.now += 6
    index = await there.index()
    assert "team" in {r.id for r in index.resources}
    ticks.now += 6
    assert not await there.refresh()  # nothing changed: the version is read, nothing reloaded
    assert there.loads == 2
