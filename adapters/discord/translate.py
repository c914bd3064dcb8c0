"""Pure translation between Discord's shapes and the core's: slash command definitions, events.

Nothing here performs I/O. Functions take discord.py objects (or the raw JSON Discord sent) and
return core events or JSON payloads, so the rules are in one place and testable on their own.

Decision: a Discord server (guild) is one support group, key ``discord:<guild id>``; every text
channel and thread in it belongs to that group, and a chat is a channel (threads are channels).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import discord

from bot.core.commands import CommandInfo, Param
from bot.core.events import (
    Attachment,
    ButtonPressed,
    CommandInvoked,
    EventMeta,
    FormSubmitted,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    Mention,
    MessageReceived,
)
from bot.core.identity import ChatRef, MessageRef, UserRef, group_key
from bot.core.roles import Role

PLATFORM = "discord"
MANAGE_GUILD = 1 << 5
CONTEXT_GUILD = 0
CONTEXT_BOT_DM = 1
INSTALL_GUILD = 0
OPTION_SUB_COMMAND = 1
OPTION_SUB_COMMAND_GROUP = 2
OPTION_STRING = 3
OPTION_INTEGER = 4
OPTION_USER = 6
MAX_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
LOCALES: dict[str, tuple[str, ...]] = {"en": ("en-US", "en-GB"), "es": ("es-ES", "es-419")}
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
_USER_MENTION = re.compile(r"^<@!?(\d{1,20})>$")
_TEXT_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)

UserLookup = Callable[[str], tuple[UserRef, str] | None]
"""Resolve a typed ``@name`` or ``<@id>`` to a person and their display name, or None."""


# -- slash command definitions -----------------------------------------------------------------
def command_payloads(catalogue: Iterable[CommandInfo], *, base_language: str,
                     contexts: Sequence[int] | None) -> list[dict[str, Any]]:
    """The JSON for Discord's bulk command overwrite: one slash command per core command.

    Guarantees:
        * Subcommands become SUB_COMMAND options; params become USER, INTEGER (with min/max) or
          STRING (with choices) options, required unless optional.
        * Descriptions are 1-100 characters, in `base_language`, with the other languages as
          `description_localizations` (Spanish as es-ES and es-419).
        * Facilitator commands carry default_member_permissions = Manage Server, so Discord
          shows them to server managers only; the core checks roles again on every use.
        * `contexts` (where a global command is offered: 0 servers, 1 DMs with the bot) is left
          out when None, as guild commands take none.
    """
    payloads = []
    for info in catalogue:
        if not _COMMAND_NAME.match(info.name) or info.name != info.name.lower():
            continue
        payload: dict[str, Any] = {
            "type": 1,
            "name": info.name,
            **_descriptions(info, base_language),
            "options": _options(info, base_language),
            "default_member_permissions": str(MANAGE_GUILD) if info.role >= Role.FACILITATOR
            else None,
            "nsfw": False,
        }
        if contexts is not None:
            payload["contexts"] = list(contexts)
            payload["integration_types"] = [INSTALL_GUILD]
        payloads.append(payload)
    return payloads


def _options(info: CommandInfo, base_language: str) -> list[dict[str, Any]]:
    if info.subcommands:
        subs = []
        for sub in info.subcommands[:MAX_OPTIONS]:
            if not _COMMAND_NAME.match(sub.name):
                continue
            subs.append({"type": OPTION_SUB_COMMAND, "name": sub.name.lower(),
                         **_descriptions(sub, base_language),
                         "options": _options(sub, base_language)})
        return subs
    options: list[dict[str, Any]] = []
    optional_seen = False
    for param in info.params[:MAX_OPTIONS]:
        # Discord refuses a required option after an optional one; the core re-checks anyway.
        optional_seen = optional_seen or param.optional
        options.append({**_option_type(param), "name": param.name.lower(),
                        **_descriptions(info, base_language, usage_only=True),
                        "required": not optional_seen})
    return options


def _option_type(param: Param) -> dict[str, Any]:
    if param.kind == "user":
        return {"type": OPTION_USER}
    if param.kind == "int":
        option: dict[str, Any] = {"type": OPTION_INTEGER}
        if param.minimum is not None:
            option["min_value"] = param.minimum
        if param.maximum is not None:
            option["max_value"] = param.maximum
        return option
    if param.kind == "choice" and 0 < len(param.choices) <= MAX_CHOICES:
        return {"type": OPTION_STRING,
                "choices": [{"name": choice, "value": choice} for choice in param.choices]}
    return {"type": OPTION_STRING}


def _descriptions(info: CommandInfo, base_language: str, *,
                  usage_only: bool = False) -> dict[str, Any]:
    def text(lang: str) -> str:
        summary = "" if usage_only else info.summaries.get(lang, "")
        chosen = summary or info.usages.get(lang, "") or info.name
        return _clip(chosen)

    base = text(base_language) if base_language in info.usages else text("en")
    localized: dict[str, str] = {}
    for lang, locales in LOCALES.items():
        if lang == base_language or lang not in info.usages:
            continue
        for locale in locales:
            localized[locale] = text(lang)
    return {"description": base, "description_localizations": localized or None}


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return "-"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


# -- slash command invocations -----------------------------------------------------------------
def slash_arguments(data: Mapping[str, Any], catalogue: Mapping[str, CommandInfo]
                    ) -> tuple[str, tuple[str, ...], tuple[Mention, ...]]:
    """Turn an APPLICATION_COMMAND interaction's `data` into the core's name, args and mentions.

    Args are ``(subcommand, *tokens)``: a USER option becomes the token ``@<username>`` with a
    Mention carrying the id and display name; a ``rest`` text option is split into words; other
    options are one token each, in the order the core declares its params.
    """
    name = str(data.get("name", "")).lower()
    path: list[str] = []
    options: Sequence[Mapping[str, Any]] = data.get("options") or []
    while options and int(options[0].get("type", 0)) in (OPTION_SUB_COMMAND,
                                                         OPTION_SUB_COMMAND_GROUP):
        path.append(str(options[0]["name"]).lower())
        options = options[0].get("options") or []
    values = {str(option["name"]): option.get("value") for option in options}
    info = catalogue.get(name)
    for part in path:
        info = next((s for s in info.subcommands if s.name == part), None) if info else None
    params = info.params if info else tuple(Param(name=key) for key in values)
    resolved: Mapping[str, Any] = data.get("resolved") or {}
    args: list[str] = list(path)
    mentions: list[Mention] = []
    for param in params:
        value = values.get(param.name)
        if value is None or value == "":
            continue
        if param.kind == "user":
            mention = _resolved_user(str(value), resolved)
            args.append(mention.token)
            mentions.append(mention)
        elif param.kind == "rest":
            args.extend(str(value).split())
        elif param.kind == "days":
            args.append("".join(str(value).split()))
        else:
            args.append(str(value).strip())
    return name, tuple(args), tuple(mentions)


def _resolved_user(user_id: str, resolved: Mapping[str, Any]) -> Mention:
    user = (resolved.get("users") or {}).get(user_id) or {}
    member = (resolved.get("members") or {}).get(user_id) or {}
    username = str(user.get("username") or user_id)
    display = str(member.get("nick") or user.get("global_name") or username)
    return Mention(token=f"@{username}", user=UserRef(PLATFORM, user_id), name=display)


def parse_text_command(text: str, lookup: UserLookup) -> tuple[str, tuple[str, ...],
                                                                tuple[Mention, ...]] | None:
    """Parse ``/name args`` typed in a DM (``/name@Kindred`` too); None when it is not a command.

    ``<@id>`` and ``@username`` arguments that `lookup` knows become Mentions.
    """
    match = _TEXT_COMMAND.match(text.strip())
    if match is None:
        return None
    args = tuple((match.group(2) or "").split())
    mentions = []
    for token in dict.fromkeys(args):
        if not (token.startswith("@") or _USER_MENTION.match(token)) or len(token) < 2:
            continue
        found = lookup(token)
        if found is not None:
            mentions.append(Mention(token=token, user=found[0], name=found[1]))
    return match.group(1).lower(), args, tuple(mentions)


def form_values(components: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """Text-input values of a MODAL_SUBMIT, by custom id, in the modal's order."""
    values: list[tuple[str, str]] = []

    def walk(items: Sequence[Mapping[str, Any]]) -> None:
        for item in items:
            if item.get("custom_id") is not None and "value" in item:
                values.append((str(item["custom_id"]), str(item.get("value") or "")))
            walk(item.get("components") or [])
            child = item.get("component")
            if isinstance(child, Mapping):
                walk([child])

    walk(components)
    return tuple(values)


# -- events ------------------------------------------------------------------------------------
def is_facilitator(member: discord.Member, role_name: str) -> bool:
    """Manage Server (or Administrator, or owning the server), or the facilitator role by name."""
    permissions = member.guild_permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    wanted = role_name.casefold()
    return any(role.name.casefold() == wanted for role in member.roles)


def chat_of(channel_id: int, guild_id: int | None) -> ChatRef:
    """The core's chat for a channel, thread or DM channel."""
    return ChatRef(PLATFORM, str(channel_id), "group" if guild_id is not None else "direct")


def group_of(guild_id: int | None) -> str | None:
    """The support group of a server; None in a DM."""
    return group_key(PLATFORM, str(guild_id)) if guild_id is not None else None


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """The link that opens a message in Discord."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def message_event(message: discord.Message, *, member: discord.Member | None,
                  facilitator_role: str, late: bool = False, edited: bool = False,
                  lookup: UserLookup | None = None,
                  attachment: Attachment | None = None) -> MessageReceived | CommandInvoked | None:
    """The core event for a member's message, or None when there is nothing to hand over.

    Bots (Kindred included), webhooks, system messages and messages without text are skipped.
    In a DM, ``/name args`` is a command (Discord only offers slash commands in servers reliably
    when synced there); in a server, text starting with "/" is just a message.
    """
    author = message.author
    if author.bot or message.webhook_id is not None or author.system:
        return None
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return None
    text = message.content or ""
    guild_id = message.guild.id if message.guild is not None else None
    chat = chat_of(message.channel.id, guild_id)
    if edited and message.edited_at is not None:
        event_id = f"discord:msg:{message.id}:edit:{_millis(message.edited_at)}"
    else:
        event_id = f"discord:msg:{message.id}"
    meta = EventMeta(
        event_id=event_id,
        occurred_at=(message.edited_at if edited and message.edited_at else message.created_at
                     ).astimezone(UTC),
        chat=chat,
        sender=UserRef(PLATFORM, str(author.id)),
        sender_name=(member.display_name if member is not None else author.display_name),
        group=group_of(guild_id),
        group_title=message.guild.name if message.guild is not None else "",
        staff_only=staff_only(message.channel),
        sender_is_admin=member is not None and is_facilitator(member, facilitator_role),
        late=late,
    )
    ref = MessageRef(chat, str(message.id), link=jump_url(guild_id, message.channel.id, message.id))
    if guild_id is None and not edited and not late:
        command = parse_text_command(text, lookup or (lambda _token: None))
        if command is not None:
            name, args, mentions = command
            return CommandInvoked(meta=meta, name=name, args=args, message=ref, mentions=mentions,
                                  attachment=attachment)
    if not text.strip():
        return None
    return MessageReceived(meta=meta, message=ref, text=text, edited=edited)


def staff_only(channel: object) -> bool:
    """Whether ordinary members cannot see this server channel (a private staff channel)."""
    if isinstance(channel, discord.Thread):
        channel = channel.parent
    if not isinstance(channel, discord.abc.GuildChannel):
        return False
    return not channel.permissions_for(channel.guild.default_role).view_channel


def interaction_event(interaction: discord.Interaction[Any], *, facilitator_role: str,
                      catalogue: Mapping[str, CommandInfo]) -> InboundEvent | None:
    """The core event for a slash command, a button press or a modal submit (None otherwise).

    The interaction token handed to the core is the interaction id; the adapter keeps the
    interaction so private replies can answer it ephemerally.
    """
    data: Mapping[str, Any] = interaction.data or {}
    user = interaction.user
    guild_id = interaction.guild_id
    channel_id = interaction.channel_id
    if channel_id is None:
        return None
    admin = False
    if guild_id is not None:
        permissions = interaction.permissions
        admin = permissions.manage_guild or permissions.administrator
        if not admin and isinstance(user, discord.Member):
            admin = is_facilitator(user, facilitator_role)
    token = str(interaction.id)
    chat = chat_of(channel_id, guild_id)
    meta = EventMeta(
        event_id=f"discord:int:{interaction.id}",
        occurred_at=interaction.created_at.astimezone(UTC),
        chat=chat,
        sender=UserRef(PLATFORM, str(user.id)),
        sender_name=user.display_name,
        group=group_of(guild_id),
        group_title=interaction.guild.name if interaction.guild is not None else "",
        staff_only=staff_only(interaction.channel),
        sender_is_admin=admin,
        sender_language=str(interaction.locale.value) if interaction.locale else None,
    )
    kind = interaction.type
    if kind is discord.InteractionType.application_command:
        if int(data.get("type", 1)) != 1:
            return None  # user and message context-menu commands are not ours
        name, args, mentions = slash_arguments(data, catalogue)
        return CommandInvoked(meta=meta, name=name, args=args, mentions=mentions,
                              interaction=token)
    if kind is discord.InteractionType.component:
        message = interaction.message
        ref = None
        if message is not None:
            ref = MessageRef(chat, str(message.id), link=jump_url(guild_id, channel_id, message.id))
        return ButtonPressed(meta=meta, payload=str(data.get("custom_id", "")), message=ref,
                             interaction=token)
    if kind is discord.InteractionType.modal_submit:
        return FormSubmitted(meta=meta, form=str(data.get("custom_id", "")),
                             values=form_values(data.get("components") or []),
                             interaction=token)
    return None


def member_joined(member: discord.Member, home: ChatRef, *, facilitator_role: str) -> MemberJoined:
    """A member joined a server (the group)."""
    joined = member.joined_at or datetime.now(UTC)
    return MemberJoined(meta=EventMeta(
        event_id=f"discord:join:{member.guild.id}:{member.id}:{_millis(joined)}",
        occurred_at=joined.astimezone(UTC),
        chat=home,
        sender=UserRef(PLATFORM, str(member.id)),
        sender_name=member.display_name,
        group=group_of(member.guild.id),
        sender_is_admin=is_facilitator(member, facilitator_role),
    ))


def member_left(guild_id: int, user: discord.abc.User, home: ChatRef, *,
                now: datetime) -> MemberLeft:
    """A member left or was removed from a server."""
    return MemberLeft(meta=EventMeta(
        event_id=f"discord:leave:{guild_id}:{user.id}:{_millis(now)}",
        occurred_at=now,
        chat=home,
        sender=UserRef(PLATFORM, str(user.id)),
        sender_name=user.display_name,
        group=group_of(guild_id),
    ))
