"""What the groups capability needs from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.core.identity import ChatRef, UserRef
from bot.core.models import AlertSubscription, Group, Membership, Person
from bot.core.roles import Role
from bot.outbox import OutboxRepository


class GroupRepository(Protocol):
    """Groups by key or id."""

    async def by_key(self, key: str) -> Group | None:
        """The group with this key."""
        ...

    async def by_id(self, group_id: int) -> Group | None:
        """The group with this id."""
        ...

    async def add(self, group: Group) -> Group:
        """Store a new group; returns it with its id."""
        ...

    async def save(self, group: Group) -> None:
        """Store changed settings."""
        ...

    async def rekey(self, old_key: str, new_key: str, home_chat: ChatRef) -> None:
        """Follow a chat that changed id (a Telegram group that became a supergroup)."""
        ...

    async def all(self) -> list[Group]:
        """Every group (start-up checks and sweeps)."""
        ...


class PersonRepository(Protocol):
    """People's own settings."""

    async def get(self, user: UserRef) -> Person | None:
        """The person, if anything is kept about them."""
        ...

    async def save(self, person: Person) -> None:
        """Insert or update."""
        ...

    async def get_many(self, users: list[UserRef]) -> dict[str, Person]:
        """The people kept about, by user key (one query)."""
        ...


class MembershipRepository(Protocol):
    """Roles and admin flags per group."""

    async def get(self, group_id: int, user: UserRef) -> Membership | None:
        """One membership."""
        ...

    async def save(self, membership: Membership) -> None:
        """Insert or update."""
        ...

    async def staff(self, group_id: int) -> list[Membership]:
        """Moderators, facilitators and platform admins of a group."""
        ...

    async def staff_groups(self, user: UserRef) -> list[tuple[Group, Role]]:
        """The groups where `user` is a moderator or facilitator, with the role."""
        ...


class AlertSubscriptionRepository(Protocol):
    """Chats that receive alerts."""

    async def add(self, subscription: AlertSubscription) -> bool:
        """Subscribe; False if it already was."""
        ...

    async def remove(self, chat: ChatRef, subscriber: UserRef) -> bool:
        """Unsubscribe; False if it was not."""
        ...

    async def for_subscribers(self, subscribers: list[UserRef]) -> list[AlertSubscription]:
        """Every subscription made by one of `subscribers`."""
        ...


class AuditLog(Protocol):
    """Who changed what, when."""

    async def record(self, *, at: datetime, actor: UserRef | None, action: str, subject: str,
                     group_id: int | None = None, detail: str = "") -> None:
        """Append one entry (never message text)."""
        ...


class GroupsStore(Protocol):
    """A unit of work over the repositories the groups capability uses."""

    @property
    def groups(self) -> GroupRepository:
        """Groups."""
        ...

    @property
    def people(self) -> PersonRepository:
        """People's own settings."""
        ...

    @property
    def memberships(self) -> MembershipRepository:
        """Roles per group."""
        ...

    @property
    def alert_subscriptions(self) -> AlertSubscriptionRepository:
        """Alert subscriptions."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit log."""
        ...

    @property
    def outbox(self) -> OutboxRepository:
        """Durable deliveries."""
        ...

    async def commit(self) -> None:
        """Make the changes durable."""
        ...
