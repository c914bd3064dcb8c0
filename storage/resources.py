"""The resource directory in SQL: entries as domain Resources, shipped-entry seeding, a change counter."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.resources.csvio import write_resources_csv
from bot.resources.model import AgeRange, Resource
from bot.resources.ports import Origin, SeedReport, StoredResource
from storage.tables import GroupRow, ResourceDirectoryRow, ResourceRow

log = logging.getLogger(__name__)

DEPLOYMENT_SCOPE = "*"
# Core, not ORM, for bulk inserts: the ORM splits rows by which values are None (thousands of
# statements for an import), Core sends them as one batch.
_RESOURCES_TABLE = ResourceRow.metadata.tables["resources"]


def scope_of(group_id: int | None) -> str:
    """The unique-key scope of an entry: "*" deployment-wide, "g<id>" for a group's own."""
    return DEPLOYMENT_SCOPE if group_id is None else f"g{group_id}"


def content_hash(resource: Resource) -> str:
    """A fingerprint of everything a member sees of an entry (to notice a changed shipped file)."""
    return hashlib.sha256(write_resources_csv([resource]).encode()).hexdigest()


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(";") if part)


def _columns(resource: Resource) -> dict[str, object]:
    """The row's columns that hold the entry itself."""
    ages = resource.ages_served
    return {
        "resource_id": resource.id[:128], "name": resource.name,
        "description": resource.description, "categories": ";".join(resource.categories),
        "service_area": resource.service_area, "country": resource.country,
        "region": resource.region, "city": resource.city, "phone": resource.phone,
        "text_line": resource.text_line, "url": resource.url, "email": resource.email,
        "hours": resource.hours, "languages": ";".join(resource.languages),
        "minimum_age": ages.minimum_age if ages else None,
        "maximum_age": ages.maximum_age if ages else None, "cost": resource.cost,
        "payment_notes": resource.payment_notes, "assured_date": resource.assured_date,
        "is_emergency": resource.is_emergency, "verification": resource.verification,
    }


def _apply(row: ResourceRow, resource: Resource) -> None:
    for name, value in _columns(resource).items():
        setattr(row, name, value)


def _resource(row: Any, group_key: str | None) -> Resource:
    ages = None
    if row.minimum_age is not None or row.maximum_age is not None:
        ages = AgeRange(row.minimum_age, row.maximum_age)
    area = row.service_area if row.service_area in ("national", "region", "city", "online") else "national"
    return Resource(
        id=row.resource_id, name=row.name, description=row.description,
        categories=_split(row.categories), service_area=area,  # type: ignore[arg-type]
        country=row.country, region=row.region, city=row.city, phone=row.phone,
        text_line=row.text_line, url=row.url, email=row.email, hours=row.hours,
        languages=_split(row.languages), ages_served=ages, cost=row.cost,
        payment_notes=row.payment_notes, assured_date=row.assured_date, group_id=group_key,
        is_emergency=row.is_emergency, verification=row.verification)


class SqlResourceRepository:
    """Directory entries in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _stored(self, row: Any, group_key: str | None) -> StoredResource | None:
        assert row.id is not None
        try:
            resource = _resource(row, group_key)
        except ValueError:
            # A row edited by hand into something invalid must not take the directory down.
            log.warning("invalid resource row skipped", extra={"resource_number": row.id})
            return None
        origin: Origin = "shipped" if row.origin == "shipped" else "local"
        return StoredResource(number=row.id, resource=resource, group_id=row.group_id, origin=origin)

    @staticmethod
    def _joined() -> Any:
        # Plain rows (Core), not ORM objects: loading 10,000 entries skips the identity map.
        return sa_select(_RESOURCES_TABLE, col(GroupRow.key).label("group_key")).select_from(
            _RESOURCES_TABLE.outerjoin(GroupRow, col(GroupRow.id) == _RESOURCES_TABLE.c.group_id))

    async def version(self) -> int:
        """The change counter."""
        found = await self._session.execute(
            select(ResourceDirectoryRow.version).where(col(ResourceDirectoryRow.id) == 1))
        value = found.scalar_one_or_none()
        return int(value) if value is not None else 0

    async def bump_version(self) -> None:
        """Raise the change counter (one atomic UPDATE, so concurrent writers never lose a bump)."""
        result = await self._session.execute(
            update(ResourceDirectoryRow).where(col(ResourceDirectoryRow.id) == 1)
            .values(version=col(ResourceDirectoryRow.version) + 1))
        if _rowcount(result) == 0:
            try:
                async with self._session.begin_nested():
                    self._session.add(ResourceDirectoryRow(id=1, version=1))
            except IntegrityError:  # another process created the row just now
                await self._session.execute(
                    update(ResourceDirectoryRow).where(col(ResourceDirectoryRow.id) == 1)
                    .values(version=col(ResourceDirectoryRow.version) + 1))

    async def all(self) -> list[StoredResource]:
        """Every entry, shipped file order first, then by number."""
        table = _RESOURCES_TABLE.c
        query = self._joined().order_by(table.position.is_(None), table.position, table.id)
        out: list[StoredResource] = []
        for row in (await self._session.execute(query)).all():
            stored = self._stored(row, row.group_key)
            if stored is not None:
                out.append(stored)
        return out

    async def in_group(self, group_id: int) -> list[StoredResource]:
        """A group's own entries, by number."""
        query = self._joined().where(_RESOURCES_TABLE.c.group_id == group_id).order_by(
            _RESOURCES_TABLE.c.id)
        out: list[StoredResource] = []
        for row in (await self._session.execute(query)).all():
            stored = self._stored(row, row.group_key)
            if stored is not None:
                out.append(stored)
        return out

    async def get(self, number: int) -> StoredResource | None:
        """One entry by number."""
        found = (await self._session.execute(
            self._joined().where(_RESOURCES_TABLE.c.id == number))).first()
        return self._stored(found, found.group_key) if found else None

    async def find(self, group_id: int | None, resource_id: str) -> StoredResource | None:
        """An entry by id within a scope."""
        found = (await self._session.execute(self._joined().where(
            _RESOURCES_TABLE.c.scope == scope_of(group_id),
            _RESOURCES_TABLE.c.resource_id == resource_id[:128]))).first()
        return self._stored(found, found.group_key) if found else None

    async def add(self, resource: Resource, *, group_id: int | None, at: datetime) -> StoredResource:
        """Store a new local entry; ValueError if the id is taken in that scope."""
        row = ResourceRow(resource_id=resource.id, scope=scope_of(group_id), group_id=group_id,
                          origin="local", name=resource.name, categories="", updated_at=at)
        _apply(row, resource)
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError as exc:
            raise ValueError(f"id {resource.id!r} is already used") from exc
        assert row.id is not None
        return StoredResource(number=row.id, resource=resource, group_id=group_id, origin="local")

    async def update(self, number: int, resource: Resource, *, at: datetime) -> bool:
        """Replace an entry's fields; it becomes local, so seeding leaves it alone from now on."""
        row = await self._session.get(ResourceRow, number)
        if row is None:
            return False
        _apply(row, resource)
        row.origin = "local"
        row.updated_at = at
        await self._session.flush()
        return True

    async def remove(self, number: int) -> bool:
        """Delete an entry."""
        result = await self._session.execute(delete(ResourceRow).where(col(ResourceRow.id) == number))
        return _rowcount(result) > 0

    async def upsert_many(
        self, resources: Sequence[tuple[Resource, int | None]], *, at: datetime
    ) -> tuple[int, int]:
        """Insert or replace entries by (scope, id); replaced rows become local."""
        added = updated = 0
        by_scope: dict[str, list[tuple[Resource, int | None]]] = {}
        for resource, group_id in resources:
            by_scope.setdefault(scope_of(group_id), []).append((resource, group_id))
        for scope, items in by_scope.items():
            existing: dict[str, ResourceRow] = {}
            ids = [r.id[:128] for r, _ in items]
            for start in range(0, len(ids), 500):
                query = select(ResourceRow).where(col(ResourceRow.scope) == scope,
                                                  col(ResourceRow.resource_id).in_(ids[start:start + 500]))
                for found in (await self._session.execute(query)).scalars():
                    existing[found.resource_id] = found
            new: dict[str, dict[str, object]] = {}
            for resource, group_id in items:
                row = existing.get(resource.id[:128])
                if row is None:
                    # Plain rows in one multi-row INSERT: 10,000 entries in a second, not minutes.
                    new[resource.id[:128]] = {**_columns(resource), "scope": scope,
                                              "group_id": group_id, "origin": "local",
                                              "updated_at": at}
                else:
                    _apply(row, resource)
                    row.origin = "local"
                    row.updated_at = at
                    updated += 1
            if new:
                await self._session.execute(insert(_RESOURCES_TABLE), list(new.values()))
                added += len(new)
        await self._session.flush()
        return added, updated

    async def seed_shipped(self, resources: Sequence[Resource], *, at: datetime) -> SeedReport:
        """Bring the shipped rows in line with the shipped file; local rows are never touched."""
        # Only the rows seeding can touch, not an operator's whole imported directory.
        query = select(ResourceRow).where(
            col(ResourceRow.scope) == DEPLOYMENT_SCOPE,
            or_(col(ResourceRow.origin) == "shipped",
                col(ResourceRow.resource_id).in_([r.id[:128] for r in resources])))
        rows = {row.resource_id: row for row in (await self._session.execute(query)).scalars()}
        added = updated = kept = reordered = 0
        shipped_ids = set()
        for position, resource in enumerate(resources):
            shipped_ids.add(resource.id)
            fingerprint = content_hash(resource)
            row = rows.get(resource.id)
            if row is None:
                row = ResourceRow(resource_id=resource.id, scope=DEPLOYMENT_SCOPE, origin="shipped",
                                  name=resource.name, categories="", updated_at=at)
                _apply(row, resource)
                row.shipped_hash, row.position = fingerprint, position
                self._session.add(row)
                added += 1
            elif row.origin != "shipped":
                kept += 1
                if row.position != position:  # keeps its place in the directory order
                    row.position = position
                    reordered += 1
            elif row.shipped_hash != fingerprint or row.position != position:
                _apply(row, resource)
                row.shipped_hash, row.position, row.updated_at = fingerprint, position, at
                updated += 1
        retired = [row.id for row in rows.values()
                   if row.origin == "shipped" and row.resource_id not in shipped_ids]
        if retired:
            await self._session.execute(delete(ResourceRow).where(col(ResourceRow.id).in_(retired)))
        await self._session.flush()
        return SeedReport(added=added, updated=updated, removed=len(retired), kept_local=kept,
                          reordered=reordered)

    async def group_ids_by_key(self, keys: Sequence[str]) -> dict[str, int]:
        """Database ids of the groups with these keys."""
        if not keys:
            return {}
        found = await self._session.execute(
            select(GroupRow.key, GroupRow.id).where(col(GroupRow.key).in_(list(set(keys)))))
        return {key: int(group_id) for key, group_id in found.all() if group_id is not None}
