"""What the resource directory needs from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.groups.ports import GroupsStore
from bot.resources.model import Resource

Origin = Literal["shipped", "local"]


@dataclass(frozen=True, slots=True)
class StoredResource:
    """A directory entry as stored.

    Attributes:
        number: The row's number, which facilitators type (`/resource edit 12 ...`).
        resource: The entry; its `group_id` is the owning group's key, or None deployment-wide.
        group_id: The owning group's database id, or None for deployment-wide entries.
        origin: "shipped" while it is exactly the entry Kindred ships; "local" once written here.
    """

    number: int
    resource: Resource
    group_id: int | None
    origin: Origin


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What seeding the shipped entries changed.

    Attributes:
        added: Shipped entries stored for the first time.
        updated: Shipped rows whose shipped text changed.
        removed: Shipped rows no longer in the shipped file.
        kept_local: Shipped ids whose row was written locally and so was left alone.
        reordered: Local rows of shipped ids moved to their place in a reordered shipped file.
    """

    added: int = 0
    updated: int = 0
    removed: int = 0
    kept_local: int = 0
    reordered: int = 0

    @property
    def changed(self) -> bool:
        """Whether any row changed."""
        return bool(self.added or self.updated or self.removed or self.reordered)


class ResourceRepository(Protocol):
    """Directory entries: deployment-wide ones and each group's own."""

    async def version(self) -> int:
        """The change counter (raised by `bump_version` with every change)."""
        ...

    async def bump_version(self) -> None:
        """Raise the change counter, in the same transaction as the change."""
        ...

    async def all(self) -> list[StoredResource]:
        """Every entry, in directory order (shipped file order first, then by number)."""
        ...

    async def in_group(self, group_id: int) -> list[StoredResource]:
        """A group's own entries, by number."""
        ...

    async def get(self, number: int) -> StoredResource | None:
        """One entry by number."""
        ...

    async def find(self, group_id: int | None, resource_id: str) -> StoredResource | None:
        """An entry by its id within a group's own entries (None: deployment-wide)."""
        ...

    async def add(self, resource: Resource, *, group_id: int | None, at: datetime) -> StoredResource:
        """Store a new entry; raises ValueError if its id is taken in that scope."""
        ...

    async def update(self, number: int, resource: Resource, *, at: datetime) -> bool:
        """Replace an entry's fields (it becomes local); False if it is gone."""
        ...

    async def remove(self, number: int) -> bool:
        """Delete an entry; False if it was gone."""
        ...

    async def upsert_many(
        self, resources: Sequence[tuple[Resource, int | None]], *, at: datetime
    ) -> tuple[int, int]:
        """Insert or replace entries by (scope, id); returns (added, updated)."""
        ...

    async def seed_shipped(self, resources: Sequence[Resource], *, at: datetime) -> SeedReport:
        """Store the shipped entries: add new ones, update unchanged-shipped ones, drop retired ones."""
        ...

    async def group_ids_by_key(self, keys: Sequence[str]) -> dict[str, int]:
        """Database ids of the groups with these keys (those that exist)."""
        ...


class ResourcesStore(GroupsStore, Protocol):
    """A unit of work over what the resources capability uses."""

    @property
    def resources(self) -> ResourceRepository:
        """Directory entries."""
        ...
