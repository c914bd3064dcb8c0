"""Onboarding as people meet it in the console: SPEC.md "Onboarding", issue #4 items 1-2."""

from __future__ import annotations

from sqlalchemy import select, text

from bot.core.identity import UserRef
from storage.tables import ConsentRow, WelcomeWindowRow
from tests.harness import ConsoleBot
from tests.onboarding.flows import BUTTON, button, join_and_agree

SAM = UserRef("console", "sam")


async def welcome_counts(bot: ConsoleBot) -> list[int]:
    async with bot.app.uow() as store:
        rows = await store.session.execute(select(WelcomeWindowRow.joins))
        return [r[0] for r in rows.all()]


async def test_joins_within_a_minute_share_one_welcome_and_store_no_one(
        console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", "dana: /group welcome Hello parents!",
                          "dana: /group rules No advice about medication.")
    out = await console_bot.say(".join sam")
    assert out.count("👋 Welcome to Console group!") == 1
    assert "Hello parents!" in out and "No advice about medication." in out
    assert "[b1 I agree]" in out
    console_bot.clock.advance(seconds=50)
    out = await console_bot.say(".join lee", ".join kim")
    assert "Welcome" not in out  # the welcome of 50 s ago serves them too
    assert await welcome_counts(console_bot) == [3]  # a count, never who
    console_bot.clock.advance(seconds=61)
    out = await console_bot.say(".join max")
    assert out.count("👋 Welcome to Console group!") == 1
    assert await welcome_counts(console_bot) == [1]
    async with console_bot.app.uow() as store:
        for name in ("sam", "lee", "kim", "max"):
            assert await store.people.get(UserRef("console", name)) is None


async def test_agreeing_records_consent_then_asks_privately(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", "dana: /group timezone Madrid", "dana: /group region ES")
    out = await console_bot.say(".join sam")
    out = await console_bot.say(f".press sam {button(out, 'I agree')}")
    assert "[only sam sees] Kindred: Thank you for agreeing! I've written to you privately." in out
    assert "[private → sam] Kindred: Welcome, Sam!" in out
    labels = [label for _, label in BUTTON.findall(out)]
    assert labels[:2] == ["Madrid", "Canary"] and "Another city…" in labels
    out = await console_bot.say(f".press sam {button(out, 'Another city')}")
    assert "Type the name of your city or country" in out
    out = await console_bot.say("sam -> bot: Atlantis")
    assert "I don't know that place" in out
    out = await console_bot.say("sam -> bot: Lisbon")
    assert "Which language should I use with you?" in out
    out = await console_bot.say(f".press sam {button(out, 'Español')}")
    assert "¿Quieres" in out  # the next question already in Spanish
    yes = BUTTON.findall(out)[-2][0]
    out = await console_bot.say(f".press sam {yes}")
    out = await console_bot.say("sam -> bot: 20:30")
    assert "¡Todo listo, Sam! ✨" in out
    assert "zona horaria: Europe/Lisbon" in out and "20:30" in out
    async with console_bot.app.uow() as store:
        person = await store.people.get(SAM)
        group = await store.groups.by_key("console:group")
        assert group is not None and group.id is not None
        assert await store.onboarding.has_consent(group.id, SAM)
        assert await store.onboarding.step(SAM) is None
        audit = await store.audit.for_subject(f"group:{group.id}")
    assert person is not None and person.consented_at is not None
    assert (person.timezone, person.language, person.private_checkins) == (
        "Europe/Lisbon", "es", True)
    assert "consent.given" in [entry[2] for entry in audit]
    out = await console_bot.say(".press sam b1")  # the welcome's button again
    assert "You have already agreed" in out


async def test_returning_members_are_not_welcomed_as_strangers(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    await join_and_agree(console_bot, "sam")
    await console_bot.say(".leave sam")
    console_bot.clock.advance(days=2)
    out = await console_bot.say(".join sam")
    assert "[group]" not in out
    assert "[private → sam] Kindred: Welcome back to Console group!" in out


async def test_held_members_agree_privately_then_are_let_in(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", "dana: /group hold on")
    out = await console_bot.say(".request zoe")
    assert "[group]" not in out
    assert "[private → zoe] Kindred: 👋 You asked to join Console group." in out
    async with console_bot.app.uow() as store:
        assert await store.people.get(UserRef("console", "zoe")) is None
    out = await console_bot.say(f".press zoe {button(out, 'I agree')}")
    assert "(zoe was let into the group)" in out
    assert "You're in." in out and "What time zone are you in?" in out
    out = await console_bot.say(".join zoe")  # the platform reports her arrival
    assert "Welcome" not in out
    console_bot.clock.advance(days=3)
    await console_bot.say(".leave zoe")
    out = await console_bot.say(".request zoe")
    assert "(zoe was let into the group)" in out and "You asked to join" not in out


async def test_start_begins_or_resumes_onboarding(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    out = await console_bot.say("sam -> bot: /start")
    assert "press “I agree” on its welcome" in out
    out = await console_bot.say("sam -> bot: /start onb-99")
    assert "That link is no longer valid" in out
    out = await console_bot.say("sam -> bot: /start onb-1")  # a deep link from the group
    assert "[private → sam] Kindred: 👋 Welcome to Console group!" in out
    out = await console_bot.say(f".press sam {button(out, 'I agree')}")
    assert "What time zone are you in?" in out
    out = await console_bot.say("sam -> bot: /start")
    assert "Let's carry on where we left off" in out and "What time zone" in out
    out = await console_bot.say("sam -> bot: Chicago")
    assert "Which language" in out
    out = await console_bot.say("sam: /start")
    assert "Please send this to me in a private chat." in out
    out = await console_bot.say("dana -> bot: /start")
    assert "You help run Console group" in out


async def test_settings_by_buttons_and_typed_values(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    out = await console_bot.say("kim: /settings")
    assert "Please first agree to your group's rules" in out
    await join_and_agree(console_bot, "sam")
    out = await console_bot.say("sam: /settings")
    assert "[only sam sees] Kindred: Your settings:" in out
    assert "• private check-ins: off" in out
    out = await console_bot.say(f".press sam {button(out, 'Time zone')}")
    assert "What time zone are you in?" in out
    out = await console_bot.say("sam -> bot: mexico")
    assert "Saved. Your settings:" in out and "America/Mexico_City" in out
    out = await console_bot.say("sam -> bot: /settings checkins 21:00")
    assert "• private check-ins: at 21:00" in out
    out = await console_bot.say("sam -> bot: /settings checkins off")
    assert "• private check-ins: off" in out
    out = await console_bot.say("sam -> bot: /settings language es")
    assert "• idioma: Español" in out
    out = await console_bot.say("sam -> bot: /settings timezone Gotham")
    assert "No conozco ese lugar" in out
    out = await console_bot.say("sam -> bot: /settings colour blue")
    assert "/settings" in out and "Uso" in out
    async with console_bot.app.uow() as store:
        rows = (await store.session.execute(select(ConsentRow))).scalars().all()
        assert len(rows) == 1
        assert (await store.session.execute(text("select count(*) from people"))).scalar_one() >= 1


async def test_privacy_says_what_is_kept(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    out = await console_bot.say("sam: /privacy")
    assert "What I keep about you, in plain words:" in out
    assert "/forgetme erases it" in out and "never kept" in out
    await console_bot.say("dana: /group language es")
    out = await console_bot.say("sam: /privacy")
    assert "Lo que guardo sobre ti" in out
