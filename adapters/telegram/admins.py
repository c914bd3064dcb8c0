"""Who administers each Telegram group: getChatAdministrators, cached briefly per chat."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot, ChatMember, User
from telegram.error import BadRequest, Forbidden, TelegramError

log = logging.getLogger(__name__)

ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


@dataclass(frozen=True, slots=True)
class Admins:
    """A group's administrators as last fetched."""

    fetched: float
    ids: frozenset[int]
    humans: tuple[User, ...]
    bot_admin: bool


class AdminCache:
    """getChatAdministrators per chat, kept `ttl` seconds and dropped when an update says so.

    A failed lookup keeps the last known list (an outage must not turn facilitators into
    members); with none known the chat counts as having no admins until the next try.
    """

    def __init__(self, bot: Bot, bot_id: Callable[[], int], *, ttl: float = 300.0,
                 capacity: int = 50_000) -> None:
        self._bot = bot
        self._bot_id = bot_id
        self._ttl = ttl
        self._capacity = capacity
        self._entries: dict[int, Admins] = {}
        self._stale: set[int] = set()
        self._locks: dict[int, asyncio.Lock] = {}

    def get(self, chat_id: int) -> Admins | None:
        """The cached entry, however old."""
        return self._entries.get(chat_id)

    def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether `user_id` administers `chat_id`, by the cache."""
        entry = self._entries.get(chat_id)
        return entry is not None and user_id in entry.ids

    def bot_is_admin(self, chat_id: int) -> bool:
        """Whether the bot administers `chat_id`, by the cache."""
        entry = self._entries.get(chat_id)
        return entry is not None and entry.bot_admin

    def invalidate(self, chat_id: int) -> None:
        """Fetch again at the next use (an admin was promoted or demoted)."""
        self._stale.add(chat_id)

    def set_bot_admin(self, chat_id: int, is_admin: bool) -> None:
        """Record the bot's own promotion or demotion, then fetch the list again at next use."""
        entry = self._entries.get(chat_id)
        if entry is not None:
            self._entries[chat_id] = Admins(entry.fetched, entry.ids, entry.humans, is_admin)
        else:
            self._entries[chat_id] = Admins(0.0, frozenset(), (), is_admin)
        self._stale.add(chat_id)

    async def ensure(self, chat_id: int, *, force: bool = False) -> Admins | None:
        """The entry for `chat_id`, fetched when missing, stale or `force`d.

        Raises:
            Nothing: a failed lookup is logged and the last known entry (or None) returned.
        """
        entry = self._entries.get(chat_id)
        if not force and entry is not None and chat_id not in self._stale and \
                time.monotonic() - entry.fetched < self._ttl:
            return entry
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            again = self._entries.get(chat_id)
            if again is not entry and again is not None and chat_id not in self._stale:
                return again  # fetched by someone else while we waited
            try:
                members = await self._bot.get_chat_administrators(chat_id)
            except (Forbidden, BadRequest) as refused:
                # Removed from the chat, or it is gone: no admins to know about.
                log.info("admin list unavailable", extra={"chat": chat_id,
                                                          "error": type(refused).__name__})
                fresh = Admins(time.monotonic(), frozenset(), (), False)
            except TelegramError as failure:
                log.warning("admin list lookup failed; keeping the last known",
                            extra={"chat": chat_id, "error": type(failure).__name__})
                return self._entries.get(chat_id)
            else:
                bot_id = self._bot_id()
                ids = frozenset(m.user.id for m in members if m.status in ADMIN_STATUSES)
                humans = tuple(m.user for m in members
                               if m.status in ADMIN_STATUSES and not m.user.is_bot)
                fresh = Admins(time.monotonic(), ids, humans, bot_id in ids)
            finally:
                self._locks.pop(chat_id, None)
            self._entries[chat_id] = fresh
            self._stale.discard(chat_id)
            if len(self._entries) > self._capacity:
                oldest = min(self._entries, key=lambda c: self._entries[c].fetched)
                del self._entries[oldest]
            return fresh
