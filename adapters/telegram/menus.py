"""The command menus Telegram shows: setMyCommands lists per scope and language."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

from bot.core.commands import CommandInfo
from bot.core.roles import Role

MAX_COMMANDS = 100
_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_MIN_DESCRIPTION = 3
_MAX_DESCRIPTION = 256


@dataclass(frozen=True, slots=True)
class Menu:
    """One setMyCommands call: the commands for a scope in a language ("" = everyone else)."""

    scope: BotCommandScope
    language_code: str
    commands: tuple[BotCommand, ...]


def build_menus(catalogue: Sequence[CommandInfo], default_language: str) -> list[Menu]:
    """Menus for every scope and language.

    Members' commands in every group and private chat; every command for the groups'
    administrators (who are facilitators). The default language goes under language code ""
    (users whose language has no list of its own), every other language under its code.

    Args:
        catalogue: The core's commands, translated.
        default_language: The operator's DEFAULT_LANGUAGE.

    Returns:
        The menus, in the order they should be set.
    """
    languages: list[str] = []
    for info in catalogue:
        for language in info.summaries:
            if language not in languages:
                languages.append(language)
    if default_language not in languages:
        languages.insert(0, default_language)
    menus: list[Menu] = []
    for language in languages:
        code = "" if language == default_language else language
        groups = _commands(catalogue, language, default_language, roles=(Role.MEMBER,),
                           places=("any", "group"))
        private = _commands(catalogue, language, default_language, roles=(Role.MEMBER,),
                            places=("any", "direct"))
        admins = _commands(catalogue, language, default_language, roles=tuple(Role),
                           places=("any", "group"))
        menus += [Menu(BotCommandScopeAllGroupChats(), code, groups),
                  Menu(BotCommandScopeAllPrivateChats(), code, private),
                  Menu(BotCommandScopeAllChatAdministrators(), code, admins)]
    return menus


def _commands(catalogue: Sequence[CommandInfo], language: str, fallback: str, *,
              roles: tuple[Role, ...], places: tuple[str, ...]) -> tuple[BotCommand, ...]:
    commands: list[BotCommand] = []
    for info in catalogue:
        if info.role not in roles or info.where not in places or not _NAME.match(info.name):
            continue
        commands.append(BotCommand(info.name, _description(info, language, fallback)))
    return tuple(commands[:MAX_COMMANDS])


def _description(info: CommandInfo, language: str, fallback: str) -> str:
    any_summary = next((s for s in info.summaries.values() if s), "")
    text = (info.summaries.get(language) or info.summaries.get(fallback) or any_summary
            or info.usages.get(language) or info.usages.get(fallback) or f"/{info.name}")
    text = " ".join(text.split())
    if len(text) < _MIN_DESCRIPTION:
        text = f"/{info.name} {text}".strip().ljust(_MIN_DESCRIPTION, ".")
    if len(text) > _MAX_DESCRIPTION:
        text = text[: _MAX_DESCRIPTION - 1].rstrip() + "…"
    return text
