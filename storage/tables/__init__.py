"""Every table, imported here so SQLModel.metadata (and so Alembic) knows them all.

A capability adds its tables in a module of its own in this folder, imports it below, and
generates a migration with `kindred db revision -m "what changed"`.
"""

from sqlalchemy import Table
from sqlmodel import SQLModel

from storage.tables.checkins import CheckinPromptRow, CheckinReportRow, CheckinRow, PrivatePromptRow
from storage.tables.core import (
    AlertSubscriptionRow,
    AuditRow,
    DeliveryRow,
    GroupRow,
    MembershipRow,
    PersonRow,
    ProcessedEventRow,
)
from storage.tables.crisis import ConcernRow, EscalationMessageRow, EscalationRow, GroupTermRow
from storage.tables.onboarding import ConsentRow, OnboardingStepRow, WelcomeWindowRow
from storage.tables.resources import ResourceDirectoryRow, ResourceRow


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a model, for executemany statements that skip the ORM."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


__all__ = [
    "AlertSubscriptionRow",
    "AuditRow",
    "CheckinPromptRow",
    "CheckinReportRow",
    "CheckinRow",
    "ConcernRow",
    "ConsentRow",
    "DeliveryRow",
    "EscalationMessageRow",
    "EscalationRow",
    "GroupRow",
    "GroupTermRow",
    "MembershipRow",
    "OnboardingStepRow",
    "PersonRow",
    "PrivatePromptRow",
    "ProcessedEventRow",
    "ResourceDirectoryRow",
    "ResourceRow",
    "WelcomeWindowRow",
    "table_of",
]
