"""Hostile input: arbitrary console lines and command arguments never crash the bot."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.console.script import parse_line
from bot.core.commands import CommandSpec, Param, UsageError, parse_args
from bot.core.roles import Role
from tests.harness import ConsoleBot

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@given(texts)
def test_any_console_line_parses(line: str) -> None:
    parsed = parse_line(line)
    assert parsed.kind in {"say", "private", "join", "leave", "admin", "press", "wait", "attach",
                           "help", "quit", "blank", "error"}


SPEC = CommandSpec(name="x", role=Role.MEMBER, usage="/x", summary="", params=(
    Param(name="n", kind="int", optional=True, minimum=1, maximum=5),
    Param(name="note", kind="rest", optional=True)))


@given(st.lists(texts, max_size=8))
def test_parse_args_either_parses_or_raises_usage(args: list[str]) -> None:
    try:
        parsed = parse_args(SPEC, args, {})
    except UsageError:
        return
    n = parsed.get("n")
    assert n is None or 1 <= int(str(n)) <= 5


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["setup", "group", "help", "rules", "moderator", "facilitator",
                                "alerts", "oncall", "nope", "GROUP"]),
       args=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                             min_size=1, max_size=40).filter(lambda s: s.strip() == s and " " not in s),
                     max_size=5))
async def test_any_command_gets_an_answer(console_bot: ConsoleBot, command: str,
                                          args: list[str]) -> None:
    out = await console_bot.say(f"dana: /{command} {' '.join(args)}".rstrip())
    assert "Kindred:" in out
    assert "something went wrong" not in out
