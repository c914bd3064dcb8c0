"""What the privacy capability needs from storage."""

from __future__ import annotations

from typing import Any, Protocol

from bot.core.identity import UserRef
from bot.groups.ports import AuditLog


class PersonalDataRepository(Protocol):
    """Everything kept about one person, across every table."""

    async def export(self, user: UserRef) -> dict[str, list[dict[str, Any]]]:
        """Every row about `user`, by table, as JSON-able values (sealed values opened)."""
        ...

    async def erase(self, user: UserRef, placeholder: str) -> dict[str, int]:
        """Delete or anonymise every row about `user`; rows touched per table.

        Rows kept for accountability or counts get `placeholder` instead of the person's id,
        their names blanked and their excerpts dropped.
        """
        ...


class PrivacyStore(Protocol):
    """A unit of work over what the privacy capability uses."""

    @property
    def personal_data(self) -> PersonalDataRepository:
        """Export and erase."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit log."""
        ...

    async def commit(self) -> None:
        """Make the changes durable."""
        ...
