"""The roles of SPEC.md "People", ordered so a higher role can do what a lower one can."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """A person's role in one group."""

    MEMBER = 1
    MODERATOR = 2
    FACILITATOR = 3

    @property
    def label(self) -> str:
        """The lower-case name used in storage and in messages."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role named `value` (as stored)."""
        return cls[value.upper()]
