"""Telegram's flood limits, kept on our side so the Bot API rarely has to answer 429.

Telegram allows about 30 messages a second overall, 20 a minute in one group and about one a
second in one private chat (short bursts are tolerated there). Groups are counted in a sliding
60-second window, as Telegram does: a refilling bucket would let 40 through in the first minute.
A share of the overall budget is kept for alerts and safety replies, so a check-in wave can
never hold one up.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

GLOBAL_PER_SECOND = 30
RESERVED_FOR_URGENT = 5  # of the global budget, only alerts and safety replies may use these
GROUP_PER_MINUTE = 20
PRIVATE_PER_SECOND = 1.0
PRIVATE_BURST = 3.0
_IDLE_FORGET_S = 120.0


@dataclass(slots=True)
class _Window:
    """Send times within the last `span` seconds."""

    span: float
    times: deque[float] = field(default_factory=deque)

    def prune(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()

    def wait(self, now: float, capacity: int, count: int) -> float:
        """Seconds until `count` more sends fit under `capacity` (0 when they fit now)."""
        self.prune(now)
        excess = len(self.times) + count - capacity
        if excess <= 0:
            return 0.0
        if excess > len(self.times):
            return self.span
        return self.times[excess - 1] + self.span - now

    def take(self, now: float, count: int) -> None:
        self.times.extend([now] * count)


@dataclass(slots=True)
class _Bucket:
    """A token bucket: `rate` tokens a second up to `burst`."""

    tokens: float
    stamp: float

    def refill(self, now: float, rate: float, burst: float) -> None:
        self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
        self.stamp = now


class FloodLimits:
    """Per-chat and overall send budgets; `reserve` takes slots or says how long to wait."""

    def __init__(self, *, global_per_second: int = GLOBAL_PER_SECOND,
                 reserved_for_urgent: int = RESERVED_FOR_URGENT,
                 group_per_minute: int = GROUP_PER_MINUTE,
                 private_per_second: float = PRIVATE_PER_SECOND,
                 private_burst: float = PRIVATE_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._global = _Window(1.0)
        self._global_capacity = global_per_second
        self._reserved = min(reserved_for_urgent, global_per_second - 1)
        self._group_capacity = group_per_minute
        self._private_rate = private_per_second
        self._private_burst = private_burst
        self._groups: dict[int, _Window] = {}
        self._private: dict[int, _Bucket] = {}
        self._penalties: dict[int | None, float] = {}
        self._clock = clock
        self._last_cleanup = clock()

    def reserve(self, chat_id: int | None, *, private: bool, count: int = 1,
                urgent: bool = False) -> float:
        """Take `count` send slots towards `chat_id` (None: only the overall budget).

        Args:
            chat_id: The target chat, or None for calls that only count overall.
            private: Whether the chat is a private chat (a user id).
            count: How many API calls the action will make.
            urgent: Alerts and safety replies may use the share kept for them.

        Returns:
            0 when the slots were taken; otherwise the seconds to wait, having taken nothing.
        """
        now = self._clock()
        self._cleanup(now)
        # A long text split into many parts must still fit a budget at some point.
        count = max(1, min(count, self._group_capacity, int(self._private_burst),
                           self._global_capacity - self._reserved))
        wait = max(self._penalty(None, now), self._penalty(chat_id, now) if chat_id else 0.0)
        capacity = self._global_capacity if urgent else self._global_capacity - self._reserved
        wait = max(wait, self._global.wait(now, capacity, count))
        if chat_id is not None:
            if private:
                bucket = self._private.get(chat_id)
                if bucket is None:
                    bucket = self._private[chat_id] = _Bucket(self._private_burst, now)
                bucket.refill(now, self._private_rate, self._private_burst)
                if bucket.tokens < count:
                    wait = max(wait, (count - bucket.tokens) / self._private_rate)
            else:
                window = self._groups.setdefault(chat_id, _Window(60.0))
                wait = max(wait, window.wait(now, self._group_capacity, count))
        if wait > 0:
            return wait
        self._global.take(now, count)
        if chat_id is not None:
            if private:
                self._private[chat_id].tokens -= count
            else:
                self._groups[chat_id].take(now, count)
        return 0.0

    def penalise(self, chat_id: int | None, seconds: float) -> None:
        """Telegram answered 429: hold every send to `chat_id` (None: all) for `seconds`."""
        until = self._clock() + seconds
        self._penalties[chat_id] = max(self._penalties.get(chat_id, 0.0), until)

    def _penalty(self, key: int | None, now: float) -> float:
        until = self._penalties.get(key)
        if until is None:
            return 0.0
        if until <= now:
            del self._penalties[key]
            return 0.0
        return until - now

    def _cleanup(self, now: float) -> None:
        # Forget idle chats, so memory stays flat with thousands of groups.
        if now - self._last_cleanup < _IDLE_FORGET_S:
            return
        self._last_cleanup = now
        for chat_id in [c for c, w in self._groups.items() if not w.times or
                        w.times[-1] <= now - w.span]:
            del self._groups[chat_id]
        for chat_id in [c for c, b in self._private.items() if now - b.stamp > _IDLE_FORGET_S]:
            del self._private[chat_id]
