"""Domain records shared by every capability: groups, people and their roles in a group."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time

from bot.core.identity import ChatRef, UserRef
from bot.core.roles import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """A managed support group: a Telegram group or a Discord server."""

    id: int | None = None
    key: str
    platform: str
    home_chat: ChatRef  # where welcomes and check-in prompts are posted
    title: str = field(default="", repr=False)
    language: str = "en"
    timezone: str = "UTC"
    region: str = "US"
    rules: str = field(default="", repr=False)
    welcome: str = field(default="", repr=False)
    hold_new_members: bool = False
    checkin_time: time | None = None  # None: daily check-ins are off
    checkin_days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    created_at: datetime | None = None

    def with_changes(self, **changes: object) -> Group:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """One person's own settings, shared by every group they are in."""

    user: UserRef
    display_name: str = field(default="", repr=False)
    language: str | None = None
    timezone: str | None = None
    private_checkins: bool = False
    private_checkin_time: time | None = None
    consented_at: datetime | None = None
    can_message: bool = False  # has a private chat with the bot (Telegram /start, Discord DM open)
    paused_until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership:
    """A person's standing in one group."""

    group_id: int
    user: UserRef
    display_name: str = field(default="", repr=False)
    granted_role: Role = Role.MEMBER  # from /moderator add or /facilitator add
    is_platform_admin: bool = False
    on_call: bool = False

    @property
    def role(self) -> Role:
        """The role that counts: platform admins are facilitators."""
        return Role.FACILITATOR if self.is_platform_admin else self.granted_role


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSubscription:
    """A chat that receives the alerts of every group `subscriber` facilitates (`/alerts here`)."""

    chat: ChatRef
    subscriber: UserRef
