"""Opaque, platform-qualified references to people, chats, messages and groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChatKind = Literal["direct", "group"]


@dataclass(frozen=True, slots=True)
class UserRef:
    """A person on one platform; `id` is always a string (Telegram ints, Discord snowflakes)."""

    platform: str
    id: str

    @property
    def key(self) -> str:
        """The platform-qualified id stored in the database, e.g. ``telegram:42``."""
        return f"{self.platform}:{self.id}"

    @classmethod
    def from_key(cls, key: str) -> UserRef:
        """Parse a key made by :attr:`key`."""
        platform, _, ident = key.partition(":")
        return cls(platform, ident)


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A place to send messages: a group chat, a channel, or a private chat with one person.

    `thread` is a forum topic (Telegram) kept so replies land where the message came from;
    Discord threads are channels of their own, so they need no thread id.
    """

    platform: str
    id: str
    kind: ChatKind
    thread: str | None = None

    @property
    def key(self) -> str:
        """The platform-qualified chat id (without the thread)."""
        return f"{self.platform}:{self.id}"

    def without_thread(self) -> ChatRef:
        """The same chat at its top level."""
        return ChatRef(self.platform, self.id, self.kind)


@dataclass(frozen=True, slots=True)
class MessageRef:
    """One message in one chat, for replies, edits and links."""

    chat: ChatRef
    id: str
    link: str | None = None


def group_key(platform: str, ident: str) -> str:
    """The key of a support group: a Telegram group chat or a Discord server."""
    return f"{platform}:{ident}"


def platform_of(key: str) -> str:
    """The platform part of any platform-qualified key."""
    return key.partition(":")[0]
