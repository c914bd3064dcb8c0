"""Hostile input: arbitrary console lines and command arguments never crash the bot."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.console.script import parse_line
from bot.core.commands import CommandSpec, Param, UsageError, parse_args
from bot.core.events import ButtonPressed, EventMeta
from bot.core.identity import ChatRef, UserRef
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


FORGED_PAYLOADS = ["onb:agree:99999999999999999999", "crisis:false:100000000000000000000",
                   "crisis:resolve:3²²", "onb:at:5192", "onb:agree:①", "ci:m:4294967296:3",
                   "crisis:ack:2147483648", "x" * 500]


async def test_forged_button_payloads_are_answered_as_stale_and_log_no_error(
        console_bot: ConsoleBot, caplog: pytest.LogCaptureFixture) -> None:
    """Payloads the hostile-input benchmark found failing deep in parsing or SQL."""
    await console_bot.say("dana: /setup", ".join sam")
    chat = ChatRef("console", "group", "group")
    for n, payload in enumerate(FORGED_PAYLOADS):
        for sender, where in (("sam", chat), ("sam", ChatRef("console", "sam", "direct"))):
            event = ButtonPressed(meta=EventMeta(
                event_id=f"forged:{n}:{where.kind}", occurred_at=console_bot.clock.now(),
                chat=where, sender=UserRef("console", sender), sender_name="Sam",
                group="console:group" if where.kind == "group" else None), payload=payload)
            with caplog.at_level(logging.WARNING):
                await console_bot.app.runtime.handle(event)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await console_bot.app.settle()
    out = console_bot.new_output()
    assert "no longer active" in out and "something went wrong" not in out
