"""Operators' directory tools behind `kindred resources import` and `kindred resources export`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.resources.csvio import read_resources_csv, write_resources_csv
from bot.resources.directory import StoreFactory, seed_shipped
from bot.resources.model import Resource


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What a deployment-wide import did.

    Attributes:
        added: New entries stored.
        updated: Entries replaced (same id in the same scope).
        errors: (line number, problem) for each row not imported; line 0 when the row is named
            by its id instead (a group that does not exist here).
    """

    added: int
    updated: int
    errors: tuple[tuple[int, str], ...]

    @property
    def imported(self) -> int:
        """Entries stored."""
        return self.added + self.updated


async def import_directory(
    store: StoreFactory,
    text: str,
    *,
    shipped: Sequence[Resource],
    now: datetime,
    default_country: str | None = None,
) -> ImportOutcome:
    """Import CSV text deployment-wide: every valid row in one transaction, none of an invalid one.

    Rows whose `group_id` names a group (its key, as `export` writes it) become that group's own
    entries. An imported row with a shipped entry's id replaces it and is never overwritten by
    later shipped updates.

    Args:
        store: Unit-of-work factory.
        text: The CSV file's text.
        shipped: The shipped entries, seeded first so an import can override them.
        now: The time of the import.
        default_country: Country for rows that name none.
    """
    await seed_shipped(store, shipped, at=now)
    report = read_resources_csv(text, default_country=default_country, today=now.date())
    errors = list(report.errors)
    async with store() as unit:
        keys = sorted({r.group_id for r in report.resources if r.group_id is not None})
        group_ids = await unit.resources.group_ids_by_key(keys)
        rows: list[tuple[Resource, int | None]] = []
        for resource in report.resources:
            if resource.group_id is None:
                rows.append((resource, None))
            elif resource.group_id in group_ids:
                rows.append((resource, group_ids[resource.group_id]))
            else:
                errors.append((0, f"entry {resource.id!r}: group {resource.group_id!r} is not set up "
                                  "in this deployment"))
        added = updated = 0
        if rows:
            added, updated = await unit.resources.upsert_many(rows, at=now)
            await unit.resources.bump_version()
            await unit.audit.record(at=now, actor=None, action="resource.import",
                                    subject="directory",
                                    detail=f"added={added} updated={updated} rejected={len(errors)}")
            await unit.commit()
    return ImportOutcome(added=added, updated=updated, errors=tuple(errors))


async def export_directory(store: StoreFactory, *, shipped: Sequence[Resource], now: datetime) -> str:
    """Every stored entry (each group's own with its group key) as CSV that `import` reads back."""
    await seed_shipped(store, shipped, at=now)
    async with store() as unit:
        stored = await unit.resources.all()
    return write_resources_csv(s.resource for s in stored)
