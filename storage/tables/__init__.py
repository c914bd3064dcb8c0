"""Every table, imported here so SQLModel.metadata (and so Alembic) knows them all.

A capability adds its tables in a module of its own in this folder, imports it below, and
generates a migration with `kindred db revision -m "what changed"`.
"""

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

__all__ = [
    "AlertSubscriptionRow",
    "AuditRow",
    "ConcernRow",
    "DeliveryRow",
    "EscalationMessageRow",
    "EscalationRow",
    "GroupRow",
    "GroupTermRow",
    "MembershipRow",
    "PersonRow",
    "ProcessedEventRow",
]
