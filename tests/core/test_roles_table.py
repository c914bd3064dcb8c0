"""Every command against every role: nobody runs a command above their role (issue #8.4)."""

from __future__ import annotations

from bot.core.commands import CommandSpec
from bot.core.roles import Role
from tests.harness import ConsoleBot

SAMPLE_ARGS = {"user": "@sam", "int": "1", "choice": None, "time": "19:00", "days": "mon",
               "rest": "x", "word": "x", "language": "en"}


def invocations(spec: CommandSpec) -> list[tuple[str, Role]]:
    """A well-formed invocation of the command and each subcommand, with the role it needs."""
    targets = [(f"{spec.name} {sub.name}", sub) for sub in spec.subcommands] or [(spec.name, spec)]
    lines = []
    for text, target in targets:
        words = [text]
        for param in target.params:
            if param.optional:
                continue
            words.append(param.choices[0] if param.choices else SAMPLE_ARGS[param.kind] or "x")
        lines.append((" ".join(words), target.role))
    return lines


async def test_no_command_runs_for_a_role_below_its_own(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", ".join sam", ".join lee", "dana: /moderator add @lee",
                          "lee -> bot: hi")
    registry = console_bot.app.dispatcher.commands
    checked = 0
    for spec in registry.all():
        for line, needed in invocations(spec):
            for who, role in (("sam", Role.MEMBER), ("lee", Role.MODERATOR)):
                if role >= needed:
                    continue
                async with console_bot.app.uow() as store:
                    before = await store.audit.for_subject("group:1")
                out = await console_bot.say(f"{who}: /{line}")
                assert "Sorry, only a group" in out, (who, line, out)
                async with console_bot.app.uow() as store:
                    after = await store.audit.for_subject("group:1")
                assert after == before, (who, line)
                checked += 1
    assert checked >= 30
