"""The command registry: each command declares its arguments and the role it needs.

Parsing is declarative so every command answers bad arguments the same way, with its one-line
usage, and `/help` can list exactly what the caller may use.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import TYPE_CHECKING, Literal

from bot.core.roles import Role

if TYPE_CHECKING:
    from bot.core.actions import Action
    from bot.core.context import CommandContext

ParamKind = Literal["int", "word", "rest", "choice", "time", "days", "user", "language"]
Where = Literal["any", "group", "direct"]

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPANISH_DAYS = {"lun": 0, "mar": 1, "mie": 2, "mié": 2, "jue": 3, "vie": 4, "sab": 5, "sáb": 5,
                 "dom": 6}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")
MAX_ARGUMENT_CHARS = 2000


class UsageError(Exception):
    """The arguments do not fit the command; the caller gets the usage line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    """One argument of a command."""

    name: str
    kind: ParamKind = "word"
    optional: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


CommandHandler = Callable[["CommandContext"], Awaitable[Sequence["Action"]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandSpec:
    """A command (or a subcommand of one): its syntax, its role, and what runs it.

    `usage` is the syntax line shown on bad arguments (a message id, so its words translate);
    `summary` is the one-line description `/help` shows.
    """

    name: str
    role: Role
    usage: str
    summary: str
    params: tuple[Param, ...] = ()
    subcommands: tuple[CommandSpec, ...] = ()
    where: Where = "any"
    handler: CommandHandler | None = None
    hidden: bool = False

    def sub(self, name: str) -> CommandSpec | None:
        """The subcommand called `name`, if any."""
        return next((s for s in self.subcommands if s.name == name), None)


@dataclass(frozen=True, slots=True)
class ParsedArgs:
    """Arguments converted to their declared kinds."""

    values: dict[str, object] = field(default_factory=dict)

    def get(self, name: str, default: object = None) -> object:
        """The value of `name`, or `default` when it was optional and left out."""
        return self.values.get(name, default)

    def text(self, name: str, default: str = "") -> str:
        """A text argument."""
        value = self.values.get(name, default)
        return value if isinstance(value, str) else default

    def integer(self, name: str) -> int | None:
        """An integer argument, or None."""
        value = self.values.get(name)
        return value if isinstance(value, int) else None


def parse_days(raw: str) -> tuple[int, ...]:
    """Parse "mon,tue,fri", "weekdays", "daily", "lun,mar" into sorted weekday numbers (Mon = 0)."""
    lowered = raw.lower().replace(" ", "")
    if lowered in {"daily", "every", "all", "everyday", "todos", "diario"}:
        return tuple(range(7))
    if lowered in {"weekdays", "laborables"}:
        return tuple(range(5))
    if lowered in {"weekends", "weekend", "findes"}:
        return (5, 6)
    days: set[int] = set()
    for part in filter(None, lowered.split(",")):
        token = part[:3]
        if token in DAY_NAMES:
            days.add(DAY_NAMES.index(token))
        elif part[:3] in _SPANISH_DAYS or part in _SPANISH_DAYS:
            days.add(_SPANISH_DAYS.get(part, _SPANISH_DAYS.get(part[:3], 0)))
        else:
            raise UsageError(part)
    if not days:
        raise UsageError(raw)
    return tuple(sorted(days))


def parse_time(raw: str) -> time:
    """Parse "19:30" (also "7.30", "19h30") into a time."""
    match = _TIME.match(raw.strip().lower())
    if match is None:
        raise UsageError(raw)
    return time(int(match.group(1)), int(match.group(2)))


def parse_args(spec: CommandSpec, args: Sequence[str], mentions: dict[str, object]) -> ParsedArgs:
    """Convert `args` to the kinds `spec` declares, or raise UsageError."""
    values: dict[str, object] = {}
    remaining = list(args)
    for index, param in enumerate(spec.params):
        if param.kind == "rest":
            rest = " ".join(remaining).strip()
            remaining = []
            if not rest:
                if param.optional:
                    continue
                raise UsageError(param.name)
            if len(rest) > MAX_ARGUMENT_CHARS:
                raise UsageError(param.name)
            values[param.name] = rest
            continue
        if not remaining:
            if param.optional:
                continue
            raise UsageError(param.name)
        raw = remaining[0]
        try:
            value = _convert(param, raw, mentions)
        except UsageError:
            later_required = any(not p.optional for p in spec.params[index + 1 :])
            if param.optional and not later_required:
                continue  # e.g. "/checkin rough day": no mood given, the words are the note
            raise
        remaining.pop(0)
        values[param.name] = value
    if remaining:
        raise UsageError("too many arguments")
    return ParsedArgs(values)


def _convert(param: Param, raw: str, mentions: dict[str, object]) -> object:
    if param.kind == "int":
        if not re.fullmatch(r"[+-]?\d{1,9}", raw):
            raise UsageError(param.name)
        number = int(raw)
        if (param.minimum is not None and number < param.minimum) or (
            param.maximum is not None and number > param.maximum
        ):
            raise UsageError(param.name)
        return number
    if param.kind == "choice":
        lowered = raw.lower()
        if lowered not in param.choices:
            raise UsageError(param.name)
        return lowered
    if param.kind == "time":
        return parse_time(raw)
    if param.kind == "days":
        return parse_days(raw)
    if param.kind == "user":
        if raw in mentions:
            return mentions[raw]
        raise UsageError(param.name)
    if len(raw) > MAX_ARGUMENT_CHARS:
        raise UsageError(param.name)
    return raw


class CommandRegistry:
    """Every command, by name; capabilities register theirs at bootstrap."""

    def __init__(self) -> None:
        self._commands: dict[str, CommandSpec] = {}

    def register(self, spec: CommandSpec) -> None:
        """Add a command; a second command with the same name is a programming error."""
        if spec.name in self._commands:
            raise ValueError(f"command /{spec.name} registered twice")
        self._commands[spec.name] = spec

    def get(self, name: str) -> CommandSpec | None:
        """The command called `name`."""
        return self._commands.get(name)

    def all(self) -> list[CommandSpec]:
        """Every command, in registration order."""
        return list(self._commands.values())

    def visible_to(self, role: Role) -> list[CommandSpec]:
        """The commands (and subcommands) a person with `role` may use, for /help."""
        return [s for s in self._commands.values() if not s.hidden and s.role <= role]


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandInfo:
    """What an adapter needs to register a command with its platform (menus, slash commands).

    `summaries` and `usages` map a language code to the translated text.
    """

    name: str
    role: Role
    where: Where
    summaries: dict[str, str]
    usages: dict[str, str]
    params: tuple[Param, ...] = ()
    subcommands: tuple[CommandInfo, ...] = ()


def describe_commands(registry: CommandRegistry, translate: Callable[[str, str], str],
                      languages: Sequence[str]) -> tuple[CommandInfo, ...]:
    """Every visible command, translated into each language, for platform registration."""

    def info(spec: CommandSpec) -> CommandInfo:
        return CommandInfo(
            name=spec.name, role=spec.role, where=spec.where,
            summaries={lang: translate(lang, spec.summary) if spec.summary else ""
                       for lang in languages},
            usages={lang: translate(lang, spec.usage) for lang in languages},
            params=spec.params, subcommands=tuple(info(s) for s in spec.subcommands))

    return tuple(info(spec) for spec in registry.all() if not spec.hidden)
