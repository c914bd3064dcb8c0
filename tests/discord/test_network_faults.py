"""Issue #8 item 3 on Discord: timeouts and dropped connections, through the real discord.py
against the fake Discord server on 127.0.0.1.

While the REST API times out sends, drops connections or cannot be reached, and when the
gateway connection drops, a crisis in the server still reaches the facilitators (a private
staff channel and a moderator's DMs) once the fault clears; every message queued meanwhile (a
check-in prompt, a welcome, command replies) arrives too; alerts go out ahead of the messages
queued before them; and a message Discord posted but whose answer was lost is posted again at
most once per lost answer (at-least-once delivery: the adapter sends no message nonce).

The adapter's `send_timeout` (how long one action may take) is shrunk through its config, so a
request Discord never answers costs a second in these tests.
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

import adapters
from bot.core.actions import Action, Priority, SendMessage
from bot.core.identity import ChatRef
from bot.core.ports import TransientError
from tests.discord.world import ALICE, CAROL, GENERAL, GUILD, OWNER, STAFF, Kindred, start_kindred
from tests.fakes.discord_api import FakeDiscord, RestCall, SentMessage

CRISIS = "i have the pills ready and tonight is the night"
SEND_TIMEOUT = 1.0  # short, yet far above how long the fake takes to answer even under load
SENDS = "POST /channels/"  # messages to channels, threads and DMs
ALERT = "URGENT"
PROMPT = "Daily check-in"
WELCOME = "Welcome to"
SAFETY = "so sorry"
HELP = "/help"
ERIN = 14  # members who are there from the start
FRAN = 15
GRACE = 16
HANA = 17
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


def message_post(call: RestCall) -> tuple[int, str] | None:
    """(channel, content) of a request that posts a message, else None."""
    parts = call.path.strip("/").split("/")
    if call.method != "POST" or len(parts) != 3 or parts[0] != "channels" or parts[2] != "messages":
        return None
    return int(parts[1]), str((call.json or {}).get("content") or "")


def faulted(fake: FakeDiscord, channel: int, contains: str, *, since: int = 0) -> int:
    """Posts to `channel` containing `contains` that met the fault (no answer reached the bot)."""
    count = 0
    for call in fake.requests[since:]:
        post = message_post(call)
        if post is not None and post[0] == channel and contains in post[1] \
                and (call.status == 0 or call.answer_lost):
            count += 1
    return count


def posted(fake: FakeDiscord, channel: int, contains: str, *, since: int = 0) -> list[SentMessage]:
    return [s for s in fake.sent[since:] if s.via in ("channel", "dm") and s.channel_id == channel
            and contains in (s.content or "")]


def no_delivery_trouble(caplog: pytest.LogCaptureFixture) -> None:
    """The adapter raised only the core's errors, and nothing was given up on."""
    troubles = [r.getMessage() for r in caplog.records
                if r.getMessage() in ("unexpected delivery error", "delivery gave up")]
    assert troubles == []


def with_send_timeout(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Start the Discord adapter with `send_timeout` of `seconds` (via its config dict)."""
    real = adapters.build_platform

    def build(name: str, config: Any) -> Any:
        if name == "discord":
            config = {**config, "send_timeout": seconds}
        return real(name, config)

    monkeypatch.setattr(adapters, "build_platform", build)


async def answered(fake: FakeDiscord, invoked: dict[str, Any]) -> SentMessage:
    wanted = int(str(invoked["id"]))
    return await fake.wait_for(lambda s: s.interaction_id == wanted, timeout=10)


async def prepare(fake: FakeDiscord, kindred: Kindred) -> None:
    """Set up the group; alerts go to the private #staff and to Alice, a moderator, by DM."""
    await answered(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup"))
    await answered(fake, await fake.user_runs_slash(GUILD, GENERAL, OWNER, "moderator add",
                                                    {"user": ALICE}))
    await fake.user_dms(ALICE, "/alerts here")
    await fake.wait_for(lambda s: s.recipient_id == ALICE and "receive alerts" in s.text)
    await answered(fake, await fake.user_runs_slash(GUILD, STAFF, OWNER, "alerts here"))
    await kindred.app.settle()


async def checkins_now(fake: FakeDiscord) -> None:
    """/checkins now, and wait for its private answer (through the interaction, not a post).

    Until a command in a channel is answered, Discord's adapter sends the next ordinary
    message to that channel as the command's answer: a welcome queued meanwhile would go there.
    """
    invoked = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "checkins now")
    reply = await answered(fake, invoked)
    assert "Posted today's check-in." in reply.text


class Recorder:
    """When each action was queued and when the delivery queue handed it to the adapter."""

    def __init__(self, kindred: Kindred) -> None:
        self.queued: list[tuple[float, Action]] = []
        self.handed: list[tuple[float, Action]] = []
        queue, platform = kindred.app.queue, kindred.platform
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
async def running(fake: FakeDiscord, database_url: str, monkeypatch: pytest.MonkeyPatch,
                  send_timeout: float = SEND_TIMEOUT) -> AsyncIterator[Kindred]:
    """The whole application with `send_timeout`; faults cleared after."""
    with_send_timeout(monkeypatch, send_timeout)
    started = await start_kindred(fake, database_url)
    try:
        yield started
    finally:
        fake.clear_faults()
        fake.release_held()
        await fake.go_online()
        await started.close()


@pytest.fixture
async def kindred(fake: FakeDiscord, database_url: str,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kindred]:
    """The application with a one-second send timeout, on SQLite and on PostgreSQL."""
    async with running(fake, database_url, monkeypatch) as started:
        yield started


@pytest.fixture
async def lite_kindred(fake: FakeDiscord, sqlite_url: str,
                       monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kindred]:
    """The same on SQLite only, with two more members, Erin and Fran."""
    fake.add_member(GUILD, ERIN, "erin", global_name="Erin")
    fake.add_member(GUILD, FRAN, "fran", global_name="Fran")
    async with running(fake, sqlite_url, monkeypatch) as started:
        yield started


# -- the adapter's mapping ----------------------------------------------------------------------
async def test_timeouts_and_dropped_connections_become_transient_errors(
        fake: FakeDiscord, lite_kindred: Kindred) -> None:
    platform = lite_kindred.platform
    message = SendMessage(to=ChatRef("discord", str(GENERAL), "group"), text="hello")

    fake.hold_next(SENDS)  # accepted, never answered: before, discord.py waited five minutes
    started = time.monotonic()
    with pytest.raises(TransientError, match="TimeoutError"):
        await platform.perform(message)
    assert time.monotonic() - started < SEND_TIMEOUT + 1

    fake.drop_next(SENDS)  # the connection closes before an answer
    with pytest.raises(TransientError, match="ServerDisconnectedError"):
        await platform.perform(message)

    await fake.go_offline()  # nobody listens: connection refused
    with pytest.raises(TransientError, match="ClientConnectorError"):
        await platform.perform(message)
    await fake.go_online()

    assert posted(fake, GENERAL, "hello") == []  # none of the three reached the channel
    await platform.perform(message)
    assert len(posted(fake, GENERAL, "hello")) == 1


# -- faults for a while ---------------------------------------------------------------------------
FAULTS: dict[str, Callable[[FakeDiscord], None]] = {
    # Discord posted the message, but answered after the adapter had given up.
    "timeout-after-processing": lambda fake: fake.delay_all_for(LONG, LONG, SENDS),
    # The request never got past Discord's front end before the adapter gave up.
    "timeout-unprocessed": lambda fake: fake.delay_all_for(LONG, LONG, SENDS,
                                                           process_abandoned=False),
    "dropped-before-processing": lambda fake: fake.drop_all_for(LONG, SENDS),
    "dropped-after-processing": lambda fake: fake.drop_all_for(LONG, SENDS,
                                                               after_processing=True),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_crisis_during_a_spell_of_failing_sends_is_delivered_and_nothing_is_lost(
        fake: FakeDiscord, kindred: Kindred, fault: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    await prepare(fake, kindred)
    alice = fake.dm_channel_id(ALICE)
    sent_mark, calls_mark = len(fake.sent), len(fake.requests)
    FAULTS[fault](fake)
    await checkins_now(fake)  # a check-in prompt (bulk)
    await fake.member_joins(GUILD, CAROL, "carol")  # a welcome
    await fake.user_says(GENERAL, CAROL, CRISIS)

    # The fault lasts until every kind of message has met it at least once.
    await until(lambda: all(faulted(fake, channel, text, since=calls_mark) for channel, text in (
        (STAFF, ALERT), (alice, ALERT), (GENERAL, PROMPT), (GENERAL, WELCOME))),
        lambda: "every send to meet the fault; requests since: " + "; ".join(
            f"{c.method} {c.path} {c.status} {c.answer_lost}" for c in fake.requests[calls_mark:]))
    fake.clear_faults()
    await kindred.app.settle()

    # Nothing is lost: every message queued during the fault is where it belongs.
    carol = fake.dm_channel_id(CAROL)
    for channel, text in [(STAFF, ALERT), (alice, ALERT), (GENERAL, PROMPT), (GENERAL, WELCOME),
                          (carol, SAFETY)]:
        assert posted(fake, channel, text, since=sent_mark), f"{text!r} never reached {channel}"
    assert "Member: carol" in posted(fake, STAFF, ALERT, since=sent_mark)[0].text

    # At least once, and never more than one extra copy per answer that was lost.
    copies = Counter((s.channel_id, s.content or "") for s in fake.sent[sent_mark:]
                     if s.via in ("channel", "dm"))
    lost = Counter(message_post(c) for c in fake.requests[calls_mark:] if c.answer_lost)
    for (channel, content), count in copies.items():
        assert count == 1 + lost[(channel, content)], (channel, content, count)
    staff_alert = (STAFF, posted(fake, STAFF, ALERT, since=sent_mark)[0].content or "")
    if fault.endswith("after-processing"):
        assert lost[staff_alert] >= 1 and copies[staff_alert] >= 2
    else:
        assert set(copies.values()) == {1}

    async with kindred.app.uow() as store:
        assert await store.outbox.pending_count() == 0
    no_delivery_trouble(caplog)


@pytest.mark.parametrize("fault", ["dropped", "timeout"])
async def test_alerts_overtake_the_messages_stuck_before_them(
        fake: FakeDiscord, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, fault: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """Four posts hang (one per sender); alerts queued behind them go first once they fail."""
    caplog.set_level(logging.WARNING)
    # The hung posts must still hang once the alerts are queued (about 0.1 s after the
    # crisis): a three-second timeout leaves a wide margin, checked below.
    timeout = 3.0 if fault == "timeout" else 30.0
    # The four who ask for /help by DM, and Hana, who writes the crisis: none of them staff,
    # so no alert goes to a DM channel where a post hangs (discord.py posts to one channel
    # one at a time).
    for member, name in ((CAROL, "carol"), (ERIN, "erin"), (FRAN, "fran"), (GRACE, "grace"),
                         (HANA, "hana")):
        fake.add_member(GUILD, member, name)
    async with running(fake, sqlite_url, monkeypatch, timeout) as kindred:
        await prepare(fake, kindred)
        record = Recorder(kindred)
        sent_mark = len(fake.sent)
        # Each post goes to another channel: discord.py sends one at a time per channel.
        fake.hold_next(SENDS, count=4)
        await checkins_now(fake)  # a prompt
        for person in (CAROL, ERIN, FRAN, GRACE):
            await fake.user_dms(person, HELP)  # four replies by DM
        await fake.wait_held(4, timeout=10)
        # Six actions: five posts (four hanging) and the private answer to /checkins now.
        await until(lambda: len(record.queued) == 6, "six actions queued")
        earlier = [action for _, action in record.queued]
        assert any(a.priority == Priority.BULK for a in earlier)

        await fake.user_says(GENERAL, HANA, CRISIS)
        await until(lambda: any(a.priority == Priority.SAFETY_REPLY for _, a in record.queued),
                    "the escalation's messages queued")  # committed and queued together
        assert sum(a.priority == Priority.ALERT for _, a in record.queued) == 2
        alerts_queued = max(t for t, a in record.queued if a.priority == Priority.ALERT)
        handed_before = [a for t, a in record.handed if t < alerts_queued]
        backlog = [e for e in earlier if not any(e is a for a in handed_before)]
        assert backlog, "the hung posts failed before the alerts were queued"
        if fault == "dropped":
            fake.release_held(1)  # one connection drops: one sender is free, three still hang
            alice = fake.dm_channel_id(ALICE)
            await until(lambda: bool(posted(fake, STAFF, ALERT, since=sent_mark)
                                     and posted(fake, alice, ALERT, since=sent_mark)),
                        "both alerts to arrive")
            fake.release_held()
        # With "timeout" the four senders are freed by the adapter giving up, at about once.
        await kindred.app.settle()

        # Once senders were free again, they took both alerts before the messages that had
        # waited for a sender since before the crisis.
        after = [action for at, action in record.handed if at >= alerts_queued]
        first_backlog = min(i for i, action in enumerate(after)
                            if any(action is b for b in backlog))
        assert [a.priority for a in after[:first_backlog]].count(Priority.ALERT) == 2
        if fault == "dropped":  # one free sender: the channels got them in that order too
            order = [s.content or "" for s in fake.sent[sent_mark:] if s.via in ("channel", "dm")]
            last_alert = max(i for i, text in enumerate(order) if ALERT in text)
            assert all(ALERT in text or SAFETY in text for text in order[:last_alert + 1])
        # Everything arrived once: the hung posts were never processed.
        copies = Counter((s.channel_id, s.content) for s in fake.sent[sent_mark:]
                         if s.via in ("channel", "dm"))
        assert set(copies.values()) == {1} and len(copies) == 8  # 5 before, 2 alerts, 1 reply
        no_delivery_trouble(caplog)


async def test_an_unreachable_api_delays_the_alerts_but_loses_nothing(
        fake: FakeDiscord, lite_kindred: Kindred, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    app = lite_kindred.app
    await prepare(fake, lite_kindred)
    alice = fake.dm_channel_id(ALICE)
    sent_mark = len(fake.sent)
    fake.hold_next(SENDS, count=1)
    await fake.member_joins(GUILD, CAROL, "carol")  # the welcome is on its way
    await fake.wait_held(1, timeout=10)
    retried = app.queue.stats.retried
    await fake.go_offline()  # its connection is cut, and new ones are refused
    # The gateway is another host on Discord: it still brings the crisis in.
    await fake.user_says(GENERAL, CAROL, CRISIS)
    await until(lambda: app.queue.stats.retried >= retried + 4, "retries against a dead API")
    assert posted(fake, STAFF, ALERT, since=sent_mark) == []
    await fake.go_online()

    alert = await fake.wait_for(lambda s: s.channel_id == STAFF and ALERT in s.text, timeout=15)
    assert "Member: carol" in alert.text
    await until(lambda: bool(posted(fake, alice, ALERT, since=sent_mark)), "Alice's alert")
    await app.settle()
    carol = fake.dm_channel_id(CAROL)
    for channel, text in [(STAFF, ALERT), (alice, ALERT), (GENERAL, WELCOME), (carol, SAFETY)]:
        assert len(posted(fake, channel, text, since=sent_mark)) == 1, (channel, text)
    no_delivery_trouble(caplog)


@pytest.mark.parametrize("resumable", [True, False], ids=["resume", "identify"])
async def test_a_dropped_gateway_connection_reconnects_and_crises_are_still_escalated(
        fake: FakeDiscord, lite_kindred: Kindred, resumable: bool) -> None:
    await prepare(fake, lite_kindred)
    sent_mark = len(fake.sent)
    resumes, identifies = fake.resumes, len(fake.identify_payloads)
    if resumable:
        await fake.drop_gateway()  # the TCP connection dies: no close frame
    else:
        await fake.disconnect_gateway(resumable=False)  # Discord forgot the session
    # Said while Kindred is away: replayed on RESUME, or read back by catch-up after IDENTIFY.
    await fake.user_says(GENERAL, FRAN, CRISIS)
    if resumable:
        await fake.wait_until_resumed(resumes + 1)
        assert len(fake.identify_payloads) == identifies
    else:
        await until(lambda: len(fake.identify_payloads) > identifies, "a new IDENTIFY")
        await fake.wait_until_connected()
    first = await fake.wait_for(lambda s: s.channel_id == STAFF and "Member: Fran" in s.text,
                                timeout=15)
    assert ALERT in first.text

    await fake.user_says(GENERAL, ERIN, CRISIS)  # after the reconnect
    second = await fake.wait_for(lambda s: s.channel_id == STAFF and "Member: Erin" in s.text,
                                 timeout=15)
    assert ALERT in second.text
    await lite_kindred.app.settle()
    staff_alerts = posted(fake, STAFF, ALERT, since=sent_mark)
    assert len(staff_alerts) == 2  # one per crisis: neither lost nor handled twice
