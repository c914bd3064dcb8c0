"""The pure parts of the Discord adapter: escaping, splitting, slash command shapes, arguments."""

from __future__ import annotations

from adapters.discord.render import (
    discord_length,
    escape_markdown,
    layout_buttons,
    split_text,
    truncate,
)
from adapters.discord.translate import (
    CONTEXT_BOT_DM,
    command_payloads,
    form_values,
    parse_text_command,
    slash_arguments,
)
from bot.core.actions import Button
from bot.core.commands import CommandInfo, Param
from bot.core.identity import UserRef
from bot.core.roles import Role


def test_markdown_is_escaped_but_links_stay_clickable() -> None:
    text = "*bold* _it_ `code` ||spoiler|| ~~x~~ [site](http://evil.example) <@123> \\ok"
    escaped = escape_markdown(text)
    assert escaped.startswith(r"\*bold\* \_it\_ \`code\` \|\|spoiler\|\| \~\~x\~\~ \[site\]")
    assert "(http://evil.example)" in escaped  # the URL itself is untouched
    assert r"\<@123\>" in escaped and r"\\ok" in escaped
    assert escape_markdown("see https://example.org/a_b*c for help") == (
        "see https://example.org/a_b*c for help")
    assert escape_markdown("# Title\n  ## sub\n-# small\nnot # a heading") == (
        "\\# Title\n  \\## sub\n\\-# small\nnot # a heading")
    assert escape_markdown("@everyone look") == "@\u200beveryone look"
    assert escape_markdown("> quoted") == r"\> quoted"


def test_long_text_splits_at_boundaries_within_2000() -> None:
    paragraph = ("word " * 300).strip()  # 1,499 characters
    text = f"{paragraph}\n\n{paragraph}"
    chunks = split_text(text)
    assert chunks == [paragraph, paragraph]
    solid = "x" * 4500
    parts = split_text(solid)
    assert [len(p) for p in parts] == [2000, 2000, 500] and "".join(parts) == solid
    emoji = "😀" * 1500  # 3,000 UTF-16 units: Discord counts them
    assert all(discord_length(p) <= 2000 for p in split_text(emoji))
    assert "".join(split_text(emoji)) == emoji
    escaped = "a" * 1999 + "\\*" + "b" * 10
    first, second = split_text(escaped)
    assert not first.endswith("\\") and second.startswith("\\*")
    assert split_text("") == [""] and split_text("short") == ["short"]
    assert len(truncate("y" * 2500)) == 2000 and truncate("y" * 2500).endswith("…")


def test_buttons_fit_discords_grid() -> None:
    moods = tuple(Button(label=str(n), payload=f"mood:{n}") for n in range(1, 7))
    rows = layout_buttons((moods, (Button(label="Skip", payload="mood:skip"),
                                   Button(label="dup", payload="mood:1"))))
    assert [[b.payload for b in row] for row in rows] == [
        ["mood:1", "mood:2", "mood:3", "mood:4", "mood:5"], ["mood:6"], ["mood:skip"]]
    many = tuple(tuple(Button(label="b", payload=f"p:{r}:{c}") for c in range(5)) for r in range(7))
    assert len(layout_buttons(many)) == 5


CATALOGUE = (
    CommandInfo(name="help", role=Role.MEMBER, where="any",
                summaries={"en": "what I can do for you", "es": "lo que puedo hacer por ti"},
                usages={"en": "/help", "es": "/help"}),
    CommandInfo(name="checkin", role=Role.MEMBER, where="any",
                summaries={"en": "check in", "es": "cuéntanos cómo estás"},
                usages={"en": "/checkin [1-5] [note]", "es": "/checkin [1-5] [nota]"},
                params=(Param(name="mood", kind="int", optional=True, minimum=1, maximum=5),
                        Param(name="note", kind="rest", optional=True))),
    CommandInfo(name="moderator", role=Role.FACILITATOR, where="group",
                summaries={"en": "make someone a moderator", "es": "nombra moderador"},
                usages={"en": "/moderator add|remove @user", "es": "/moderator add|remove @usuario"},
                subcommands=(CommandInfo(
                    name="add", role=Role.FACILITATOR, where="group", summaries={"en": "", "es": ""},
                    usages={"en": "/moderator add @user", "es": "/moderator add @usuario"},
                    params=(Param(name="user", kind="user"),)),)),
    CommandInfo(name="checkins", role=Role.FACILITATOR, where="group",
                summaries={"en": "check-in schedule", "es": "horario"},
                usages={"en": "/checkins at|days|off|now", "es": "/checkins at|days|off|now"},
                subcommands=(CommandInfo(
                    name="days", role=Role.FACILITATOR, where="group", summaries={"en": "", "es": ""},
                    usages={"en": "/checkins days mon,tue,…", "es": "/checkins days lun,mar,…"},
                    params=(Param(name="days", kind="days"),)),)),
    CommandInfo(name="language", role=Role.MEMBER, where="any", summaries={"en": "x" * 150},
                usages={"en": "/language en|es"},
                params=(Param(name="language", kind="choice", choices=("en", "es")),)),
)


def test_slash_command_shapes() -> None:
    payloads = {p["name"]: p for p in command_payloads(CATALOGUE, base_language="en",
                                                       contexts=None)}
    help_ = payloads["help"]
    assert help_["description"] == "what I can do for you"
    assert help_["description_localizations"] == {"es-ES": "lo que puedo hacer por ti",
                                                  "es-419": "lo que puedo hacer por ti"}
    assert help_["default_member_permissions"] is None and "contexts" not in help_
    mood, note = payloads["checkin"]["options"]
    assert mood == {"type": 4, "name": "mood", "min_value": 1, "max_value": 5,
                    "description": "/checkin [1-5] [note]",
                    "description_localizations": {"es-ES": "/checkin [1-5] [nota]",
                                                  "es-419": "/checkin [1-5] [nota]"},
                    "required": False}
    assert note["type"] == 3 and note["required"] is False
    moderator = payloads["moderator"]
    assert moderator["default_member_permissions"] == "32"
    add = moderator["options"][0]
    assert add["type"] == 1 and add["name"] == "add" and add["description"] == "/moderator add @user"
    assert add["options"][0]["type"] == 6 and add["options"][0]["required"] is True
    language = payloads["language"]
    assert len(language["description"]) == 100 and language["description_localizations"] is None
    assert language["options"][0]["choices"] == [{"name": "en", "value": "en"},
                                                 {"name": "es", "value": "es"}]
    spanish_first = command_payloads(CATALOGUE[:1], base_language="es", contexts=[CONTEXT_BOT_DM])
    assert spanish_first[0]["description"] == "lo que puedo hacer por ti"
    assert spanish_first[0]["description_localizations"]["en-US"] == "what I can do for you"
    assert spanish_first[0]["contexts"] == [1]


def test_slash_invocations_become_core_arguments() -> None:
    by_name = {info.name: info for info in CATALOGUE}
    data = {"name": "moderator", "options": [{"name": "add", "type": 1, "options": [
        {"name": "user", "type": 6, "value": "11"}]}],
            "resolved": {"users": {"11": {"id": "11", "username": "alice", "global_name": "Alice"}},
                         "members": {"11": {"nick": "Ali"}}}}
    name, args, mentions = slash_arguments(data, by_name)
    assert (name, args) == ("moderator", ("add", "@alice"))
    assert mentions[0].token == "@alice" and mentions[0].user == UserRef("discord", "11")
    assert mentions[0].name == "Ali"
    # Discord may send options in any order; the core's param order wins; rest is split.
    data = {"name": "checkin", "options": [{"name": "note", "type": 3, "value": "rough  day"},
                                           {"name": "mood", "type": 4, "value": 2}]}
    assert slash_arguments(data, by_name)[1] == ("2", "rough", "day")
    data = {"name": "checkins", "options": [{"name": "days", "type": 1, "options": [
        {"name": "days", "type": 3, "value": "mon, wed"}]}]}
    assert slash_arguments(data, by_name)[1] == ("days", "mon,wed")


def test_text_commands_in_direct_messages() -> None:
    known = {"@sam": (UserRef("discord", "42"), "Sam"), "<@42>": (UserRef("discord", "42"), "Sam")}
    parsed = parse_text_command("/Moderator@Kindred add @sam <@42> @nobody", known.get)
    assert parsed is not None
    name, args, mentions = parsed
    assert name == "moderator" and args == ("add", "@sam", "<@42>", "@nobody")
    assert [m.token for m in mentions] == ["@sam", "<@42>"]
    assert parse_text_command("hello /help", known.get) is None
    assert parse_text_command("/", known.get) is None


def test_modal_values_in_order() -> None:
    components = [{"type": 1, "components": [{"type": 4, "custom_id": "welcome", "value": "Hi"}]},
                  {"type": 18, "component": {"type": 4, "custom_id": "rules", "value": ""}}]
    assert form_values(components) == (("welcome", "Hi"), ("rules", ""))
