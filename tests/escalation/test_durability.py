"""An escalation committed before a crash is delivered after the restart; rate limits lose nothing."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from adapters.console import ConsoleConfig
from bot.bootstrap import build_application
from bot.settings import Settings
from tests.escalation.test_escalation_console import CRISIS, staffed_group
from tests.harness import ConsoleBot, FakeClock, _LineFeed


async def test_deliveries_left_by_a_dead_process_go_out_after_restart(
        console_bot: ConsoleBot, database_url: str, tmp_path: Path) -> None:
    await staffed_group(console_bot)
    app = console_bot.app
    # The process "dies" right after the commit: its sender stops before sending anything.
    await app.outbox.stop()
    await app.queue.stop(drain_seconds=0)
    await console_bot.console.stop()
    event_line = f"sam: {CRISIS}"
    from adapters.console.script import parse_line

    await console_bot.console._act(parse_line(event_line))  # handled and committed, not sent
    async with app.uow() as store:
        pending = (await store.session.execute(
            text("select count(*) from deliveries where status = 'pending'"))).scalar_one()
    assert pending == 3  # the member's reply and two alerts
    assert "URGENT" not in console_bot.new_output()
    await app.database.dispose()

    # A new process on the same database finishes the work.
    output = io.StringIO()
    feed = _LineFeed()
    clock = FakeClock(console_bot.clock.now() + timedelta(seconds=10))  # the old lease ran out
    second = build_application(Settings.from_env({"DATABASE_URL": database_url}), clock=clock,
                               console=ConsoleConfig(input=feed, output=output))
    await second.start()
    second.scheduler.stop()
    await second.settle()
    text_out = output.getvalue()
    assert text_out.count("🚨 URGENT") == 2
    assert "[private → sam] Kindred: Sam, I'm so sorry" in text_out
    feed.close_feed()
    await second.stop()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=2000))
async def test_any_text_through_the_message_path_never_crashes(console_bot: ConsoleBot,
                                                               message: str) -> None:
    if not console_bot.app.dispatcher.commands.get("setup"):
        return
    first = message.replace("\n", " ").replace("\r", " ")
    out = await console_bot.say(f"sam: x {first}")
    assert "something went wrong" not in out
    assert "could not be handled" not in out


async def test_urgent_deliveries_go_to_the_sender_at_commit_and_bulk_ones_are_claimed(
        console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    await console_bot.say("dana: /checkins at 19:00")
    out = await console_bot.say(f"sam: {CRISIS}")
    assert out.count("🚨 URGENT") == 2
    console_bot.clock.current = console_bot.clock.current.replace(hour=19, minute=0)
    await console_bot.app.checkins.prompt_sweep()
    await console_bot.app.settle()
    async with console_bot.app.uow() as store:
        rows = (await store.session.execute(text(
            "select dedupe_key, status, lease_owner from deliveries"))).all()
    alerts = [(status, owner) for key, status, owner in rows if key.startswith("esc:")]
    prompts = [(status, owner) for key, status, owner in rows if key.startswith("ci:prompt:")]
    # Inserted already leased to this process, and sent without a claim of their own.
    assert len(alerts) == 3 and all(status == "sent" and owner.endswith(":new")
                                    for status, owner in alerts)
    # A check-in wave is left to be claimed, so several processes share it.
    assert len(prompts) == 1 and all(status == "sent" and not owner.endswith(":new")
                                     for status, owner in prompts)
