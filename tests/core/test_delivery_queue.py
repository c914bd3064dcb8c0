"""The outbound queue: alerts first, rate limits honoured per chat, retries, nothing dropped."""

from __future__ import annotations

import asyncio

from bot.core.actions import Action, Delivered, Priority, SendMessage
from bot.core.identity import ChatRef, UserRef
from bot.core.ports import (
    Capabilities,
    DeliveryError,
    Inbox,
    RateLimited,
    TransientError,
    VisibilityReport,
)
from bot.delivery import DeliveryQueue


class ScriptedPlatform:
    """A stand-in for a chat service's HTTP API: records sends, fails as told."""

    name = "fake"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failures: list[BaseException] = []
        self.blocked_chats: set[str] = set()
        self.gate = asyncio.Event()
        self.gate.set()

    async def start(self, inbox: Inbox) -> None: ...
    async def stop(self) -> None: ...
    async def group_admins(self, group: str) -> list[UserRef]:
        return []

    async def check_visibility(self, group: str | None) -> VisibilityReport:
        return VisibilityReport(True)

    def reserve(self, action: Action) -> float:
        assert isinstance(action, SendMessage)
        return 0.2 if action.to.id in self.blocked_chats else 0.0

    async def perform(self, action: Action) -> Delivered:
        await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        assert isinstance(action, SendMessage)
        self.sent.append(action.text)
        return Delivered()


def message(text: str, chat: str = "c1", priority: Priority = Priority.BULK) -> SendMessage:
    return SendMessage(to=ChatRef("fake", chat, "group"), text=text, priority=priority)


async def test_alert_jumps_ahead_of_a_queued_wave() -> None:
    platform = ScriptedPlatform()
    queue = DeliveryQueue({"fake": platform}, workers_per_platform=1)
    platform.gate.clear()
    queue.start()
    for n in range(20):
        queue.put(message(f"prompt {n}"))
    await asyncio.sleep(0.01)
    queue.put(message("ALERT", priority=Priority.ALERT))
    platform.gate.set()
    assert await queue.wait_idle(5)
    assert platform.sent.index("ALERT") <= 1  # at most the one send already in flight
    await queue.stop()


async def test_a_chat_at_its_limit_does_not_hold_up_other_chats() -> None:
    platform = ScriptedPlatform()
    platform.blocked_chats.add("busy")
    queue = DeliveryQueue({"fake": platform}, workers_per_platform=1)
    queue.start()
    queue.put(message("to busy", chat="busy", priority=Priority.ALERT))
    queue.put(message("to quiet", chat="quiet"))
    await asyncio.sleep(0.1)
    assert platform.sent == ["to quiet"]
    platform.blocked_chats.clear()
    assert await queue.wait_idle(5)
    assert platform.sent == ["to quiet", "to busy"]
    await queue.stop()


async def test_rate_limit_and_transient_errors_are_retried_not_lost() -> None:
    platform = ScriptedPlatform()
    platform.failures = [RateLimited(0.05), TransientError("502"), RateLimited(0.05, scope="global")]
    queue = DeliveryQueue({"fake": platform}, workers_per_platform=2)
    queue.start()
    done: list[tuple[object, object]] = []

    async def record(delivered: Delivered | None, error: BaseException | None) -> None:
        done.append((delivered, error))

    queue.put(message("must arrive", priority=Priority.ALERT), on_done=record)
    assert await queue.wait_idle(10)
    assert platform.sent == ["must arrive"]
    assert done and done[0][1] is None
    assert queue.stats.rate_limited == 2 and queue.stats.retried == 1
    await queue.stop()


async def test_permanent_refusal_is_reported_to_the_callback() -> None:
    platform = ScriptedPlatform()
    platform.failures = [DeliveryError("chat not found")]
    queue = DeliveryQueue({"fake": platform})
    queue.start()
    errors: list[BaseException | None] = []

    async def record(delivered: Delivered | None, error: BaseException | None) -> None:
        errors.append(error)

    queue.put(message("x"), on_done=record)
    assert await queue.wait_idle(5)
    assert isinstance(errors[0], DeliveryError)
    await queue.stop()


async def test_an_alert_retries_every_few_seconds_through_an_outage() -> None:
    platform = ScriptedPlatform()
    platform.failures = [TransientError("connection refused") for _ in range(6)]
    queue = DeliveryQueue({"fake": platform}, workers_per_platform=1)
    queue.start()
    started = asyncio.get_running_loop().time()
    queue.put(message("alert", priority=Priority.ALERT))
    assert await queue.wait_idle(30)
    elapsed = asyncio.get_running_loop().time() - started
    # Bulk backoff would total at least 31 s over these tries; an alert waits at most 2 s a try.
    assert platform.sent == ["alert"]
    assert elapsed < 6 * 2.0 + 1
    await queue.stop()
