"""Telegram's flood limits, kept on our side so the Bot API rarely has to answer 429.

Telegram allows about 30 messages a second overall, 20 a minute in one group and about one a
second in one private chat (short bursts are tolerated there). Groups are counted in a sliding
60-second window, as Telegram does: a refilling bucket would let 40 through in the first minute.
Alerts and safety replies go first: while one waits for the overall budget, nothing else takes
a slot, so a check-in wave can never hold one up for more than the next free slot. Everything
else is also paced evenly.

Telegram counts a call when it arrives, which is some time after we decide to send it: calls
spaced evenly here can arrive bunched (a busy loop, a slow connection). So a call holds its
place in the overall one-second window from the moment it is reserved until one second after
its answer came back (`done`); whatever the delays, no second at Telegram can then see more
calls than the budget, because every call it saw was still held here when the last was sent.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
PRIVATE_PER_SECOND = 1.0
PRIVATE_BURST = 3.0
PACED_PER_SECOND = 30.0
PACED_BURST = 1.5  # under 2: never two at once, yet a late send does not lose its slot
_IDLE_FORGET_S = 120.0
_IN_FLIGHT_RECHECK_S = 0.02
_URGENT_HOLD_S = 0.25  # how long a waiting alert keeps the next slot from others


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
                 group_per_minute: int = GROUP_PER_MINUTE,
                 private_per_second: float = PRIVATE_PER_SECOND,
                 private_burst: float = PRIVATE_BURST,
                 paced_per_second: float = PACED_PER_SECOND,
                 paced_burst: float = PACED_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._global = _Window(1.0)  # calls answered within the last second
        self._in_flight = 0  # calls reserved and not yet answered
        self._global_capacity = global_per_second
        self._group_capacity = group_per_minute
        self._private_rate = private_per_second
        self._private_burst = private_burst
        self._paced_rate = min(paced_per_second, float(global_per_second))
        self._urgent_waiting_until = 0.0
        self._paced_burst = paced_burst
        self._paced = _Bucket(paced_burst, clock())
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
            urgent: Alerts and safety replies: never paced, and first to the next free slot.

        Returns:
            0 when the slots were taken; otherwise the seconds to wait, having taken nothing.
        """
        now = self._clock()
        self._cleanup(now)
        count = self._clamp(count)
        overall = max(self._penalty(None, now), self._global_wait(now, self._global_capacity, count))
        wait = max(overall, self._penalty(chat_id, now) if chat_id else 0.0)
        if urgent:
            if overall > 0:
                self._urgent_waiting_until = now + _URGENT_HOLD_S
        else:
            if self._urgent_waiting_until > now:
                wait = max(wait, _IN_FLIGHT_RECHECK_S)
            # Tokens may go below zero (a long text's parts): the debt delays the next send.
            self._paced.refill(now, self._paced_rate, self._paced_burst)
            if self._paced.tokens < 1:
                wait = max(wait, (1 - self._paced.tokens) / self._paced_rate)
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
        self._in_flight += count
        if urgent:
            self._urgent_waiting_until = 0.0
        else:
            self._paced.tokens -= count
        if chat_id is not None:
            if private:
                self._private[chat_id].tokens -= count
            else:
                self._groups[chat_id].take(now, count)
        return 0.0

    def done(self, count: int = 1) -> None:
        """The calls of one reserved action were answered (or failed): their second starts now."""
        count = self._clamp(count)
        self._in_flight = max(0, self._in_flight - count)
        self._global.take(self._clock(), count)

    def _clamp(self, count: int) -> int:
        # A long text split into many parts must still fit a budget at some point.
        return max(1, min(count, self._group_capacity, int(self._private_burst),
                          self._global_capacity))

    def _global_wait(self, now: float, capacity: int, count: int) -> float:
        self._global.prune(now)
        excess = len(self._global.times) + self._in_flight + count - capacity
        if excess <= 0:
            return 0.0
        if excess > len(self._global.times):
            return _IN_FLIGHT_RECHECK_S  # only answers still to come can make room
        return self._global.times[excess - 1] + self._global.span - now

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
