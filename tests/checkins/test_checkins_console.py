"""Daily check-ins as people meet them in the console: SPEC.md "Daily check-ins", issue #4 items 3-6."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.core.identity import UserRef
from storage.tables import CheckinRow, ConcernRow
from tests.harness import ConsoleBot, start_console_bot
from tests.onboarding.flows import button, join_and_agree, sweep

SAM = UserRef("console", "sam")
PROMPT = "🌤 Daily check-in: how are you today?"


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def answers(bot: ConsoleBot, user: UserRef) -> list[int | None]:
    async with bot.app.uow() as store:
        return [a.mood for a in await store.checkins.recent_answers(1, user, 50)]


async def test_prompt_at_its_time_counts_answers_and_never_shows_who(
        console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    agree = await join_and_agree(console_bot, "sam")
    await join_and_agree(console_bot, "lee", agree=agree)
    out = await console_bot.say("dana: /checkins at 19:00")
    assert "Daily check-ins: 19:00 (UTC) on Mon, Tue, Wed, Thu, Fri, Sat, Sun." in out
    assert await sweep(console_bot, at(2, 18, 59)) == ""
    out = await sweep(console_bot, at(2, 19, 0))
    assert out.count(PROMPT) == 1 and "No one has checked in yet." in out
    assert "[b" in out and "Skip]" in out
    assert await sweep(console_bot, at(2, 19, 1)) == ""  # claimed: never a second one
    out = await console_bot.say(f".press sam {button(out, '4')}")
    assert "[only sam sees] Kindred: Thank you for checking in: 4 (okay)." in out
    assert "1 person has checked in." in out
    prompt = await console_bot.say(f".press lee {button(out, '2')}")
    assert "I'm sorry today is hard" in prompt and "2 people have checked in." in prompt
    edited = prompt.split("[edited message")[1]
    assert "Sam" not in edited and "Lee" not in edited and "hard" not in edited.split("good")[1]
    out = await console_bot.say(f".press sam {button(prompt, '5')}")  # a second press changes it
    assert "Thank you for checking in: 5 (good)." in out
    assert "[edited message" not in out  # the count did not change: no edit
    out = await console_bot.say(f".press dana {button(prompt, 'Skip')}")
    assert "please agree to the group's rules" in out and "I agree" in out
    assert await answers(console_bot, SAM) == [5]
    assert await answers(console_bot, UserRef("console", "dana")) == []


async def test_a_week_across_the_spring_change_with_reports(console_bot: ConsoleBot,
                                                             tmp_path: Path) -> None:
    console_bot.clock.current = at(23, 8)  # Monday 23 March; Madrid changes clocks on the 29th
    await console_bot.say("dana: /setup", "dana: /group timezone Madrid", "dana -> bot: hi")
    agree = await join_and_agree(console_bot, "sam")
    for name in ("lee", "kim"):
        await join_and_agree(console_bot, name, agree=agree)
    await console_bot.say("dana: /checkins at 19:00")
    moods = {"sam": [3, 2, 2, 4, 5, 3, 4], "lee": [4, 4, 5, 3, 4, 4, 5], "kim": [1, 2, 3, 3, 2, 4, 5]}
    for offset in range(7):
        day = date(2026, 3, 23) + timedelta(days=offset)
        utc_hour = 18 if day < date(2026, 3, 29) else 17  # 19:00 local, CET then CEST
        due = datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)
        assert await sweep(console_bot, due - timedelta(minutes=1)) == "", day
        out = await sweep(console_bot, due)
        assert out.count(PROMPT) == 1, day
        for name, week in moods.items():
            out = await console_bot.say(f".press {name} {button(out, str(week[offset]))}")
        assert "3 people have checked in." in out
    # Monday 30 March, 09:00 in Madrid (now summer time, 07:00 UTC): last week's report.
    console_bot.clock.current = at(30, 6, 59)
    await console_bot.app.checkins.report_sweep()
    await console_bot.app.settle()
    assert "📊" not in console_bot.new_output()
    console_bot.clock.current = at(30, 7, 0)
    await console_bot.app.checkins.report_sweep()
    await console_bot.app.checkins.report_sweep()
    await console_bot.app.settle()
    weekly = console_bot.new_output()
    assert weekly.count("[private → dana] Kindred: 📊 Check-in report for Console group") == 1
    assert "2026-03-23 to 2026-03-29" in weekly and "from 3 of 3 members" in weekly
    assert "(image saved to " in weekly
    assert await sweep(console_bot, at(30, 16, 59)) == ""
    assert (await sweep(console_bot, at(30, 17, 0))).count(PROMPT) == 1
    out = await console_bot.say("dana: /report 8")
    assert "[only dana sees] Kindred: I'm sending you the report in our private chat." in out
    report = out.split("[private → dana] Kindred: ")[1]
    assert "2026-03-23 to 2026-03-30" in report
    assert "• check-ins: 21, from 3 of 3 members (100%)" in report
    assert "• average mood: 3.4 of 5" in report
    assert "• hard days (1-2): 5 · so-so (3): 5 · good days (4-5): 11" in report
    for name in ("Sam", "Lee", "Kim"):
        assert name not in report and name not in weekly
    image = Path(report.split("(image saved to ")[1].split(")")[0])
    assert image.read_bytes().startswith(b"\x89PNG")
    assert str(image).startswith(str(tmp_path))


async def test_after_downtime_one_missed_prompt_within_two_hours_and_never_two(
        console_bot: ConsoleBot, database_url: str, tmp_path: Path) -> None:
    await console_bot.say("dana: /setup", "dana: /checkins at 19:00")
    out = await sweep(console_bot, at(2, 20, 59))  # down from 18:00 until 20:59
    assert out.count(PROMPT) == 1
    assert await sweep(console_bot, at(2, 21, 30)) == ""
    assert await sweep(console_bot, at(3, 21, 1)) == ""  # down until 21:01: too late
    assert await sweep(console_bot, at(3, 23, 59)) == ""
    out = await sweep(console_bot, at(4, 19, 0))
    assert out.count(PROMPT) == 1
    restarted = await start_console_bot(database_url, tmp_path / "restarted")
    try:
        restarted.clock.current = at(4, 19, 1)
        await restarted.app.checkins.prompt_sweep()
        await restarted.app.settle()
        assert PROMPT not in restarted.new_output()
    finally:
        await restarted.close()


async def test_three_hard_days_in_a_row_raise_one_quiet_concern(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", "dana -> bot: hi")
    await join_and_agree(console_bot, "sam")
    moods = [2, 1, 2, 1, 4, 1, 2, 2]
    for offset, mood in enumerate(moods):
        console_bot.clock.current = at(2 + offset, 12)
        out = await console_bot.say(f"sam -> bot: /checkin {mood}")
        assert "Thank you for checking in" in out
        if offset == 2:
            await console_bot.say("sam -> bot: /checkin 1")  # changing today's answer
    async with console_bot.app.uow() as store:
        concerns = [(c.reason, c.source, c.created_at.day) for c in
                    (await store.session.execute(select(ConcernRow))).scalars().all()]
    assert concerns == [
        ("low_moods", "checkins", 4), ("low_moods", "checkins", 9)]
    console_bot.clock.current = at(9, 19)
    await console_bot.app.crisis.digest_sweep()
    await console_bot.app.settle()
    digest = console_bot.new_output()
    assert "Quiet concerns today in Console group (2):" in digest
    assert "• Sam: three hard check-ins in a row" in digest


async def test_private_checkins_pause_resume_and_the_checkin_command(
        console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    await join_and_agree(console_bot, "sam", private_at="20:00")
    await console_bot.say("sam -> bot: /settings timezone Madrid")
    assert await sweep(console_bot, at(2, 18, 59)) == ""  # 19:59 in Madrid
    out = await sweep(console_bot, at(2, 19, 0))
    assert "[private → sam] Kindred: 🌤 Your daily check-in: how are you today?" in out
    out = await console_bot.say(f".press sam {button(out, '3')}")
    assert "Thank you for checking in: 3 (so-so)." in out
    assert await sweep(console_bot, at(2, 19, 30)) == ""
    out = await console_bot.say("sam -> bot: /pause 2")
    assert "Paused until 2026-03-04" in out
    assert await sweep(console_bot, at(3, 19, 0)) == ""
    assert "Your daily check-in" in await sweep(console_bot, at(4, 19, 40))
    await console_bot.say("sam -> bot: /pause")
    assert await sweep(console_bot, at(5, 19, 0)) == ""
    out = await console_bot.say("sam -> bot: /resume")
    assert "your check-ins are on again" in out
    assert "Your daily check-in" in await sweep(console_bot, at(5, 19, 5))
    out = await console_bot.say("sam -> bot: /checkin 2 rough morning with the school")
    assert "I don't keep notes" in out
    out = await console_bot.say("sam: /checkin")
    assert "[only sam sees] Kindred: How are you today?" in out
    out = await console_bot.say(f".press sam {button(out, '4')}")
    assert "Thank you for checking in: 4 (okay)." in out
    async with console_bot.app.uow() as store:
        rows = [r.local_date for r in (await store.session.execute(select(CheckinRow))).scalars()]
    assert rows == ["2026-03-02", "2026-03-05"]  # one row a day: the second answer changed it
    out = await console_bot.say("kim -> bot: /checkin 3")
    assert "press “I agree” on your group's welcome" in out
    out = await console_bot.say("kim -> bot: /pause")
    assert "press “I agree”" in out


async def test_facilitators_set_the_schedule_and_members_cannot(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    await join_and_agree(console_bot, "sam")
    out = await console_bot.say("sam: /checkins at 10:00")
    assert "only a group facilitator can use /checkins at" in out
    out = await console_bot.say("dana: /checkins at 25:00")
    assert "Usage: /checkins at HH:MM" in out
    out = await console_bot.say("dana: /checkins at 08:00")  # it is 09:00 on Monday
    assert "Today's time has passed, so the first comes next time." in out
    assert await sweep(console_bot, at(2, 9, 1)) == ""
    out = await console_bot.say("dana: /checkins now")
    assert "Posted today's check-in." in out and PROMPT in out
    out = await console_bot.say("dana: /checkins now")
    assert "Today's check-in has already been posted." in out
    out = await console_bot.say("dana: /checkins days mon,wed")
    assert "08:00 (UTC) on Mon, Wed" in out
    assert await sweep(console_bot, at(3, 8, 0)) == ""  # Tuesday
    assert PROMPT in await sweep(console_bot, at(4, 8, 0))  # Wednesday
    out = await console_bot.say("dana: /checkins off")
    assert "Daily check-ins are off" in out
    assert await sweep(console_bot, at(9, 8, 0)) == ""
    out = await console_bot.say("dana: /report")
    assert "Nobody checked in during these days." in out
    out = await console_bot.say("sam: /report")
    assert "only a group facilitator" in out
