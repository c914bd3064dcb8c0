"""Resources as parents and facilitators meet them, through the console (SPEC.md "Resources")."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.actions import SendMessage, SendPrivateReply, ShowForm
from bot.core.events import ButtonPressed, CommandInvoked, EventMeta, FormSubmitted
from bot.core.identity import ChatRef, UserRef
from bot.resources.service import MAX_PAYLOAD_BYTES
from tests.harness import ConsoleBot

AUSTIN_CSV = """name,categories,phone,url,city,region,languages,cost,description
Central Texas Food Bank,food,,https://example.org/ctfb,Austin,Texas,en;es,free,Pantries and SNAP help.
Austin Respite Co-op,respite;disability,512-555-0142,,Austin,TX,en,sliding scale,Trained sitters.
"""

BAD_ROWS_CSV = """name,categories,phone,url,cost
Good One,food,512-555-0100,,free
No Category,,512-555-0101,,
Good Two,housing,,https://example.org/rent,
Bad Phone,food,call us,,
Bad Cost,food,512-555-0102,,cheap-ish
"""

_events = itertools.count(1)


def buttons(out: str) -> dict[str, str]:
    """Label -> button id, for the buttons printed in `out` (later ones win)."""
    return {label: bid for bid, label in re.findall(r"\[(b\d+) ([^\]]+)\]", out)}


def group_answer(out: str) -> str:
    """The last thing the bot posted in the group."""
    return out.split("[group] Kindred: ")[-1]


async def setup_group(bot: ConsoleBot) -> None:
    """dana sets the group up and has a private chat; sam is a member."""
    await bot.say("dana: /setup", "dana -> bot: hello", ".join sam")


async def set_up_once(bot: ConsoleBot) -> None:
    """For property tests, which share one bot across their examples."""
    if not getattr(bot, "resources_group_ready", False):
        await setup_group(bot)
        bot.resources_group_ready = True  # type: ignore[attr-defined]


async def attach(bot: ConsoleBot, tmp_path: Path, name: str, text: str, who: str = "dana") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return await bot.say(f".attach {who} {path} /resource import")


def other_group_event(name: str, args: tuple[str, ...] = (), *, admin: bool = False) -> CommandInvoked:
    """A command in a second support group (the console itself has one group)."""
    who = "olga" if admin else "oscar"
    meta = EventMeta(event_id=f"other:{next(_events)}", occurred_at=datetime.now(UTC),
                     chat=ChatRef("console", "other", "group"), sender=UserRef("console", who),
                     sender_name=who.capitalize(), group="console:other", group_title="Other group",
                     sender_is_admin=admin)
    return CommandInvoked(meta=meta, name=name, args=args)


def texts(actions: object) -> str:
    assert isinstance(actions, list)
    return "\n".join(a.text for a in actions if isinstance(a, SendMessage | SendPrivateReply))


# -- members' search ---------------------------------------------------------------------------
async def test_everyday_words_typos_and_spanish_find_the_right_help(console_bot: ConsoleBot) -> None:
    await setup_group(console_bot)
    expectations = {
        "rent help": "211",
        "where can i get help paying rent": "211",
        "babysiter": "ARCH National Respite Locator",  # a typo of babysitter
        "IEP meeting": "Center for Parent Information and Resources",
        "comida": "SNAP food benefits",
        "respiro": "ARCH National Respite Locator",
        "food bank": "Feeding America food bank finder",
    }
    for query, expected in expectations.items():
        out = group_answer(await console_bot.say(f"sam: /resources {query}"))
        first_three = re.findall(r"^\s*[123]\. (.+)$", out, flags=re.MULTILINE)
        assert any(expected in name for name in first_three), (query, first_three)


async def test_a_place_in_the_query_brings_its_local_entries_first(
        console_bot: ConsoleBot, tmp_path: Path) -> None:
    await setup_group(console_bot)
    await attach(console_bot, tmp_path, "austin.csv", AUSTIN_CSV)
    out = group_answer(await console_bot.say("sam: /resources food bank austin"))
    assert out.startswith("Food · Austin, Texas:")
    assert "1. Central Texas Food Bank — Austin (your group)" in out
    out = group_answer(await console_bot.say("sam: /resources babysitter in Austin TX"))
    assert "1. Austin Respite Co-op — Austin (your group)" in out
    assert "📞 512-555-0142" in out and "sliding scale" in out


async def test_results_are_short_cards_that_fit_a_phone_screen(console_bot: ConsoleBot) -> None:
    await setup_group(console_bot)
    out = group_answer(await console_bot.say("sam: /resources parenting support"))
    cards = re.findall(r"^\s*\d\. ", out, flags=re.MULTILINE)
    assert len(cards) == 3
    assert len(out.splitlines()) <= 22
    assert all(len(line) <= 120 for line in out.splitlines())
    assert "verified 2026-11-25" in out


async def test_no_argument_offers_the_categories_that_have_entries(console_bot: ConsoleBot) -> None:
    await setup_group(console_bot)
    out = await console_bot.say("sam: /resources")
    assert "What kind of help are you looking for?" in out
    labels = buttons(out)
    assert {"Crisis lines", "Food", "Respite and childcare", "Education and IEP"} <= set(labels)
    out = await console_bot.say(f".press sam {labels['Food']}")
    answer = group_answer(out)
    assert answer.startswith("Food:")
    assert "Feeding America food bank finder" in answer
    # A country with nothing but the international helpline directory offers only that topic.
    await console_bot.say("dana: /group region FR")
    labels = buttons(await console_bot.say("sam: /resources"))
    assert set(labels) == {"Crisis lines", "Mental health"}


async def test_more_pages_through_the_results_without_repeating(console_bot: ConsoleBot) -> None:
    await setup_group(console_bot)
    out = group_answer(await console_bot.say("sam: /resources help with my child's mental health"))
    total = int(re.search(r"1–3 of (\d+)", out).group(1))  # type: ignore[union-attr]
    assert total > 6
    seen = re.findall(r"^\s*\d+\. (.+)$", out, flags=re.MULTILINE)
    out = group_answer(await console_bot.say(f".press sam {buttons(out)['More']}"))
    assert f"4–6 of {total}" in out
    page_two = re.findall(r"^\s*\d+\. (.+)$", out, flags=re.MULTILINE)
    assert re.findall(r"^\s*(\d+)\. ", out, flags=re.MULTILINE) == ["4", "5", "6"]
    assert not set(seen) & set(page_two)
    # Anyone may press it, and it keeps working for a long query (kept under a short token).
    long_query = "where could I find some support for my daughter's anxiety and depression please"
    out = group_answer(await console_bot.say(f"sam: /resources {long_query}"))
    out = group_answer(await console_bot.say(f".press dana {buttons(out)['More']}"))
    assert re.findall(r"^\s*(\d+)\. ", out, flags=re.MULTILINE)[0] == "4"


async def test_a_crisis_query_puts_the_crisis_lines_first(console_bot: ConsoleBot) -> None:
    await setup_group(console_bot)
    out = group_answer(await console_bot.say("sam: /resources crisis line for my teen"))
    assert out.startswith("If you or your child are in danger right now, call 911 now.")
    names = re.findall(r"^\s*\d\. (.+)$", out, flags=re.MULTILINE)
    assert names[:2] == ["911 (Emergency services)", "988 Suicide & Crisis Lifeline"]
    # In Spain, in Spanish: 112 first, and the words of the card are Spanish.
    await console_bot.say("dana: /group region ES", "dana: /group language es")
    out = group_answer(await console_bot.say("sam: /resources línea de crisis"))
    assert out.startswith("Si tú o tu hijo")
    assert re.findall(r"^\s*1\. (.+)$", out, flags=re.MULTILINE)[0].startswith("112")
    assert "gratis" in out and "verificado" in out


async def test_private_chat_search_uses_the_deployment_region(console_bot: ConsoleBot) -> None:
    await setup_group(console_bot)
    out = await console_bot.say("sam -> bot: /resources samaritans")
    assert "[private → sam] Kindred: I found nothing for that." in out  # a UK line; this is US
    crisis = buttons(out)["Crisis lines"]
    out = await console_bot.say("sam -> bot: /resources samaritans UK")
    assert "[private → sam] Kindred: 1. Samaritans" in out
    out = await console_bot.say(f".press sam {crisis}")  # answered in the same private chat
    assert "[private → sam] Kindred: If you or your child are in danger right now, call 911" in out
    assert "[group]" not in out


# -- group-local entries -------------------------------------------------------------------------
async def test_a_groups_own_entries_are_seen_by_that_group_only(
        console_bot: ConsoleBot, tmp_path: Path) -> None:
    await setup_group(console_bot)
    await attach(console_bot, tmp_path, "austin.csv", AUSTIN_CSV)
    dispatcher = console_bot.app.dispatcher
    await dispatcher.handle(other_group_event("setup", admin=True))
    answer = texts(await dispatcher.handle(other_group_event("resources", ("food", "bank", "austin"))))
    assert "Feeding America" in answer
    assert "Central Texas Food Bank" not in answer
    listed = texts(await dispatcher.handle(other_group_event("resource", ("list",), admin=True)))
    assert "no resources of its own" in listed
    # Its number cannot be edited or removed from the other group either.
    out = await console_bot.say("dana: /resource list")
    number = re.search(r"#(\d+) Central Texas Food Bank", out).group(1)  # type: ignore[union-attr]
    refused = texts(await dispatcher.handle(
        other_group_event("resource", ("remove", number), admin=True)))
    assert f"There is no entry {number}" in refused


# -- facilitator tools ---------------------------------------------------------------------------
async def test_guided_add_one_field_at_a_time_in_a_private_chat(console_bot: ConsoleBot) -> None:
    await setup_group(console_bot)
    out = await console_bot.say("dana -> bot: /resource add")
    assert "(1/11) What is the service called?" in out
    out = await console_bot.say("dana -> bot: Hill Country Parent Circle")
    assert "(2/11) Which topics" in out and "8 Food" in out
    out = await console_bot.say("dana -> bot: bananas")
    assert "I don't know the topic “bananas”" in out and "(2/11)" in out
    await console_bot.say("dana -> bot: 3, disability")
    out = await console_bot.say("dana -> bot: Monthly meet-ups for parents of autistic kids.")
    assert "(4/11) Phone number to call?" in out
    out = await console_bot.say("dana -> bot: call me maybe")
    assert "does not look like a phone number" in out and "(4/11)" in out
    await console_bot.say("dana -> bot: 512-555-0177")
    out = await console_bot.say(f".press dana {buttons(out)['Skip']}")  # no text line
    assert "(6/11) Website?" in out
    for answer in ("hillcountryparents.example.org", "1st Saturday 10-12", "English y español",
                   "gratis", "3-17", "Austin, Texas"):
        out = await console_bot.say(f"dana -> bot: {answer}")
    assert "Saved as #" in out
    assert "Hill Country Parent Circle — Austin (your group)" in out
    assert "🌐 https://hillcountryparents.example.org" in out
    assert "English, Spanish · ages 3–17 · free · verified" in out
    # The next message is an ordinary message again, and members find the entry.
    out = await console_bot.say("dana -> bot: thanks!")
    assert "Saved" not in out
    out = group_answer(await console_bot.say("sam: /resources autism parents group austin"))
    assert "1. Hill Country Parent Circle" in out


async def test_guided_add_in_the_group_can_be_saved_early_or_cancelled(
        console_bot: ConsoleBot) -> None:
    await setup_group(console_bot)
    await console_bot.say("dana: /resource add", "dana: Family Crisis Team", "dana: crisis")
    out = await console_bot.say("dana: done")
    assert "It needs a way to reach it" in out and "Phone number to call?" in out
    out = await console_bot.say("dana: 512-555-0111", "dana: done")
    assert "Saved as #" in out
    # Another person's messages never answer dana's questions.
    await console_bot.say("dana: /resource add")
    out = await console_bot.say("sam: hello everyone")
    assert "Which topics" not in out
    out = await console_bot.say("dana: cancel")
    assert "Cancelled. Nothing was saved." in out
    out = await console_bot.say("dana: /resource list")
    assert out.count("#") == 1 and "Family Crisis Team" in out


async def test_edit_remove_and_list(console_bot: ConsoleBot, tmp_path: Path) -> None:
    await setup_group(console_bot)
    await attach(console_bot, tmp_path, "austin.csv", AUSTIN_CSV)
    out = await console_bot.say("dana: /resource list")
    assert "This group's own resources (2):" in out
    food = re.search(r"#(\d+) Central Texas Food Bank · Food · Austin", out).group(1)  # type: ignore[union-attr]
    out = await console_bot.say(f"dana: /resource edit {food} phone 512-555-0190")
    assert f"Updated #{food}:" in out and "📞 512-555-0190" in out
    out = await console_bot.say(f"dana: /resource edit #{food} cost cheap")
    assert "Send one of: free, low cost" in out
    out = await console_bot.say(f"dana: /resource edit {food} colour blue")
    assert "I don't know the field “colour”" in out
    out = await console_bot.say(f"dana: /resource edit {food} telefono borrar")
    assert "📞" not in out  # Spanish field name and word, and the url keeps it reachable
    out = await console_bot.say(f"dana: /resource edit {food} url borrar")
    assert "It needs a way to reach it" in out
    out = await console_bot.say(f"dana: /resource edit {food} hours")
    assert "Opening hours" in out
    out = await console_bot.say("dana: Tue and Thu 9-1")
    assert "Tue and Thu 9-1" in out
    out = await console_bot.say("dana: /resource edit 99999 phone 1")
    assert "There is no entry 99999" in out
    out = await console_bot.say(f"dana: /resource remove {food}")
    labels = buttons(out)
    out = await console_bot.say(f".press sam {labels['Remove']}")
    assert "only a group facilitator can remove" in out
    out = await console_bot.say(f".press dana {labels['Remove']}")
    assert f"Removed #{food} Central Texas Food Bank." in out
    out = await console_bot.say("dana: /resource list")
    assert "This group's own resource (1):" in out and "Central Texas" not in out
    out = group_answer(await console_bot.say("sam: /resources food bank austin"))
    assert "Central Texas Food Bank" not in out


async def test_csv_import_reports_each_bad_row_and_imports_the_good_ones(
        console_bot: ConsoleBot, tmp_path: Path) -> None:
    await setup_group(console_bot)
    out = await attach(console_bot, tmp_path, "list.csv", BAD_ROWS_CSV)
    assert "Imported 2 entries for this group (2 new, 0 updated)." in out
    assert "3 rows were not imported:" in out
    assert "line 3: no category" in out
    assert re.search(r"line 5: phone 'call us'", out)
    assert re.search(r"line 6: cost 'cheap-ish'", out)
    out = await console_bot.say("dana: /resource list")
    assert "Good One" in out and "Good Two" in out and "Bad" not in out
    # Sent again: the same ids (generated from the row) are replaced, not duplicated.
    out = await attach(console_bot, tmp_path, "list.csv", BAD_ROWS_CSV)
    assert "(0 new, 2 updated)" in out
    out = await console_bot.say("dana: /resource import")
    assert "Send a CSV file with /resource import" in out


async def test_members_cannot_use_the_facilitator_tools(
        console_bot: ConsoleBot, tmp_path: Path) -> None:
    await setup_group(console_bot)
    for command in ("add", "list", "edit 1 phone 1", "remove 1"):
        out = await console_bot.say(f"sam: /resource {command}")
        assert f"Sorry, only a group facilitator can use /resource {command.split()[0]}." in out
    out = await attach(console_bot, tmp_path, "list.csv", BAD_ROWS_CSV, who="sam")
    assert "only a group facilitator can use /resource import" in out
    out = await console_bot.say("sam: /help")
    assert "/resources [what] [where]" in out and "/resource add" not in out


async def test_a_groups_own_crisis_line_reaches_its_members_in_a_crisis(
        console_bot: ConsoleBot, tmp_path: Path) -> None:
    await setup_group(console_bot)
    await console_bot.say("dana: /group region FR", "sam -> bot: hi")
    await attach(console_bot, tmp_path, "team.csv",
                 "name,categories,phone,hours\nLigne d'écoute du groupe,crisis,01 45 39 40 00,24/7\n")
    out = await console_bot.say("sam: i have the pills ready and tonight is the night")
    member = out.split("[private → sam] Kindred: ")[1]
    assert "Ligne d'écoute du groupe: call 01 45 39 40 00" in member


async def test_a_form_where_the_platform_has_forms(console_bot: ConsoleBot) -> None:
    """Discord's modal: the same flow with the main fields in one form, saved whole or not at all."""
    await setup_group(console_bot)
    dispatcher = console_bot.app.dispatcher
    meta = EventMeta(event_id="form:1", occurred_at=datetime.now(UTC),
                     chat=ChatRef("console", "group", "group"), sender=UserRef("console", "dana"),
                     sender_name="Dana", group="console:group", sender_is_admin=True)
    bad = FormSubmitted(meta=meta, form="resource_add", interaction="i1", values=(
        ("name", "Respite Night"), ("categories", "respite"), ("phone", "not a number"),
        ("url", ""), ("description", "")))
    assert "does not look like a phone number" in texts(await dispatcher.handle(bad))
    good = FormSubmitted(meta=meta, form="resource_add", interaction="i2", values=(
        ("name", "Respite Night"), ("categories", "respite"), ("phone", "512-555-0123"),
        ("url", ""), ("description", "Free evening childcare once a month.")))
    assert "Saved as #" in texts(await dispatcher.handle(good))
    out = await console_bot.say("dana: /resource list")
    assert out.count("Respite Night") == 1
    member = FormSubmitted(meta=EventMeta(event_id="form:3", occurred_at=datetime.now(UTC),
                                          chat=meta.chat, sender=UserRef("console", "sam"),
                                          group="console:group"),
                           form="resource_add", values=(("name", "x"), ("categories", "food")))
    assert "only a group facilitator can add" in texts(await dispatcher.handle(member))
    # The console has no forms, so /resource add with an interaction still asks one field at a time.
    command = CommandInvoked(meta=meta, name="resource", args=("add",), interaction="i4")
    actions = await dispatcher.handle(command)
    assert not any(isinstance(a, ShowForm) for a in actions)
    assert "What is the service called?" in texts(actions)
    await console_bot.say("dana: cancel")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                     max_size=120))
async def test_any_words_get_an_answer_and_buttons_fit(console_bot: ConsoleBot, query: str) -> None:
    await set_up_once(console_bot)
    event = CommandInvoked(
        meta=EventMeta(event_id=f"h:{next(_events)}", occurred_at=datetime.now(UTC),
                       chat=ChatRef("console", "group", "group"), sender=UserRef("console", "sam"),
                       group="console:group"),
        name="resources", args=tuple(query.split()))
    actions = await console_bot.app.dispatcher.handle(event)
    assert actions
    assert "something went wrong" not in texts(actions)
    for action in actions:
        for row in getattr(action, "buttons", ()):
            for button in row:
                assert button.payload.isascii() and len(button.payload) <= MAX_PAYLOAD_BYTES


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.one_of(st.sampled_from(["c", "m", "t", "d", "rm", "keep", "g", "p", "-",
                                                 "0", "11", "12", "99999999999999999999", "²"]),
                                st.text(max_size=12)), max_size=6))
async def test_any_button_payload_gets_an_answer(console_bot: ConsoleBot, parts: list[str]) -> None:
    await set_up_once(console_bot)
    event = ButtonPressed(
        meta=EventMeta(event_id=f"h:{next(_events)}", occurred_at=datetime.now(UTC),
                       chat=ChatRef("console", "group", "group"), sender=UserRef("console", "sam"),
                       group="console:group"),
        payload=":".join(["res", *parts]), interaction="x")
    actions = await console_bot.app.dispatcher.handle(event)
    assert actions
    assert "something went wrong" not in texts(actions)
