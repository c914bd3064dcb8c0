"""Crisis escalation as people meet it, through the console: SPEC.md "Crisis escalation" 1-6."""

from __future__ import annotations

import re

from bot.crisis.service import MAX_REMINDERS
from tests.harness import ConsoleBot

CRISIS = "i cant do this anymore, i have the pills ready and tonight is the night"
RISK = "my son told me last night he wants to die"


async def staffed_group(bot: ConsoleBot) -> None:
    """dana (admin, alerts in her private chat), lee (moderator, reachable), sam (member)."""
    await bot.say("dana: /setup", ".join sam", ".join lee", "dana: /moderator add @lee",
                  "lee -> bot: hello", "dana -> bot: /alerts here")


def alert_buttons(out: str, who: str) -> dict[str, str]:
    """Button ids of the alert shown in `who`'s private chat: label -> id."""
    section = out.split(f"[private → {who}] Kindred: ")[-1]
    return {label: bid for bid, label in re.findall(r"\[(b\d+) ([^\]]+)\]", section)}


async def test_crisis_message_alerts_staff_and_answers_member_privately(
        console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    out = await console_bot.say(f"sam: {CRISIS}")
    assert "[private → dana] Kindred: 🚨 URGENT: possible immediate danger (severity 3)" in out
    assert "[private → lee] Kindred: 🚨 URGENT" in out
    assert "Member: Sam" in out and "At risk: the writer" in out
    assert f"Message: “{CRISIS}”" in out
    assert re.search(r"\[b\d+ Acknowledge\] \[b\d+ Resolve\] \[b\d+ False alarm\]", out)
    member = out.split("[private → sam] Kindred: ")[1]
    assert "call 911 now" in member  # emergency first at severity 3
    assert member.index("911") < member.index("988")
    assert "I've told your group's facilitators" in member
    assert "[group]" not in out  # nothing about it in the group itself


async def test_idioms_and_ordinary_talk_do_not_alert(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    out = await console_bot.say("sam: this homework is killing me lol",
                                "sam: I'm not suicidal, just exhausted from the IEP meeting",
                                "sam: we did QPR suicide prevention training at church today")
    assert "Kindred" not in out


async def test_first_acknowledgement_is_shown_to_the_others(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    out = await console_bot.say(f"sam: {CRISIS}")
    lee_buttons = alert_buttons(out, "lee")
    dana_buttons = alert_buttons(out.split("[private → lee]")[0], "dana")
    out = await console_bot.say(f".press lee {lee_buttons['Acknowledge']}")
    assert "[only lee sees] Kindred: Thank you. You are on alert #1" in out
    assert "[private → dana] Kindred: Lee is on it (alert #1)." in out
    out = await console_bot.say(f".press dana {dana_buttons['Acknowledge']}")
    assert "Lee is already on alert #1." in out
    out = await console_bot.say("dana -> bot: /escalations")
    assert "#1 · Console group · Sam · severity 3" in out and "Lee is on it" in out
    out = await console_bot.say("dana -> bot: /resolve 1 called her, she is safe with family")
    assert "Alert #1 is closed" in out
    assert "[private → lee] Kindred: Alert #1 was closed by Dana: resolved." in out
    out = await console_bot.say("dana -> bot: /escalations")
    assert "no open alerts" in out


async def test_member_cannot_acknowledge(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    out = await console_bot.say(f"sam: {CRISIS}")
    buttons = alert_buttons(out, "lee")
    out = await console_bot.say(f".press sam {buttons['Acknowledge']}")
    assert "There is no alert #1 in your groups." in out
    out = await console_bot.say("sam -> bot: /ack 1")
    assert "only a group moderator can use /ack" in out


async def test_repeats_within_30_minutes_join_the_open_escalation(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    await console_bot.say(f"sam: {RISK}")
    console_bot.clock.advance(minutes=10)
    out = await console_bot.say("sam: he said again he wants to die, he is in his room")
    assert "Crisis alert" not in out and "URGENT" not in out
    console_bot.clock.advance(minutes=40)
    out = await console_bot.say("sam: my son said he wants to kill himself")
    assert "Alert #2" in out


async def test_rise_to_severity_3_pages_again_once(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    out = await console_bot.say(f"sam: {RISK}")
    assert "⚠️ Crisis alert (severity 2)" in out
    out = await console_bot.say(f"sam: {CRISIS}")
    assert "Update: a new message raised this alert to severity 3." in out
    assert out.count("raised this alert") == 2  # dana's chat and lee's
    out = await console_bot.say("sam: i have the pills right here and tonight is the night")
    assert "raised" not in out


async def test_unacknowledged_alerts_are_resent_six_times_then_the_member_is_told(
        console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    await console_bot.say(f"sam: {RISK}")  # severity 2: every 10 minutes
    app = console_bot.app
    for n in range(1, MAX_REMINDERS + 1):
        console_bot.clock.advance(minutes=9)
        await app.crisis.renotify_sweep()
        await app.settle()
        assert f"Reminder {n} of 6" not in console_bot.new_output()
        console_bot.clock.advance(minutes=1)
        await app.crisis.renotify_sweep()
        await app.settle()
        out = console_bot.new_output()
        assert out.count(f"Reminder {n} of 6: nobody has acknowledged") == 2, n
    console_bot.clock.advance(minutes=10)
    await app.crisis.renotify_sweep()
    await app.settle()
    out = console_bot.new_output()
    assert "Reminder 7" not in out
    assert "[private → sam] Kindred: Sam, I'm sorry: your group's facilitators haven't" in out
    console_bot.clock.advance(minutes=60)
    await app.crisis.renotify_sweep()
    await app.settle()
    assert console_bot.new_output() == ""


async def test_severity_3_reminders_come_at_half_the_interval(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    await console_bot.say(f"sam: {CRISIS}")
    console_bot.clock.advance(minutes=5)
    await console_bot.app.crisis.renotify_sweep()
    await console_bot.app.settle()
    assert "Reminder 1 of 6" in console_bot.new_output()


async def test_acknowledged_alerts_are_not_resent(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    await console_bot.say(f"sam: {CRISIS}", "lee -> bot: /ack 1")
    console_bot.clock.advance(minutes=30)
    await console_bot.app.crisis.renotify_sweep()
    await console_bot.app.settle()
    assert "Reminder" not in console_bot.new_output()


async def test_on_duty_staff_get_alerts_and_alert_chats_always_do(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", ".join sam", ".join lee", ".join kim",
                          "dana: /moderator add @lee", "dana: /moderator add @kim",
                          "lee -> bot: hi", "kim -> bot: hi", "dana -> bot: /alerts here",
                          "kim -> bot: /oncall on")
    out = await console_bot.say(f"sam: {CRISIS}")
    assert "[private → kim] Kindred: 🚨" in out
    assert "[private → dana] Kindred: 🚨" in out  # an /alerts here chat
    assert "[private → lee]" not in out  # off duty while someone else is on


async def test_sos_escalates_at_severity_3(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    out = await console_bot.say("sam: /sos")
    assert "[only sam sees] Kindred: I'm here." in out
    assert "URGENT" in out and "asked for help with /sos" in out
    assert "call 911 now" in out.split("[private → sam] Kindred: ")[1]


async def test_no_reachable_staff_is_said_honestly(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", ".join sam")
    out = await console_bot.say(f"sam: {CRISIS}")
    assert "I can't reach a facilitator of your group right now" in out


async def test_group_terms_raise_but_never_silence(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    out = await console_bot.say("sam: we went to the blue bridge again")
    assert "Crisis alert" not in out
    out = await console_bot.say("dana: /keywords add blue bridge")
    assert "now also watches for “blue bridge”" in out
    out = await console_bot.say("sam: thinking about the blue bridge again")
    assert "⚠️ Crisis alert (severity 2)" in out and "a term this group watches for" in out
    out = await console_bot.say("dana: /keywords remove suicide")
    assert "was not on this group's list" in out
    out = await console_bot.say("lee -> bot: hi", ".join max", f"max: {CRISIS}")
    assert "URGENT" in out
    out = await console_bot.say("sam: /keywords add x")
    assert "only a group facilitator" in out


async def test_quiet_concern_goes_to_the_evening_digest(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    out = await console_bot.say("sam: honestly i feel so hopeless and alone lately")
    assert "Kindred" not in out
    app = console_bot.app
    await app.crisis.digest_sweep()  # 09:00 UTC: not yet
    await app.settle()
    assert "Quiet concern" not in console_bot.new_output()
    console_bot.clock.advance(hours=10)  # 19:00 in the group's zone (UTC)
    await app.crisis.digest_sweep()
    await app.crisis.digest_sweep()
    await app.settle()
    out = console_bot.new_output()
    assert out.count("[private → dana] Kindred: Quiet concern today in Console group:") == 1
    assert "• Sam:" in out


async def test_alert_reaches_staff_in_spanish_group(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    await console_bot.say("dana: /group language es", "dana: /group region ES")
    out = await console_bot.say("sam: ya no quiero vivir, tengo las pastillas preparadas para esta noche")
    assert "🚨 URGENTE" in out or "⚠️ Alerta de crisis" in out
    assert "[b1 Me ocupo]" in out or "Me ocupo" in out
    member = out.split("[private → sam] Kindred: ")[1]
    assert "112" in member and "024" in member


async def test_every_sweep_is_scheduled_and_runs(console_bot: ConsoleBot) -> None:
    scheduler = console_bot.app.scheduler
    assert {"crisis-renotify", "crisis-digest", "crisis-purge"} <= set(scheduler.names)
    for name in scheduler.names:
        await scheduler.run_now(name)


async def test_excerpts_are_purged_30_days_after_resolution(console_bot: ConsoleBot) -> None:
    await staffed_group(console_bot)
    await console_bot.say(f"sam: {CRISIS}", "dana -> bot: /resolve 1 safe now")
    console_bot.clock.advance(days=29)
    await console_bot.app.crisis.purge_sweep()
    async with console_bot.app.uow() as store:
        kept = await store.escalations.get(1)
    assert kept is not None and kept.excerpt == CRISIS
    console_bot.clock.advance(days=2)
    await console_bot.app.crisis.purge_sweep()
    async with console_bot.app.uow() as store:
        purged = await store.escalations.get(1)
        audit = await store.audit.for_subject("escalation:1")
    assert purged is not None and purged.excerpt is None
    assert [a[2] for a in audit] == ["escalation.opened", "escalation.resolved"]
