"""SQL repositories of the core records; each maps rows to domain records explicitly."""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import delete, func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.core.identity import ChatRef, UserRef
from bot.core.models import AlertSubscription, Group, Membership, Person
from bot.core.roles import Role
from storage.tables import (
    AlertSubscriptionRow,
    AuditRow,
    GroupRow,
    MembershipRow,
    PersonRow,
    ProcessedEventRow,
)


def _rowcount(result: object) -> int:
    """Rows a DELETE or UPDATE touched (a CursorResult attribute the generic type hides)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _time_or_none(value: str | None) -> time | None:
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes))


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value else None


def group_from_row(row: GroupRow) -> Group:
    """Map a row to the domain record."""
    return Group(
        id=row.id, key=row.key, platform=row.platform,
        home_chat=ChatRef(row.platform, row.home_chat_id, "group", row.home_thread_id),
        title=row.title, language=row.language, timezone=row.timezone, region=row.region,
        rules=row.rules, welcome=row.welcome, hold_new_members=row.hold_new_members,
        checkin_time=_time_or_none(row.checkin_time),
        checkin_days=tuple(int(c) for c in row.checkin_days),
        created_at=row.created_at,
    )


def _apply_group(row: GroupRow, group: Group) -> None:
    row.key = group.key
    row.platform = group.platform
    row.home_chat_id = group.home_chat.id
    row.home_thread_id = group.home_chat.thread
    row.title = group.title[:256]
    row.language = group.language
    row.timezone = group.timezone
    row.region = group.region
    row.rules = group.rules
    row.welcome = group.welcome
    row.hold_new_members = group.hold_new_members
    row.checkin_time = _hhmm(group.checkin_time)
    row.checkin_days = "".join(str(d) for d in group.checkin_days)
    row.created_at = group.created_at


class SqlGroupRepository:
    """Groups in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_key(self, key: str) -> Group | None:
        """The group with this key."""
        row = (await self._session.execute(select(GroupRow).where(
            col(GroupRow.key) == key))).scalars().first()
        return group_from_row(row) if row else None

    async def by_id(self, group_id: int) -> Group | None:
        """The group with this id."""
        row = await self._session.get(GroupRow, group_id)
        return group_from_row(row) if row else None

    async def add(self, group: Group) -> Group:
        """Store a new group."""
        row = GroupRow(key=group.key, platform=group.platform, home_chat_id=group.home_chat.id)
        _apply_group(row, group)
        self._session.add(row)
        await self._session.flush()
        return group_from_row(row)

    async def save(self, group: Group) -> None:
        """Store changed settings."""
        row = await self._session.get(GroupRow, group.id)
        if row is None:
            raise LookupError("group vanished")
        _apply_group(row, group)
        self._session.add(row)

    async def rekey(self, old_key: str, new_key: str, home_chat: ChatRef) -> None:
        """Follow a chat that changed id."""
        await self._session.execute(
            update(GroupRow).where(col(GroupRow.key) == old_key).values(
                key=new_key, home_chat_id=home_chat.id))

    async def all(self) -> list[Group]:
        """Every group (for sweeps)."""
        rows = (await self._session.execute(select(GroupRow))).scalars().all()
        return [group_from_row(r) for r in rows]


def person_from_row(row: PersonRow) -> Person:
    """Map a row to the domain record."""
    return Person(
        user=UserRef.from_key(row.user_key), display_name=row.display_name,
        language=row.language, timezone=row.timezone, private_checkins=row.private_checkins,
        private_checkin_time=_time_or_none(row.private_checkin_time),
        consented_at=row.consented_at, can_message=row.can_message,
        paused_until=row.paused_until,
    )


class SqlPersonRepository:
    """People in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _row(self, user: UserRef) -> PersonRow | None:
        result = await self._session.execute(select(PersonRow).where(
            col(PersonRow.user_key) == user.key))
        return result.scalars().first()

    async def get(self, user: UserRef) -> Person | None:
        """The person, if anything is kept about them."""
        row = await self._row(user)
        return person_from_row(row) if row else None

    async def save(self, person: Person) -> None:
        """Insert or update."""
        row = await self._row(person.user) or PersonRow(user_key=person.user.key)
        row.display_name = person.display_name[:128]
        row.language = person.language
        row.timezone = person.timezone
        row.private_checkins = person.private_checkins
        row.private_checkin_time = _hhmm(person.private_checkin_time)
        row.consented_at = person.consented_at
        row.can_message = person.can_message
        row.paused_until = person.paused_until
        self._session.add(row)
        await self._session.flush()

    async def get_many(self, users: list[UserRef]) -> dict[str, Person]:
        """The people kept about, by user key (one query)."""
        if not users:
            return {}
        result = await self._session.execute(select(PersonRow).where(
            col(PersonRow.user_key).in_([u.key for u in users])))
        return {row.user_key: person_from_row(row) for row in result.scalars().all()}

    async def delete(self, user: UserRef) -> int:
        """Erase a person's own settings."""
        result = await self._session.execute(
            delete(PersonRow).where(col(PersonRow.user_key) == user.key))
        return _rowcount(result)


def membership_from_row(row: MembershipRow) -> Membership:
    """Map a row to the domain record."""
    return Membership(
        group_id=row.group_id, user=UserRef.from_key(row.user_key),
        display_name=row.display_name, granted_role=Role.parse(row.granted_role),
        is_platform_admin=row.is_platform_admin, on_call=row.on_call,
    )


class SqlMembershipRepository:
    """Roles per group in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _row(self, group_id: int, user: UserRef) -> MembershipRow | None:
        result = await self._session.execute(select(MembershipRow).where(
            col(MembershipRow.group_id) == group_id, col(MembershipRow.user_key) == user.key))
        return result.scalars().first()

    async def get(self, group_id: int, user: UserRef) -> Membership | None:
        """One membership."""
        row = await self._row(group_id, user)
        return membership_from_row(row) if row else None

    async def save(self, membership: Membership) -> None:
        """Insert or update."""
        row = await self._row(membership.group_id, membership.user) or MembershipRow(
            group_id=membership.group_id, user_key=membership.user.key)
        row.display_name = membership.display_name[:128]
        row.granted_role = membership.granted_role.label
        row.is_platform_admin = membership.is_platform_admin
        row.on_call = membership.on_call
        self._session.add(row)
        await self._session.flush()

    async def staff(self, group_id: int) -> list[Membership]:
        """Moderators, facilitators and platform admins of a group."""
        result = await self._session.execute(select(MembershipRow).where(
            col(MembershipRow.group_id) == group_id,
            or_(col(MembershipRow.granted_role) != "member",
                col(MembershipRow.is_platform_admin))))
        return [membership_from_row(r) for r in result.scalars().all()]

    async def staff_groups(self, user: UserRef) -> list[tuple[Group, Role]]:
        """The groups where `user` is a moderator or facilitator."""
        result = await self._session.execute(
            select(MembershipRow, GroupRow).join(
                GroupRow, col(GroupRow.id) == col(MembershipRow.group_id))
            .where(col(MembershipRow.user_key) == user.key))
        pairs: list[tuple[Group, Role]] = []
        for membership_row, group_row in result.all():
            role = membership_from_row(membership_row).role
            if role >= Role.MODERATOR:
                pairs.append((group_from_row(group_row), role))
        return pairs

    async def delete_user(self, user: UserRef) -> int:
        """Erase a person's memberships."""
        result = await self._session.execute(delete(MembershipRow).where(
            col(MembershipRow.user_key) == user.key))
        return _rowcount(result)


class SqlAlertSubscriptionRepository:
    """Alert subscriptions in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, subscription: AlertSubscription) -> bool:
        """Subscribe; False if it already was."""
        existing = (await self._session.execute(select(AlertSubscriptionRow).where(
            col(AlertSubscriptionRow.chat_key) == subscription.chat.key,
            col(AlertSubscriptionRow.subscriber_key) == subscription.subscriber.key))).scalars().first()
        if existing is not None:
            return False
        self._session.add(AlertSubscriptionRow(
            chat_key=subscription.chat.key, chat_kind=subscription.chat.kind,
            thread_id=subscription.chat.thread, subscriber_key=subscription.subscriber.key))
        await self._session.flush()
        return True

    async def remove(self, chat: ChatRef, subscriber: UserRef) -> bool:
        """Unsubscribe; False if it was not."""
        result = await self._session.execute(delete(AlertSubscriptionRow).where(
            col(AlertSubscriptionRow.chat_key) == chat.key,
            col(AlertSubscriptionRow.subscriber_key) == subscriber.key))
        return _rowcount(result) > 0

    async def for_subscribers(self, subscribers: list[UserRef]) -> list[AlertSubscription]:
        """Every subscription made by one of `subscribers`."""
        if not subscribers:
            return []
        keys = [s.key for s in subscribers]
        result = await self._session.execute(select(AlertSubscriptionRow).where(
            col(AlertSubscriptionRow.subscriber_key).in_(keys)))
        subscriptions = []
        for row in result.scalars().all():
            platform, _, chat_id = row.chat_key.partition(":")
            subscriptions.append(AlertSubscription(
                chat=ChatRef(platform, chat_id, "direct" if row.chat_kind == "direct" else "group",
                             row.thread_id),
                subscriber=UserRef.from_key(row.subscriber_key)))
        return subscriptions

    async def delete_user(self, user: UserRef) -> int:
        """Erase a person's subscriptions."""
        result = await self._session.execute(delete(AlertSubscriptionRow).where(
            col(AlertSubscriptionRow.subscriber_key) == user.key))
        return _rowcount(result)


class SqlProcessedEventRepository:
    """Ids of events already handled."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def seen_among(self, event_ids: list[str]) -> set[str]:
        """Which of these events were handled already (one query)."""
        rows = await self._session.execute(select(col(ProcessedEventRow.event_id)).where(
            col(ProcessedEventRow.event_id).in_(event_ids)))
        return {row[0] for row in rows.all()}

    async def add_many(self, event_ids: list[str], at: datetime) -> None:
        """Record several handled events in one statement; ids already recorded are skipped."""
        if not event_ids:
            return
        bind = self._session.get_bind()
        insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
        rows = [{"event_id": event_id[:128], "processed_at": at} for event_id in event_ids]
        await self._session.execute(
            insert(ProcessedEventRow).values(rows).on_conflict_do_nothing(
                index_elements=["event_id"]))

    async def last_handled_at(self, prefix: str) -> datetime | None:
        """When the newest handled event whose id starts with `prefix` was handled."""
        rows = await self._session.execute(
            select(func.max(col(ProcessedEventRow.processed_at))).where(
                col(ProcessedEventRow.event_id).startswith(prefix)))
        value = rows.scalar()
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop records older than `cutoff` (platforms redeliver for a day at most)."""
        result = await self._session.execute(delete(ProcessedEventRow).where(
            col(ProcessedEventRow.processed_at) < cutoff))
        return _rowcount(result)


class SqlAuditRepository:
    """The audit log."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, *, at: datetime, actor: UserRef | None, action: str, subject: str,
                     group_id: int | None = None, detail: str = "") -> None:
        """Append one entry (never message text)."""
        self._session.add(AuditRow(at=at, actor_key=actor.key if actor else "", action=action,
                                   subject=subject, group_id=group_id, detail=detail[:256]))

    async def for_subject(self, subject: str) -> list[tuple[datetime, str, str, str]]:
        """Entries about one subject, oldest first: (at, actor key, action, detail)."""
        result = await self._session.execute(select(AuditRow).where(
            col(AuditRow.subject) == subject).order_by(col(AuditRow.id)))
        return [(r.at, r.actor_key, r.action, r.detail) for r in result.scalars().all()]
