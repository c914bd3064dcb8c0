"""Domain records of onboarding: the step a person who agreed is answering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.identity import UserRef

TIMEZONE = "tz"
LANGUAGE = "lang"
PRIVATE_CHECKINS = "ci"
PRIVATE_TIME = "ci_time"
ONBOARDING_ORDER = (TIMEZONE, LANGUAGE, PRIVATE_CHECKINS)

FLOW_ONBOARDING = "onb"  # walk every question in turn
FLOW_SETTINGS = "set"  # one setting from /settings, then stop


@dataclass(frozen=True, slots=True, kw_only=True)
class OnboardingStep:
    """Which question a person is answering, for which group, in which flow."""

    user: UserRef
    group_id: int | None
    step: str
    flow: str = FLOW_ONBOARDING
    updated_at: datetime
