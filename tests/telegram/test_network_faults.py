"""Issue #8 item 3 on Telegram: timeouts and dropped connections, through the real
python-telegram-bot against the fake Bot API server on 127.0.0.1.

While the API times out sends, drops connections or cannot be reached at all, a crisis in a
group still reaches the facilitators (a staff group and a private chat) once the fault clears;
every message queued meanwhile (a check-in prompt, a welcome, a command reply) arrives too;
alerts go out ahead of the messages that were queued before them; and a send Telegram received
but whose answer was lost is sent again at most once per lost answer (at-least-once delivery:
Telegram has no idempotency key, so a retry after a lost answer is a duplicate).

PTB's read timeout is shrunk through the adapter's config (`read_timeout`), so a timed-out
send costs a second, not fifteen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram.error import NetworkError, TimedOut

import adapters
from bot.core.actions import Action, Priority, SendMessage
from bot.core.identity import ChatRef
from bot.core.ports import TransientError
from tests.fakes.telegram_api import CallRecord, FakeTelegram, SentRecord
from tests.telegram.conftest import (
    BASIC,
    DANA,
    FORUM,
    GROUP,
    ROBIN,
    SAM,
    STAFF,
    Bot,
    start_app,
)

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CRISIS = "i cant do this anymore, i have the pills ready and tonight is the night"
READ_TIMEOUT = 1.0  # short, yet far above how long the fake takes to answer even under load
ALERT = "URGENT"
PROMPT = "Daily check-in"
WELCOME = "Welcome to"
POSTED = "Posted today's check-in."
SAFETY = "you're not alone"
LONG = 60.0  # a fault "for a while": the test ends it with clear_faults once it has bitten


# -- helpers ------------------------------------------------------------------------------------
async def until(condition: Callable[[], bool], what: str | Callable[[], str],
                timeout: float = 15.0) -> None:
    """Wait until `condition()` holds (checked every 10 ms), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {detail}")
        await asyncio.sleep(0.01)


def text_of(call: CallRecord) -> str:
    return str(call.params.get("text") or "")


def chat_of(call: CallRecord) -> int | None:
    chat = call.params.get("chat_id")
    return int(chat) if chat is not None else None


def faulted(fake: FakeTelegram, chat: int, contains: str, *, since: int = 0) -> int:
    """Sends to `chat` containing `contains` that met the fault (no answer reached the bot)."""
    return sum(1 for c in fake.calls[since:] if c.method == "sendMessage" and chat_of(c) == chat
               and contains in text_of(c) and (c.status == 0 or c.answer_lost))


def arrived(fake: FakeTelegram, chat: int, contains: str, *, since: int = 0) -> list[SentRecord]:
    return [r for r in fake.sent[since:] if r.method == "sendMessage" and r.chat_id == chat
            and contains in (r.text or "")]


def no_delivery_trouble(caplog: pytest.LogCaptureFixture) -> None:
    """The adapter raised only the core's errors, and nothing was given up on."""
    troubles = [r.getMessage() for r in caplog.records
                if r.getMessage() in ("unexpected delivery error", "delivery gave up")]
    assert troubles == []


def with_timeouts(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Start the Telegram adapter with PTB's read timeout at `seconds` (via its config dict)."""
    real = adapters.build_platform

    def build(name: str, config: Any) -> Any:
        if name == "telegram":
            config = {**config, "read_timeout": seconds}
        return real(name, config)

    monkeypatch.setattr(adapters, "build_platform", build)


async def prepare(bot: Bot, groups: tuple[int, ...] = (GROUP,)) -> None:
    """Set up the groups, a staff group for alerts, and Dana's private chat with the bot."""
    fake = bot.fake
    for chat in groups:
        fake.user_sends(chat, DANA, "/setup")
        await bot.reply_to(chat, "set up")
    fake.user_sends(STAFF, DANA, "/alerts here")
    await bot.reply_to(STAFF, "receive alerts")
    fake.user_starts_bot(DANA)
    await fake.wait_for(lambda r: r.chat_id == DANA)
    await bot.settle()


class Recorder:
    """When each action was queued and when the delivery queue handed it to the adapter."""

    def __init__(self, bot: Bot) -> None:
        self.queued: list[tuple[float, Action]] = []
        self.handed: list[tuple[float, Action]] = []
        queue, platform = bot.app.queue, bot.platform
        real_put, real_perform = queue.put, platform.perform

        def put(action: Action, **options: Any) -> None:
            self.queued.append((time.monotonic(), action))
            real_put(action, **options)

        async def perform(action: Action) -> Any:
            self.handed.append((time.monotonic(), action))
            return await real_perform(action)

        queue.put = put  # type: ignore[method-assign]
        platform.perform = perform  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def running(fake: FakeTelegram, database_url: str, monkeypatch: pytest.MonkeyPatch,
                  read_timeout: float = READ_TIMEOUT) -> AsyncIterator[Bot]:
    """The whole application with PTB's read timeout at `read_timeout`; faults cleared after."""
    with_timeouts(monkeypatch, read_timeout)
    app = await start_app(fake, database_url)
    try:
        yield Bot(app, fake)
    finally:
        fake.clear_faults()
        fake.release_held()
        await fake.go_online()
        await app.settle()
        await app.stop()


@pytest.fixture
async def quick_bot(fake: FakeTelegram, database_url: str,
                    monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    """The application with a one-second PTB read timeout, on SQLite and on PostgreSQL."""
    async with running(fake, database_url, monkeypatch) as bot:
        yield bot


@pytest.fixture
async def quick_lite_bot(fake: FakeTelegram, sqlite_url: str,
                         monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    """The same on SQLite only."""
    async with running(fake, sqlite_url, monkeypatch) as bot:
        yield bot


# -- the adapter's mapping ----------------------------------------------------------------------
async def test_timeouts_and_dropped_connections_become_transient_errors(
        quick_lite_bot: Bot) -> None:
    fake, platform = quick_lite_bot.fake, quick_lite_bot.platform
    message = SendMessage(to=ChatRef("telegram", str(GROUP), "group"), text="hello")

    fake.hold_next("sendMessage")  # accepted, never answered: PTB gives up after its timeout
    with pytest.raises(TransientError) as timed_out:
        await platform.perform(message)
    assert isinstance(timed_out.value.__cause__, TimedOut)

    fake.drop_next_connection("sendMessage")  # the connection closes before an answer
    with pytest.raises(TransientError) as dropped:
        await platform.perform(message)
    assert type(dropped.value.__cause__) is NetworkError

    await fake.go_offline()  # nobody listens: connection refused
    with pytest.raises(TransientError) as refused:
        await platform.perform(message)
    assert type(refused.value.__cause__) is NetworkError
    await fake.go_online()

    assert arrived(fake, GROUP, "hello") == []  # none of the three reached the chat
    await platform.perform(message)
    assert len(arrived(fake, GROUP, "hello")) == 1


# -- faults for a while ---------------------------------------------------------------------------
FAULTS: dict[str, Callable[[FakeTelegram], None]] = {
    # Telegram got the send, but answered after PTB had given up: the message is in the chat.
    "timeout-after-processing": lambda fake: fake.delay_all_for(
        LONG, LONG, methods=["sendMessage"]),
    # The send never got past Telegram's front end before PTB gave up.
    "timeout-unprocessed": lambda fake: fake.delay_all_for(
        LONG, LONG, methods=["sendMessage"], process_abandoned=False),
    "dropped-before-processing": lambda fake: fake.drop_all_for(LONG, methods=["sendMessage"]),
    "dropped-after-processing": lambda fake: fake.drop_all_for(
        LONG, methods=["sendMessage"], after_processing=True),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_crisis_during_a_spell_of_failing_sends_is_delivered_and_nothing_is_lost(
        quick_bot: Bot, fault: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    fake = quick_bot.fake
    await prepare(quick_bot)
    sent_mark, calls_mark = len(fake.sent), len(fake.calls)
    FAULTS[fault](fake)
    fake.user_sends(GROUP, DANA, "/checkins now")  # a check-in prompt (bulk) and a reply
    fake.user_joins(GROUP, ROBIN)  # a welcome
    fake.user_sends(GROUP, SAM, CRISIS)

    # The fault lasts until every kind of message has met it at least once.
    await until(lambda: all(faulted(fake, chat, text, since=calls_mark) for chat, text in (
        (STAFF, ALERT), (DANA, ALERT), (GROUP, PROMPT), (GROUP, WELCOME), (DANA, POSTED))),
        lambda: "every send to meet the fault; calls since: " + "; ".join(
            f"{c.method} {chat_of(c)} {c.status} {c.answer_lost}" for c in fake.calls[calls_mark:]))
    fake.clear_faults()
    await quick_bot.settle()

    # Nothing is lost: every message queued during the fault is in its chat.
    expected = [(STAFF, ALERT), (DANA, ALERT), (GROUP, PROMPT), (GROUP, WELCOME),
                (GROUP, SAFETY), (DANA, POSTED)]
    for chat, text in expected:
        assert arrived(fake, chat, text, since=sent_mark), f"{text!r} never reached {chat}"
    alert = arrived(fake, DANA, ALERT, since=sent_mark)[0]
    assert "Member: Sam" in (alert.text or "")

    # At least once, and never more than one extra copy per answer that was lost.
    copies = Counter((r.chat_id, r.text or "") for r in fake.sent[sent_mark:])
    lost = Counter((chat_of(c), text_of(c)) for c in fake.calls[calls_mark:]
                   if c.method == "sendMessage" and c.answer_lost)
    for key, count in copies.items():
        assert count == 1 + lost[key], (key, count)
    staff_alert = (STAFF, arrived(fake, STAFF, ALERT, since=sent_mark)[0].text or "")
    if fault.endswith("after-processing"):
        assert lost[staff_alert] >= 1 and copies[staff_alert] >= 2
    else:
        assert set(copies.values()) == {1}

    async with quick_bot.app.uow() as store:
        assert await store.outbox.pending_count() == 0
    no_delivery_trouble(caplog)


@pytest.mark.parametrize("fault", ["dropped", "timeout"])
async def test_alerts_overtake_the_messages_stuck_before_them(
        fake: FakeTelegram, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, fault: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """Four sends hang (one per sender); alerts queued behind them go first once they fail."""
    caplog.set_level(logging.WARNING)
    # The hung sends must still be hanging once the alerts are queued (about 0.1 s after the
    # crisis): a three-second timeout leaves a wide margin, checked below.
    timeout = 3.0 if fault == "timeout" else 30.0
    async with running(fake, sqlite_url, monkeypatch, timeout) as bot:
        app = bot.app
        await prepare(bot, (GROUP, FORUM, BASIC))
        record = Recorder(bot)
        sent_mark = len(fake.sent)
        fake.hold_next("sendMessage", count=4)
        for chat in (GROUP, FORUM, BASIC):
            fake.user_joins(chat, ROBIN)  # three welcomes
        fake.user_sends(GROUP, DANA, "/checkins now")  # a prompt and a reply
        await fake.wait_held(4)
        await until(lambda: len(record.queued) == 5 and app.queue.pending == 5,
                    "five messages queued, four of them hanging")
        earlier = [action for _, action in record.queued]
        assert any(a.priority == Priority.BULK for a in earlier)

        fake.user_sends(GROUP, SAM, CRISIS)
        await until(lambda: any(a.priority == Priority.SAFETY_REPLY for _, a in record.queued),
                    "the escalation's messages queued")  # committed and queued together
        assert sum(a.priority == Priority.ALERT for _, a in record.queued) == 2
        alerts_queued = max(t for t, a in record.queued if a.priority == Priority.ALERT)
        handed_before = [a for t, a in record.handed if t < alerts_queued]
        backlog = [e for e in earlier if not any(e is a for a in handed_before)]
        assert backlog, "the hung sends failed before the alerts were queued"
        if fault == "dropped":
            fake.release_held(1)  # one connection drops: one sender is free, three still hang
            await until(lambda: bool(arrived(fake, STAFF, ALERT, since=sent_mark)
                                     and arrived(fake, DANA, ALERT, since=sent_mark)),
                        "both alerts to arrive")
            fake.release_held()
        # With "timeout" the four senders are freed by PTB giving up, all at about once.
        await bot.settle()

        # Once senders were free again, they took both alerts before the messages that had
        # waited for a sender since before the crisis.
        after = [action for at, action in record.handed if at >= alerts_queued]
        first_backlog = min(i for i, action in enumerate(after)
                            if any(action is b for b in backlog))
        assert [a.priority for a in after[:first_backlog]].count(Priority.ALERT) == 2
        if fault == "dropped":  # one free sender: the chats got them in that order too
            order = [r.text or "" for r in fake.sent[sent_mark:]]
            last_alert = max(i for i, text in enumerate(order) if ALERT in text)
            assert all(ALERT in text or SAFETY in text for text in order[:last_alert + 1])
        else:
            gave_up = [c for c in fake.calls if c.description == "no answer: the client gave up"]
            assert len(gave_up) == 4
        # Everything arrived once: the hung sends were never processed.
        for chat, text in [(STAFF, ALERT), (DANA, ALERT), (GROUP, SAFETY), (GROUP, PROMPT),
                           (DANA, POSTED)] + [(chat, WELCOME) for chat in (GROUP, FORUM, BASIC)]:
            assert len(arrived(fake, chat, text, since=sent_mark)) == 1, (chat, text)
        no_delivery_trouble(caplog)


async def test_an_unreachable_api_delays_a_crisis_but_loses_nothing(
        quick_lite_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    fake, app = quick_lite_bot.fake, quick_lite_bot.app
    await prepare(quick_lite_bot)
    sent_mark = len(fake.sent)
    fake.hold_next("sendMessage", count=2)
    fake.user_sends(GROUP, DANA, "/checkins now")  # the prompt and the reply are on their way
    await fake.wait_held(2)
    retried = app.queue.stats.retried
    await fake.go_offline()  # their connections are cut, and new ones are refused
    fake.user_sends(GROUP, SAM, CRISIS)  # Telegram keeps it until the bot can fetch it
    # Both sends failed on a refused connection at least once (cut, then refused).
    await until(lambda: app.queue.stats.retried >= retried + 4, "retries against a dead API")
    assert arrived(fake, STAFF, ALERT, since=sent_mark) == []
    await fake.go_online()

    alert = await fake.wait_for(lambda r: r.chat_id == STAFF and ALERT in (r.text or ""),
                                timeout=15, start=sent_mark)
    assert "Member: Sam" in (alert.text or "")
    await quick_lite_bot.settle()
    for chat, text in [(STAFF, ALERT), (DANA, ALERT), (GROUP, SAFETY), (GROUP, PROMPT),
                       (DANA, POSTED)]:
        assert len(arrived(fake, chat, text, since=sent_mark)) == 1, (chat, text)
    assert any(r.getMessage() == "getUpdates failed; retrying" for r in caplog.records)
    no_delivery_trouble(caplog)
