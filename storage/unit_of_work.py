"""The unit of work: one session, every repository on it, commit or roll back as one."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import DirectHandover
from storage.checkins import SqlCheckinRepository
from storage.crisis import SqlConcernRepository, SqlEscalationRepository, SqlGroupTermRepository
from storage.db import Database
from storage.onboarding import SqlOnboardingRepository
from storage.outbox import SqlOutboxRepository
from storage.privacy import SqlPersonalData
from storage.repositories import (
    SqlAlertSubscriptionRepository,
    SqlAuditRepository,
    SqlGroupRepository,
    SqlMembershipRepository,
    SqlPersonRepository,
    SqlProcessedEventRepository,
)
from storage.resources import SqlResourceRepository


class SqlUnitOfWork:
    """`async with database_uow() as uow: ...; await uow.commit()`; rolls back unless committed."""

    groups: SqlGroupRepository
    people: SqlPersonRepository
    memberships: SqlMembershipRepository
    alert_subscriptions: SqlAlertSubscriptionRepository
    processed_events: SqlProcessedEventRepository
    audit: SqlAuditRepository
    escalations: SqlEscalationRepository
    group_terms: SqlGroupTermRepository
    concerns: SqlConcernRepository
    outbox: SqlOutboxRepository
    resources: SqlResourceRepository
    onboarding: SqlOnboardingRepository
    checkins: SqlCheckinRepository
    personal_data: SqlPersonalData

    def __init__(self, database: Database, handover: DirectHandover | None = None) -> None:
        self._database = database
        self._handover = handover
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        self._session = self._database.sessions()
        session = self._session
        self.groups = SqlGroupRepository(session)
        self.people = SqlPersonRepository(session)
        self.memberships = SqlMembershipRepository(session)
        self.alert_subscriptions = SqlAlertSubscriptionRepository(session)
        self.processed_events = SqlProcessedEventRepository(session)
        self.audit = SqlAuditRepository(session)
        cipher = self._database.cipher
        self.escalations = SqlEscalationRepository(session, cipher)
        self.group_terms = SqlGroupTermRepository(session)
        self.concerns = SqlConcernRepository(session)
        self.outbox = SqlOutboxRepository(session, cipher, self._handover)
        self.resources = SqlResourceRepository(session)
        self.onboarding = SqlOnboardingRepository(session)
        self.checkins = SqlCheckinRepository(session, cipher)
        self.personal_data = SqlPersonalData(session, cipher)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> AsyncSession:
        """The session, for repositories that capabilities add."""
        assert self._session is not None, "use inside `async with`"
        return self._session

    async def commit(self) -> None:
        """Make the changes durable, then hand urgent new deliveries straight to the sender."""
        await self.session.commit()
        leased, self.outbox.leased = self.outbox.leased, []
        if leased and self._handover is not None:
            self._handover.adopt(leased)


class UnitOfWorkFactory:
    """Makes a fresh unit of work per use; the composition root hands this to services."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # Set by the composition root once the outbox pump exists (see bot.outbox.DirectHandover).
        self.handover: DirectHandover | None = None

    def __call__(self) -> SqlUnitOfWork:
        """A fresh unit of work."""
        return SqlUnitOfWork(self.database, self.handover)
