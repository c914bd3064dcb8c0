"""Fake Discord (REST API v10 + JSON gateway) on 127.0.0.1 that the real discord.py 2.x logs in to.

The fake keeps a small world (users, guilds, roles, members, channels, threads, DMs, message
history, application commands), speaks the gateway protocol (HELLO, IDENTIFY/READY, GUILD_CREATE,
RESUME, heartbeats, member chunking, close codes 4004/4014) and the REST routes discord.py uses,
with Discord's payload shapes, permission checks, validation errors, rate limits and faults
(error statuses, slow or never-answered requests, dropped REST and gateway connections, an
unreachable API).
Tests drive users through async helpers (``user_says``, ``user_runs_slash``, ``user_clicks``...)
and assert on what the bot did through the recorded ``sent``, ``edits``, ``interaction_responses``
and ``requests`` lists, or wait for them with ``wait_for``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import yarl
from aiohttp import BodyPartReader, WSMsgType, web

JSON = dict[str, Any]
T = TypeVar("T")

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
CDN_PREFIX = "/attachments"
DISCORD_EPOCH_MS = 1420070400000
_ABANDON_POLL_S = 0.01  # how often a held request looks whether its client gave up


class Intents:
    """Gateway intent bits (the ones the fake looks at)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


class Perm:
    """Permission bits (the ones the fake checks or that tests commonly need)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    MODERATE_MEMBERS = 1 << 40
    ALL = (1 << 51) - 1


DEFAULT_EVERYONE_PERMISSIONS = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.CREATE_PRIVATE_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = (
    DEFAULT_EVERYONE_PERMISSIONS | Perm.MANAGE_ROLES | Perm.MANAGE_MESSAGES | Perm.MANAGE_THREADS
)

# Application flags Discord reports for an unverified bot whose portal toggles are on.
APP_FLAG_PRESENCE_LIMITED = 1 << 13
APP_FLAG_GUILD_MEMBERS_LIMITED = 1 << 15
APP_FLAG_MESSAGE_CONTENT_LIMITED = 1 << 19
APP_FLAG_COMMAND_BADGE = 1 << 23

MSG_FLAG_EPHEMERAL = 1 << 6
MSG_FLAG_LOADING = 1 << 7
MSG_FLAG_SUPPRESS_EMBEDS = 1 << 2
MSG_FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
MSG_FLAG_COMPONENTS_V2 = 1 << 15

CHANNEL_TEXT = 0
CHANNEL_DM = 1
CHANNEL_VOICE = 2
CHANNEL_CATEGORY = 4
CHANNEL_NEWS = 5
CHANNEL_NEWS_THREAD = 10
CHANNEL_PUBLIC_THREAD = 11
CHANNEL_PRIVATE_THREAD = 12
CHANNEL_FORUM = 15
THREAD_TYPES = (CHANNEL_NEWS_THREAD, CHANNEL_PUBLIC_THREAD, CHANNEL_PRIVATE_THREAD)

OPT_SUB_COMMAND = 1
OPT_SUB_COMMAND_GROUP = 2
OPT_STRING = 3
OPT_INTEGER = 4
OPT_BOOLEAN = 5
OPT_USER = 6
OPT_CHANNEL = 7
OPT_ROLE = 8
OPT_MENTIONABLE = 9
OPT_NUMBER = 10
OPT_ATTACHMENT = 11

_COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
_USER_MENTION_RE = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION_RE = re.compile(r"<@&(\d+)>")
_CDN_RE = re.compile(rf"^{CDN_PREFIX}/(\d+)/[^/]+$")


class FakeDiscordError(Exception):
    """A test asked a fake user to do something Discord's own client would not let them do."""


class _HTTPError(Exception):
    """A REST handler's Discord error answer."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors


def _form_error(path: str, code: str, message: str) -> _HTTPError:
    """Build Discord's 50035 Invalid Form Body error for one field path like ``embeds.0.title``."""
    errors: JSON = {}
    node = errors
    for part in path.split("."):
        node = node.setdefault(part, {})
    node["_errors"] = [{"code": code, "message": message}]
    return _HTTPError(400, 50035, "Invalid Form Body", errors)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> datetime:
    return datetime.now(UTC)


def snowflake_time(snowflake: int) -> datetime:
    """Return the creation time encoded in a Discord snowflake.

    Args:
        snowflake: The id.

    Returns:
        An aware UTC datetime.
    """
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


@dataclass
class Attachment:
    """A file the bot uploaded or a fake user attached."""

    id: int
    filename: str
    content_type: str | None
    data: bytes
    url: str

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return len(self.data)

    def payload(self) -> JSON:
        """Discord's attachment object for this file."""
        body: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type:
            body["content_type"] = self.content_type
        return body


@dataclass
class SentMessage:
    """One message the bot made visible (or ephemerally visible) to users.

    ``via`` is ``"channel"`` (POST to a guild channel or thread), ``"dm"`` (POST to a DM channel),
    ``"interaction"`` (an interaction callback of type 4) or ``"followup"`` (a webhook follow-up,
    or the edit that fills a deferred "thinking" response).
    """

    channel_id: int
    message_id: int
    content: str | None
    embeds: list[JSON]
    components: list[JSON]
    ephemeral: bool
    reference: JSON | None
    via: str
    guild_id: int | None = None
    recipient_id: int | None = None
    interaction_id: int | None = None
    flags: int = 0
    attachments: list[Attachment] = field(default_factory=list)
    payload: JSON = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Content plus embed titles, descriptions and fields, for loose assertions."""
        parts = [self.content or ""]
        for embed in self.embeds:
            parts.extend(str(embed.get(k) or "") for k in ("title", "description"))
            for fld in embed.get("fields") or []:
                parts.extend((str(fld.get("name", "")), str(fld.get("value", ""))))
            footer = embed.get("footer") or {}
            parts.append(str(footer.get("text") or ""))
        return "\n".join(p for p in parts if p)

    def custom_ids(self) -> list[str]:
        """Every component custom_id in the message, in order."""
        return _collect_custom_ids(self.components)

    def buttons(self) -> list[JSON]:
        """Every button component in the message, in order."""
        return [c for c in _walk_components(self.components) if c.get("type") == 2]


@dataclass
class EditedMessage:
    """One edit the bot made to an existing message (``via`` as in :class:`SentMessage`)."""

    channel_id: int
    message_id: int
    content: str | None
    embeds: list[JSON] | None
    components: list[JSON] | None
    via: str
    ephemeral: bool
    interaction_id: int | None = None
    payload: JSON = field(default_factory=dict)


@dataclass
class InteractionResponse:
    """One interaction callback the bot made (type 1, 4, 5, 6, 7, 8 or 9)."""

    interaction_id: int
    token: str
    type: int
    data: JSON | None
    interaction: JSON

    @property
    def ephemeral(self) -> bool:
        """Whether the callback asked for an ephemeral message."""
        return bool((self.data or {}).get("flags", 0) & MSG_FLAG_EPHEMERAL)


@dataclass
class RestCall:
    """One REST request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int = 0  # stays 0 when the request was never processed (dropped, or given up on)
    answer_lost: bool = False
    """The request was processed (``status``) but its answer never reached the client."""


@dataclass
class _Member:
    user_id: int
    roles: list[int]
    joined_at: str
    nick: str | None = None
    pending: bool = False


@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    joined_at: str
    roles: dict[int, JSON] = field(default_factory=dict)
    members: dict[int, _Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    bot_role_id: int = 0


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: _Session | None = None
    closed_by_server: bool = False
    transport: asyncio.Transport | None = None


@dataclass(eq=False)
class _Session:
    id: str
    intents: int
    identify: JSON
    conn: _Conn | None = None
    seq: int = 0
    log: list[JSON] = field(default_factory=list)
    alive: bool = True
    ready: bool = False


@dataclass
class _Interaction:
    id: int
    token: str
    payload: JSON
    created: float
    responded: int | None = None
    original_message_id: int | None = None
    component_message_id: int | None = None
    loading: bool = False
    defer_ephemeral: bool = False
    message_ids: set[int] = field(default_factory=set)


@dataclass
class _Fault:
    substring: str
    remaining: int
    status: int
    retry_after: float = 0.0
    global_: bool = False
    code: int = 0
    message: str | None = None


@dataclass
class _NetFault:
    """A network fault for REST requests whose ``"METHOD /path"`` contains ``substring``."""

    kind: str  # "delay" | "drop" | "hold"
    substring: str
    remaining: int | None  # None: every matching request until ``until``
    until: float = math.inf
    seconds: float = 0.0
    after_processing: bool = False
    process_abandoned: bool = True


@dataclass
class _Held:
    """A request kept unanswered until ``release_held`` (True: answer it) or the client gives up."""

    key: str
    released: asyncio.Future[bool]


@dataclass
class _RateRule:
    substring: str
    limit: int
    per: float
    bucket: str
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)


@dataclass
class _Req:
    request: web.Request
    match: re.Match[str]
    json: Any
    files: list[tuple[str, str | None, bytes]]
    query: Mapping[str, str]

    def sf(self, name: str) -> int:
        """A snowflake path parameter."""
        return int(self.match.group(name))

    def arg(self, name: str) -> str:
        """A string path parameter."""
        return self.match.group(name)


def _walk_components(components: Sequence[JSON]) -> Iterator[JSON]:
    for comp in components:
        yield comp
        for key in ("components",):
            yield from _walk_components(comp.get(key) or [])
        for key in ("component", "accessory"):
            child = comp.get(key)
            if isinstance(child, dict):
                yield from _walk_components([child])


def _collect_custom_ids(components: Sequence[JSON]) -> list[str]:
    return [str(c["custom_id"]) for c in _walk_components(components) if c.get("custom_id")]


class FakeDiscord:
    """A fake Discord API and gateway that the real discord.py client can log in to.

    Use it as an async context manager (or call :meth:`start` / :meth:`stop`), build the world
    with ``add_*``, point discord.py at it with :meth:`patch_discord`, then drive users with the
    async ``user_*`` helpers and assert on :attr:`sent`, :attr:`edits`,
    :attr:`interaction_responses` and :attr:`requests`.

    Args:
        token: The bot token the fake accepts.
        bot_id: The bot user's id.
        bot_name: The bot user's username.
        application_id: The application id (defaults to ``bot_id``, as on modern Discord).
        heartbeat_interval_ms: Sent in HELLO.
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_id: int = 1_100_000_000_000_000_001,
        bot_name: str = "Kindred",
        application_id: int | None = None,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.application_id = application_id if application_id is not None else bot_id
        self.heartbeat_interval_ms = heartbeat_interval_ms
        # Discord answers "Unknown interaction" when the first callback comes later than this.
        self.interaction_ack_deadline = 3.0
        # Real Discord hides commands a member lacks default_member_permissions for.
        self.enforce_command_permissions = True

        self.port = 0
        self._runner: web.AppRunner | None = None
        self._conns: set[_Conn] = set()
        self._sessions: dict[str, _Session] = {}
        self._changed = asyncio.Event()

        self._last_snowflake = 0
        self._backdated = 0
        self._users: dict[int, JSON] = {}
        self._guilds: dict[int, _Guild] = {}
        self._channels: dict[int, JSON] = {}
        self._history: dict[int, dict[int, JSON]] = {}
        self._messages: dict[int, JSON] = {}
        self._ephemeral: set[int] = set()
        self._dm_by_user: dict[int, int] = {}
        self._dms_closed: set[int] = set()
        self._attachments: dict[int, Attachment] = {}
        self._interactions: dict[str, _Interaction] = {}
        self._allowed = {"message_content": True, "members": True, "presences": True}

        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}

        self.sent: list[SentMessage] = []
        self.edits: list[EditedMessage] = []
        self.deleted: list[tuple[int, int]] = []
        self.reactions: list[tuple[int, int, str]] = []
        self.interaction_responses: list[InteractionResponse] = []
        self.modals: list[InteractionResponse] = []
        self.requests: list[RestCall] = []
        self.identify_payloads: list[JSON] = []
        self.resumes = 0
        self.rate_limited_count = 0
        self.faults_served = 0
        self._faults: list[_Fault] = []
        self._net_faults: list[_NetFault] = []
        self._held: list[_Held] = []
        self._offline = False
        self._rate_rules: list[_RateRule] = []

        self.add_user(bot_id, bot_name, bot=True)
        self._routes: list[tuple[str, re.Pattern[str], Callable[[_Req], Any], bool]] = []
        self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the HTTP and websocket server on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        site = web.SockSite(self._runner, sock)
        await site.start()

    async def stop(self) -> None:
        """Close every gateway connection (1001) and stop the server."""
        self.release_held()
        for conn in list(self._conns):
            conn.closed_by_server = True
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"Server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """The value for ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (as a string)."""
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway at this fake, restoring them after."""
        with patch_discord(self.api_base, self.gateway_url):
            yield

    # ------------------------------------------------------------------ world building

    def _snowflake(self, at: datetime | None = None) -> int:
        if at is not None:
            # Backdated ids keep their own low bits so they never collide with live ones.
            self._backdated = (self._backdated + 1) & 0x3FFFFF
            return ((int(at.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22) | self._backdated
        base = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(base, self._last_snowflake + 1)
        return self._last_snowflake

    def add_user(
        self, user_id: int, username: str, *, global_name: str | None = None, bot: bool = False
    ) -> JSON:
        """Add (or replace) a user.

        Args:
            user_id: The user's id.
            username: The unique username.
            global_name: The display name.
            bot: Whether the user is a bot.

        Returns:
            The user payload.
        """
        user: JSON = {
            "id": str(user_id),
            "username": username,
            "discriminator": "0000" if bot else "0",
            "global_name": global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if bot:
            user["bot"] = True
        self._users[user_id] = user
        return user

    def add_guild(
        self,
        guild_id: int,
        name: str,
        owner_id: int,
        *,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
    ) -> JSON:
        """Add a guild the bot is in, with its @everyone role, the bot's managed role and member.

        Args:
            guild_id: The guild's id (also the @everyone role's id).
            name: The guild's name.
            owner_id: The owner's user id (added as a user and member if unknown).
            bot_permissions: Permissions of the bot's managed role.
            everyone_permissions: Permissions of @everyone.

        Returns:
            The guild payload (without channels or members).
        """
        guild = _Guild(guild_id, name, owner_id, joined_at=_iso(_now()))
        self._guilds[guild_id] = guild
        guild.roles[guild_id] = self._role_payload(guild_id, "@everyone", everyone_permissions, 0)
        bot_role_id = self._snowflake()
        role = self._role_payload(bot_role_id, self._users[self.bot_id]["username"], bot_permissions, 1)
        role["managed"] = True
        role["tags"] = {"bot_id": str(self.bot_id)}
        guild.roles[bot_role_id] = role
        guild.bot_role_id = bot_role_id
        guild.members[self.bot_id] = _Member(self.bot_id, [bot_role_id], guild.joined_at)
        if owner_id not in self._users:
            self.add_user(owner_id, f"owner{owner_id}")
        if owner_id not in guild.members:
            guild.members[owner_id] = _Member(owner_id, [], guild.joined_at)
        return self._guild_payload(guild)

    def add_role(
        self,
        guild_id: int,
        role_id: int,
        name: str,
        permissions: int = 0,
        *,
        position: int | None = None,
        mentionable: bool = False,
    ) -> JSON:
        """Add a role; by default it sits just below the bot's role.

        Args:
            guild_id: The guild.
            role_id: The role's id.
            name: The role's name.
            permissions: Permission bits.
            position: Explicit position (above the bot's role makes it unassignable by the bot).
            mentionable: Whether it can be mentioned.

        Returns:
            The role payload.
        """
        guild = self._guild(guild_id)
        bot_role = guild.roles[guild.bot_role_id]
        if position is None:
            position = int(bot_role["position"])
            bot_role["position"] = position + 1
        role = self._role_payload(role_id, name, permissions, position)
        role["mentionable"] = mentionable
        guild.roles[role_id] = role
        return role

    def set_bot_permissions(self, guild_id: int, permissions: int) -> None:
        """Change the permissions of the bot's managed role in a guild."""
        guild = self._guild(guild_id)
        guild.roles[guild.bot_role_id]["permissions"] = str(permissions)

    def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> None:
        """Change a role's permissions (use the guild id for @everyone)."""
        self._guild(guild_id).roles[role_id]["permissions"] = str(permissions)

    def add_member(
        self,
        guild_id: int,
        user_id: int,
        username: str | None = None,
        roles: Sequence[int] = (),
        *,
        nick: str | None = None,
        global_name: str | None = None,
        bot: bool = False,
        joined_at: datetime | None = None,
    ) -> JSON:
        """Add a member (creating the user when ``username`` is given and the user is unknown).

        Args:
            guild_id: The guild.
            user_id: The user.
            username: The username for a new user.
            roles: Role ids (permissions come from these roles and @everyone).
            nick: Guild nickname.
            global_name: Display name for a new user.
            bot: Whether a new user is a bot.
            joined_at: When they joined (default now).

        Returns:
            The member payload (with ``user``).
        """
        guild = self._guild(guild_id)
        if user_id not in self._users:
            self.add_user(user_id, username or f"user{user_id}", global_name=global_name, bot=bot)
        elif username is not None and self._users[user_id]["username"] != username:
            self._users[user_id]["username"] = username
        for role_id in roles:
            if role_id not in guild.roles:
                raise FakeDiscordError(f"role {role_id} is not in guild {guild_id}")
        guild.members[user_id] = _Member(user_id, list(roles), _iso(joined_at or _now()), nick=nick)
        return self.member_payload(guild_id, user_id)

    def remove_member(self, guild_id: int, user_id: int) -> None:
        """Remove a member from the world without dispatching anything."""
        self._guild(guild_id).members.pop(user_id, None)

    def add_channel(
        self,
        guild_id: int,
        channel_id: int,
        name: str,
        type: int = CHANNEL_TEXT,
        *,
        parent_id: int | None = None,
        permission_overwrites: Sequence[Mapping[str, Any]] = (),
        owner_id: int | None = None,
        topic: str | None = None,
        position: int | None = None,
    ) -> JSON:
        """Add a guild channel: text (0), category (4), forum (15) or a thread (11, 12, 10).

        Args:
            guild_id: The guild.
            channel_id: The channel's id.
            name: The channel's name.
            type: Discord channel type.
            parent_id: Category for channels; the parent text/forum channel for threads.
            permission_overwrites: Dicts ``{"id", "type": 0 role | 1 member, "allow", "deny"}``.
            owner_id: A thread's creator (default the guild owner).
            topic: The channel topic.
            position: Sort position (default: after the existing ones).

        Returns:
            The channel payload.
        """
        guild = self._guild(guild_id)
        if type in THREAD_TYPES:
            if parent_id is None or parent_id not in self._channels:
                raise FakeDiscordError("a thread needs an existing parent_id")
            created = _now()
            channel: JSON = {
                "id": str(channel_id),
                "type": type,
                "guild_id": str(guild_id),
                "parent_id": str(parent_id),
                "owner_id": str(owner_id or guild.owner_id),
                "name": name,
                "last_message_id": None,
                "message_count": 0,
                "member_count": 1,
                "total_message_sent": 0,
                "rate_limit_per_user": 0,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": _iso(created),
                    "locked": False,
                    "create_timestamp": _iso(created),
                },
            }
        else:
            overwrites = [
                {
                    "id": str(ow["id"]),
                    "type": int(ow.get("type", 0)),
                    "allow": str(int(ow.get("allow", 0))),
                    "deny": str(int(ow.get("deny", 0))),
                }
                for ow in permission_overwrites
            ]
            channel = {
                "id": str(channel_id),
                "type": type,
                "guild_id": str(guild_id),
                "name": name,
                "position": position if position is not None else len(guild.channel_ids),
                "permission_overwrites": overwrites,
                "parent_id": str(parent_id) if parent_id is not None else None,
                "nsfw": False,
                "flags": 0,
            }
            if type != CHANNEL_CATEGORY:
                channel.update({"topic": topic, "rate_limit_per_user": 0, "last_message_id": None})
            if type == CHANNEL_FORUM:
                channel.update(
                    {
                        "available_tags": [],
                        "default_reaction_emoji": None,
                        "default_sort_order": None,
                        "default_forum_layout": 0,
                        "default_thread_rate_limit_per_user": 0,
                    }
                )
        self._channels[channel_id] = channel
        self._history.setdefault(channel_id, {})
        guild.channel_ids.append(channel_id)
        return channel

    def set_intents_allowed(
        self, message_content: bool = True, members: bool = True, presences: bool = True
    ) -> None:
        """Set the privileged intents the developer portal allows (all allowed by default).

        IDENTIFY with a disallowed privileged intent is closed with 4014, and REST message
        objects lose their content when message content is disallowed.
        """
        self._allowed = {
            "message_content": message_content,
            "members": members,
            "presences": presences,
        }

    def set_dms_closed(self, user_id: int, closed: bool = True) -> None:
        """Make DMs to this user fail with 403 code 50007 (creating the DM channel still works)."""
        if closed:
            self._dms_closed.add(user_id)
        else:
            self._dms_closed.discard(user_id)

    def dm_channel_id(self, user_id: int) -> int:
        """The DM channel between the bot and a user, created if needed."""
        if user_id not in self._users:
            raise FakeDiscordError(f"unknown user {user_id}")
        channel_id = self._dm_by_user.get(user_id)
        if channel_id is None:
            channel_id = self._snowflake()
            self._dm_by_user[user_id] = channel_id
            self._channels[channel_id] = {
                "id": str(channel_id),
                "type": CHANNEL_DM,
                "last_message_id": None,
                "flags": 0,
                "recipients": [copy.deepcopy(self._users[user_id])],
            }
            self._history.setdefault(channel_id, {})
        return channel_id

    # ------------------------------------------------------------------ payload views

    def _guild(self, guild_id: int) -> _Guild:
        try:
            return self._guilds[guild_id]
        except KeyError:
            raise FakeDiscordError(f"unknown guild {guild_id}") from None

    def _role_payload(self, role_id: int, name: str, permissions: int, position: int) -> JSON:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def user_payload(self, user_id: int) -> JSON:
        """A copy of the user object."""
        try:
            return copy.deepcopy(self._users[user_id])
        except KeyError:
            raise FakeDiscordError(f"unknown user {user_id}") from None

    def member_payload(
        self, guild_id: int, user_id: int, *, with_user: bool = True, permissions: int | None = None
    ) -> JSON:
        """The guild member object as Discord sends it.

        Args:
            guild_id: The guild.
            user_id: The member.
            with_user: Include the ``user`` object.
            permissions: Add a ``permissions`` string (as in interactions).

        Returns:
            The member payload.
        """
        guild = self._guild(guild_id)
        member = guild.members.get(user_id)
        if member is None:
            raise FakeDiscordError(f"user {user_id} is not a member of guild {guild_id}")
        body: JSON = {
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in member.roles],
            "joined_at": member.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": member.pending,
            "communication_disabled_until": None,
        }
        if with_user:
            body["user"] = self.user_payload(user_id)
        if permissions is not None:
            body["permissions"] = str(permissions)
        return body

    def channel_payload(self, channel_id: int) -> JSON:
        """A copy of the channel (or thread, or DM) object."""
        try:
            return copy.deepcopy(self._channels[channel_id])
        except KeyError:
            raise FakeDiscordError(f"unknown channel {channel_id}") from None

    def _guild_payload(self, guild: _Guild) -> JSON:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [copy.deepcopy(r) for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def guild_payload(self, guild_id: int) -> JSON:
        """The REST guild object (roles, no channels or members)."""
        return self._guild_payload(self._guild(guild_id))

    def _guild_create_payload(self, guild: _Guild, intents: int) -> JSON:
        body = self._guild_payload(guild)
        # Discord only sends the whole member list in GUILD_CREATE with the presences intent;
        # otherwise discord.py asks for it with REQUEST_GUILD_MEMBERS (op 8).
        if intents & Intents.GUILD_PRESENCES and intents & Intents.GUILD_MEMBERS:
            member_ids = list(guild.members)
        else:
            member_ids = [self.bot_id]
        channels: list[JSON] = []
        threads: list[JSON] = []
        for cid in guild.channel_ids:
            ch = copy.deepcopy(self._channels[cid])
            (threads if ch["type"] in THREAD_TYPES else channels).append(ch)
        body.update(
            {
                "joined_at": guild.joined_at,
                "large": len(guild.members) >= 250,
                "unavailable": False,
                "member_count": len(guild.members),
                "voice_states": [],
                "members": [self.member_payload(guild.id, uid) for uid in member_ids],
                "channels": channels,
                "threads": threads,
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "lazy": True,
            }
        )
        return body

    def _bot_user_payload(self) -> JSON:
        user = self.user_payload(self.bot_id)
        user.update({"verified": True, "mfa_enabled": False, "locale": "en-US", "email": None})
        return user

    def _application_flags(self) -> int:
        flags = APP_FLAG_COMMAND_BADGE
        if self._allowed["presences"]:
            flags |= APP_FLAG_PRESENCE_LIMITED
        if self._allowed["members"]:
            flags |= APP_FLAG_GUILD_MEMBERS_LIMITED
        if self._allowed["message_content"]:
            flags |= APP_FLAG_MESSAGE_CONTENT_LIMITED
        return flags

    def _application_payload(self) -> JSON:
        bot = self.user_payload(self.bot_id)
        owner_id = next(iter(g.owner_id for g in self._guilds.values()), self.bot_id)
        return {
            "id": str(self.application_id),
            "name": bot["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self._application_flags(),
            "owner": self.user_payload(owner_id),
            "team": None,
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self._guilds),
            "bot": bot,
            "tags": [],
        }

    # ------------------------------------------------------------------ permissions

    def base_permissions(self, guild_id: int, user_id: int) -> int:
        """Guild-level permissions of a member (owner and administrators get everything)."""
        guild = self._guild(guild_id)
        if user_id == guild.owner_id:
            return Perm.ALL
        member = guild.members.get(user_id)
        if member is None:
            return 0
        perms = int(guild.roles[guild.id]["permissions"])
        for role_id in member.roles:
            role = guild.roles.get(role_id)
            if role is not None:
                perms |= int(role["permissions"])
        return Perm.ALL if perms & Perm.ADMINISTRATOR else perms

    def channel_permissions(self, channel_id: int, user_id: int) -> int:
        """A member's permissions in a guild channel or thread, with overwrites applied."""
        channel = self._channels[channel_id]
        guild = self._guild(int(channel["guild_id"]))
        perms = self.base_permissions(guild.id, user_id)
        if perms == Perm.ALL:
            return perms
        if channel["type"] in THREAD_TYPES:
            channel = self._channels[int(channel["parent_id"])]
        member = guild.members.get(user_id)
        member_roles = {str(r) for r in member.roles} if member else set()
        overwrites = channel.get("permission_overwrites") or []
        for ow in overwrites:
            if ow["id"] == str(guild.id):
                perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
        allow = deny = 0
        for ow in overwrites:
            if ow["type"] == 0 and ow["id"] in member_roles:
                allow |= int(ow["allow"])
                deny |= int(ow["deny"])
        perms = (perms & ~deny) | allow
        for ow in overwrites:
            if ow["type"] == 1 and ow["id"] == str(user_id):
                perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        return perms

    def _role_position(self, guild: _Guild, user_id: int) -> int:
        member = guild.members.get(user_id)
        if member is None:
            return -1
        return max((int(guild.roles[r]["position"]) for r in member.roles if r in guild.roles), default=0)

    def _require_guild_perm(self, guild: _Guild, perm: int) -> None:
        if not self.base_permissions(guild.id, self.bot_id) & perm:
            raise _HTTPError(403, 50013, "Missing Permissions")

    # ------------------------------------------------------------------ messages

    def _new_message(
        self,
        channel_id: int,
        author_id: int,
        content: str,
        *,
        embeds: Sequence[JSON] = (),
        components: Sequence[JSON] = (),
        attachments: Sequence[Attachment] = (),
        reference: JSON | None = None,
        flags: int = 0,
        at: datetime | None = None,
        msg_type: int = 0,
        extra: JSON | None = None,
    ) -> JSON:
        channel = self._channels[channel_id]
        message_id = self._snowflake(at)
        guild_id = channel.get("guild_id")
        mentions = []
        for uid_text in dict.fromkeys(_USER_MENTION_RE.findall(content or "")):
            uid = int(uid_text)
            if uid in self._users:
                user = self.user_payload(uid)
                if guild_id is not None and uid in self._guilds[int(guild_id)].members:
                    user["member"] = self.member_payload(int(guild_id), uid, with_user=False)
                mentions.append(user)
        comps = copy.deepcopy(list(components))
        next_id = 1
        for comp in _walk_components(comps):
            if "id" not in comp:
                comp["id"] = next_id
            next_id = max(next_id, int(comp["id"])) + 1
        message: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": self.user_payload(author_id),
            "content": content,
            "timestamp": _iso(snowflake_time(message_id)),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": "@everyone" in (content or ""),
            "mentions": mentions,
            "mention_roles": list(dict.fromkeys(_ROLE_MENTION_RE.findall(content or ""))),
            "attachments": [a.payload() for a in attachments],
            "embeds": copy.deepcopy(list(embeds)),
            "pinned": False,
            "type": msg_type,
            "flags": flags,
            "components": comps,
        }
        if guild_id is not None:
            message["guild_id"] = guild_id
        if reference is not None:
            message["message_reference"] = reference
            ref_id = reference.get("message_id")
            referenced = self._messages.get(int(ref_id)) if ref_id is not None else None
            message["referenced_message"] = self._rest_message(referenced) if referenced is not None else None
            if msg_type == 0:
                message["type"] = 19
        if extra:
            message.update(extra)
        return message

    def _store(self, message: JSON, *, ephemeral: bool = False) -> None:
        message_id = int(message["id"])
        channel_id = int(message["channel_id"])
        self._messages[message_id] = message
        if ephemeral:
            self._ephemeral.add(message_id)
            return
        self._history.setdefault(channel_id, {})[message_id] = message
        channel = self._channels.get(channel_id)
        if channel is not None and "last_message_id" in channel:
            last = channel.get("last_message_id")
            if last is None or int(last) < message_id:
                channel["last_message_id"] = str(message_id)
            if channel.get("type") in THREAD_TYPES:
                channel["message_count"] += 1
                channel["total_message_sent"] += 1

    def _content_visible(self, message: JSON, intents_content: bool) -> bool:
        if intents_content or "guild_id" not in message:
            return True
        if int(message["author"]["id"]) == self.bot_id:
            return True
        return any(int(u["id"]) == self.bot_id for u in message.get("mentions", []))

    def _blank_content(self, message: JSON) -> None:
        message.update({"content": "", "embeds": [], "attachments": [], "components": []})
        message.pop("poll", None)

    def _rest_message(self, message: JSON) -> JSON:
        body = copy.deepcopy(message)
        body.pop("guild_id", None)
        body.pop("member", None)
        if not self._content_visible(message, self._allowed["message_content"]):
            self._blank_content(body)
        return body

    def _gateway_message(self, message: JSON, session: _Session) -> JSON | None:
        guild_id = message.get("guild_id")
        if guild_id is not None:
            if not session.intents & Intents.GUILD_MESSAGES:
                return None
            if not self.channel_permissions(int(message["channel_id"]), self.bot_id) & Perm.VIEW_CHANNEL:
                return None
        elif not session.intents & Intents.DIRECT_MESSAGES:
            return None
        body = copy.deepcopy(message)
        author_id = int(message["author"]["id"])
        if guild_id is not None and author_id in self._guilds[int(guild_id)].members:
            body["member"] = self.member_payload(int(guild_id), author_id, with_user=False)
        if not self._content_visible(message, bool(session.intents & Intents.MESSAGE_CONTENT)):
            self._blank_content(body)
        return body

    def _find_message(self, channel_id: int, message_id: int) -> JSON:
        message = self._history.get(channel_id, {}).get(message_id)
        if message is None:
            raise _HTTPError(404, 10008, "Unknown Message")
        return message

    def history(self, channel_id: int) -> list[JSON]:
        """A channel's stored messages, oldest first (ephemeral ones excluded)."""
        return [self._history[channel_id][k] for k in sorted(self._history.get(channel_id, {}))]

    def message(self, message_id: int) -> JSON:
        """A stored message (including ephemeral ones) by id."""
        try:
            return self._messages[message_id]
        except KeyError:
            raise FakeDiscordError(f"unknown message {message_id}") from None

    # ------------------------------------------------------------------ validation

    def _validate_message(self, body: JSON, *, files: int = 0, require_something: bool = True) -> None:
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            content = str(content)
        if content is not None and len(content) > 2000:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            raise _form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        for i, embed in enumerate(embeds):
            limits = {"title": 256, "description": 4096}
            for key, limit in limits.items():
                value = embed.get(key) or ""
                total += len(value)
                if len(value) > limit:
                    raise _form_error(
                        f"embeds.{i}.{key}",
                        "BASE_TYPE_MAX_LENGTH",
                        f"Must be {limit} or fewer in length.",
                    )
            fields = embed.get("fields") or []
            if len(fields) > 25:
                raise _form_error(
                    f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            for j, fld in enumerate(fields):
                for key, limit in (("name", 256), ("value", 1024)):
                    value = str(fld.get(key) or "")
                    if not value:
                        raise _form_error(
                            f"embeds.{i}.fields.{j}.{key}",
                            "BASE_TYPE_REQUIRED",
                            "This field is required",
                        )
                    if len(value) > limit:
                        raise _form_error(
                            f"embeds.{i}.fields.{j}.{key}",
                            "BASE_TYPE_MAX_LENGTH",
                            f"Must be {limit} or fewer in length.",
                        )
                    total += len(value)
            footer = (embed.get("footer") or {}).get("text") or ""
            author = (embed.get("author") or {}).get("name") or ""
            if len(footer) > 2048:
                raise _form_error(
                    f"embeds.{i}.footer.text",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 2048 or fewer in length.",
                )
            if len(author) > 256:
                raise _form_error(
                    f"embeds.{i}.author.name",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 256 or fewer in length.",
                )
            total += len(footer) + len(author)
        if total > 6000:
            raise _form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        components = body.get("components") or []
        self._validate_components(components, v2=bool(int(body.get("flags") or 0) & MSG_FLAG_COMPONENTS_V2))
        if require_something and not (
            content or embeds or components or files or body.get("sticker_ids") or body.get("poll")
        ):
            raise _HTTPError(400, 50006, "Cannot send an empty message")

    def _validate_components(self, components: Sequence[JSON], *, v2: bool = False) -> None:
        if not v2 and len(components) > 5:
            raise _form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        for i, row in enumerate(components):
            if not v2 and row.get("type") != 1:
                raise _form_error(
                    f"components.{i}.type",
                    "UNION_TYPE_CHOICES",
                    'Value of field "type" must be one of (1,).',
                )
            if row.get("type") != 1:
                continue
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                raise _form_error(
                    f"components.{i}.components",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 5 in length.",
                )
            if any(c.get("type") != 2 for c in children) and len(children) > 1:
                raise _form_error(
                    f"components.{i}.components",
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            for j, comp in enumerate(children):
                where = f"components.{i}.components.{j}"
                if comp.get("type") == 2:
                    style = comp.get("style")
                    if style == 5:
                        if not comp.get("url") or comp.get("custom_id"):
                            raise _form_error(where, "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
                    elif style != 6 and not comp.get("custom_id"):
                        raise _form_error(
                            where, "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id required"
                        )
                    if len(str(comp.get("label") or "")) > 80:
                        raise _form_error(
                            f"{where}.label",
                            "BASE_TYPE_MAX_LENGTH",
                            "Must be 80 or fewer in length.",
                        )
                elif comp.get("type") == 3:
                    options = comp.get("options") or []
                    if not 1 <= len(options) <= 25:
                        raise _form_error(
                            f"{where}.options",
                            "BASE_TYPE_BAD_LENGTH",
                            "Must be between 1 and 25 in length.",
                        )
                    for k, opt in enumerate(options):
                        if len(str(opt.get("label") or "")) > 100:
                            raise _form_error(
                                f"{where}.options.{k}.label",
                                "BASE_TYPE_MAX_LENGTH",
                                "Must be 100 or fewer in length.",
                            )
                if len(str(comp.get("custom_id") or "")) > 100:
                    raise _form_error(
                        f"{where}.custom_id",
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 100 or fewer in length.",
                    )
        ids = _collect_custom_ids(components)
        if len(ids) != len(set(ids)):
            raise _form_error(
                "components",
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )

    def _validate_modal(self, data: JSON) -> None:
        title = str(data.get("title") or "")
        if not 1 <= len(title) <= 45:
            raise _form_error("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
        custom_id = str(data.get("custom_id") or "")
        if not 1 <= len(custom_id) <= 100:
            raise _form_error(
                "data.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        components = data.get("components") or []
        if not 1 <= len(components) <= 5:
            raise _form_error("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        for comp in _walk_components(components):
            if comp.get("type") == 4:
                if len(str(comp.get("label") or "")) > 45:
                    raise _form_error(
                        "data.components",
                        "BASE_TYPE_MAX_LENGTH",
                        "Label must be 45 or fewer in length.",
                    )
                if len(str(comp.get("placeholder") or "")) > 100:
                    raise _form_error(
                        "data.components",
                        "BASE_TYPE_MAX_LENGTH",
                        "Placeholder must be 100 or fewer in length.",
                    )
                if len(str(comp.get("value") or "")) > 4000:
                    raise _form_error(
                        "data.components",
                        "BASE_TYPE_MAX_LENGTH",
                        "Value must be 4000 or fewer in length.",
                    )

    def _validate_commands(self, commands: Any) -> None:
        if not isinstance(commands, list):
            raise _form_error("_", "BASE_TYPE_ARRAY", "Must be an array.")
        if len(commands) > 110:
            raise _HTTPError(400, 30032, "Maximum number of application commands reached")
        seen: set[tuple[int, str]] = set()
        for i, cmd in enumerate(commands):
            ctype = int(cmd.get("type", 1))
            name = str(cmd.get("name", ""))
            if ctype == 1 and (not _COMMAND_NAME_RE.match(name) or name != name.lower()):
                raise _form_error(f"{i}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            if (ctype, name) in seen:
                raise _form_error(
                    f"{i}.name",
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            seen.add((ctype, name))
            if ctype == 1:
                description = str(cmd.get("description", ""))
                if not 1 <= len(description) <= 100:
                    raise _form_error(
                        f"{i}.description",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                self._validate_options(cmd.get("options") or [], f"{i}.options")

    def _validate_options(self, options: Sequence[JSON], where: str) -> None:
        if len(options) > 25:
            raise _form_error(where, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        optional_seen = False
        for j, opt in enumerate(options):
            name = str(opt.get("name", ""))
            if not _COMMAND_NAME_RE.match(name) or name != name.lower():
                raise _form_error(
                    f"{where}.{j}.name",
                    "APPLICATION_COMMAND_INVALID_NAME",
                    "Command name is invalid",
                )
            description = str(opt.get("description", ""))
            if not 1 <= len(description) <= 100:
                raise _form_error(
                    f"{where}.{j}.description",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            if opt.get("type") in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP):
                self._validate_options(opt.get("options") or [], f"{where}.{j}.options")
                continue
            if opt.get("required"):
                if optional_seen:
                    raise _form_error(
                        f"{where}.{j}.required",
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                optional_seen = True
            if len(opt.get("choices") or []) > 25:
                raise _form_error(
                    f"{where}.{j}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )

    # ------------------------------------------------------------------ recording / waiting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(
        self, check: Callable[[], T | None], timeout: float, what: str | Callable[[], str]
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = check()
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(what() if callable(what) else what)
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,
        *,
        new_only: bool = False,
    ) -> SentMessage:
        """Wait for a message in :attr:`sent` that matches.

        Args:
            predicate: Tested on each :class:`SentMessage`.
            timeout: Seconds before ``TimeoutError``.
            new_only: Only consider messages sent after this call.

        Returns:
            The first matching message.
        """
        start = len(self.sent) if new_only else 0

        def check() -> SentMessage | None:
            return next((s for s in self.sent[start:] if predicate(s)), None)

        return await self._wait_until(
            check,
            timeout,
            lambda: f"no sent message matched within {timeout}s; sent: {self._summary()}",
        )

    async def wait_for_edit(
        self,
        predicate: Callable[[EditedMessage], bool],
        timeout: float = 5.0,
        *,
        new_only: bool = False,
    ) -> EditedMessage:
        """Wait for an :class:`EditedMessage` in :attr:`edits` that matches."""
        start = len(self.edits) if new_only else 0

        def check() -> EditedMessage | None:
            return next((e for e in self.edits[start:] if predicate(e)), None)

        return await self._wait_until(check, timeout, f"no edit matched within {timeout}s")

    async def wait_for_response(
        self,
        interaction: JSON | int | Callable[[InteractionResponse], bool],
        timeout: float = 5.0,
    ) -> InteractionResponse:
        """Wait for the bot's callback to an interaction.

        Args:
            interaction: The interaction dict a ``user_*`` helper returned, its id, or a predicate.
            timeout: Seconds before ``TimeoutError``.

        Returns:
            The matching :class:`InteractionResponse`.
        """
        if callable(interaction):
            predicate = interaction
        else:
            wanted = int(interaction["id"]) if isinstance(interaction, dict) else int(interaction)

            def predicate(r: InteractionResponse) -> bool:
                return r.interaction_id == wanted

        def check() -> InteractionResponse | None:
            return next((r for r in self.interaction_responses if predicate(r)), None)

        return await self._wait_until(check, timeout, f"no interaction response within {timeout}s")

    async def wait_for_request(self, predicate: Callable[[RestCall], bool], timeout: float = 5.0) -> RestCall:
        """Wait for a REST call in :attr:`requests` that matches (answered or not)."""

        def check() -> RestCall | None:
            return next((r for r in self.requests if predicate(r)), None)

        return await self._wait_until(check, timeout, f"no request matched within {timeout}s")

    async def wait_until_connected(self, timeout: float = 5.0) -> None:
        """Wait until a bot session is identified, READY and its GUILD_CREATEs are sent."""

        def check() -> bool | None:
            return True if any(s.ready and s.conn for s in self._sessions.values()) else None

        await self._wait_until(check, timeout, f"no gateway session became ready within {timeout}s")

    def _summary(self) -> str:
        return repr([(s.via, s.channel_id, (s.content or "")[:60]) for s in self.sent[-10:]])

    @property
    def commands(self) -> dict[int | None, list[JSON]]:
        """Registered commands: key ``None`` for global, a guild id for guild commands."""
        out: dict[int | None, list[JSON]] = {None: self.global_commands}
        for guild_id, commands in self.guild_commands.items():
            out[guild_id] = commands
        return out

    @property
    def last_identify(self) -> JSON | None:
        """The ``d`` of the most recent IDENTIFY."""
        return self.identify_payloads[-1] if self.identify_payloads else None

    @property
    def last_intents(self) -> int | None:
        """The intents integer of the most recent IDENTIFY."""
        ident = self.last_identify
        return None if ident is None else int(ident.get("intents", 0))

    def sent_in(self, channel_id: int) -> list[SentMessage]:
        """Messages the bot sent in one channel."""
        return [s for s in self.sent if s.channel_id == channel_id]

    def dms_to(self, user_id: int) -> list[SentMessage]:
        """Messages the bot sent to a user's DM channel."""
        return [s for s in self.sent if s.recipient_id == user_id]

    # ------------------------------------------------------------------ faults / rate limits

    def rate_limit_next(
        self, route_substring: str, count: int = 1, retry_after: float = 1.0, global_: bool = False
    ) -> None:
        """Answer the next ``count`` matching requests with 429 (Discord's body and headers).

        Args:
            route_substring: Matched against ``"METHOD /path"`` (path after ``/api/v10``,
                e.g. ``"POST /channels/123/messages"``); ``""`` matches everything.
            count: How many requests to refuse.
            retry_after: Seconds in ``retry_after`` and the headers.
            global_: Whether the limit is the global one.
        """
        self._faults.append(_Fault(route_substring, count, 429, retry_after, global_))

    def fail_next(
        self,
        route_substring: str,
        status: int = 500,
        count: int = 1,
        *,
        code: int = 0,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with an error status.

        Args:
            route_substring: As in :meth:`rate_limit_next`.
            status: HTTP status (500/502/503/504 are retried by discord.py; 4xx are raised).
            count: How many requests to fail.
            code: Discord JSON error code.
            message: Error message (default ``"<status>: <reason>"``).
        """
        self._faults.append(_Fault(route_substring, count, status, code=code, message=message))

    def delay_next(
        self, route_substring: str, seconds: float, count: int = 1, *, process_abandoned: bool = True
    ) -> None:
        """Answer the next ``count`` matching requests only after ``seconds``.

        A client that gives up first (its timeout) closes the connection. With
        ``process_abandoned`` (the default) the request still takes effect at that moment
        (Discord got it, only the answer is lost: a retry sends a duplicate, and ``requests``
        shows ``answer_lost``); without it the request is discarded (``status`` stays 0).
        """
        self._net_faults.append(
            _NetFault("delay", route_substring, count, seconds=seconds, process_abandoned=process_abandoned)
        )

    def delay_all_for(
        self, seconds: float, delay: float, route_substring: str = "", *, process_abandoned: bool = True
    ) -> None:
        """A slow spell: for ``seconds`` every matching request is answered after ``delay``.

        As :meth:`delay_next` for clients that give up; :meth:`clear_faults` ends it early.
        """
        self._net_faults.append(
            _NetFault(
                "delay",
                route_substring,
                None,
                until=time.monotonic() + seconds,
                seconds=delay,
                process_abandoned=process_abandoned,
            )
        )

    def drop_next(self, route_substring: str, count: int = 1, *, after_processing: bool = False) -> None:
        """Close the connection of the next ``count`` matching requests without answering.

        With ``after_processing`` each request takes effect first (e.g. the message is posted)
        and only its answer is lost: the case that makes a retry send a duplicate.
        """
        self._net_faults.append(
            _NetFault("drop", route_substring, count, after_processing=after_processing)
        )

    def drop_all_for(
        self, seconds: float, route_substring: str = "", *, after_processing: bool = False
    ) -> None:
        """For ``seconds``, close the connection of every matching request (see :meth:`drop_next`)."""
        self._net_faults.append(
            _NetFault(
                "drop",
                route_substring,
                None,
                until=time.monotonic() + seconds,
                after_processing=after_processing,
            )
        )

    def hold_next(self, route_substring: str, count: int = 1, *, process_abandoned: bool = False) -> None:
        """Keep the next ``count`` matching requests unanswered until :meth:`release_held`.

        A held request is not processed while held. If the client gives up first, it is
        discarded, or with ``process_abandoned`` it takes effect then with its answer lost.
        """
        self._net_faults.append(
            _NetFault("hold", route_substring, count, process_abandoned=process_abandoned)
        )

    @property
    def held(self) -> int:
        """How many requests are being held right now (see :meth:`hold_next`)."""
        return len(self._held)

    async def wait_held(self, count: int, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` requests are held at once."""

        def check() -> bool | None:
            return True if len(self._held) >= count else None

        await self._wait_until(check, timeout, lambda: f"only {len(self._held)} of {count} requests held")

    def release_held(self, count: int | None = None, *, answer: bool = False) -> int:
        """End the oldest ``count`` holds (all by default); returns how many were released.

        ``answer=False`` cuts each connection without processing the request; ``answer=True``
        processes and answers it normally.
        """
        released = 0
        for entry in list(self._held):
            if count is not None and released >= count:
                break
            self._held.remove(entry)
            if not entry.released.done():
                entry.released.set_result(answer)
            released += 1
        return released

    @property
    def offline(self) -> bool:
        """Whether the REST API is unreachable (see :meth:`go_offline`)."""
        return self._offline

    async def go_offline(self) -> None:
        """Make the server unreachable for new connections, and cut every open REST connection.

        Gateway websockets already open stay up (on Discord they are another host); a gateway
        reconnect is refused like any new connection until :meth:`go_online`.
        """
        if self._offline or self._runner is None:
            return
        self._offline = True
        for site in list(self._runner.sites):
            await site.stop()
        gateway = {conn.transport for conn in self._conns}
        server = self._runner.server
        for handler in list(server.connections) if server is not None else []:
            transport = handler.transport
            if transport is not None and transport not in gateway:
                transport.abort()
                handler.force_close()
        self.release_held()

    async def go_online(self) -> None:
        """Listen again on the same port after :meth:`go_offline`."""
        if not self._offline or self._runner is None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        await web.SockSite(self._runner, sock).start()
        self._offline = False

    def lost_answers(self, route_substring: str = "") -> list[RestCall]:
        """Requests that took effect (2xx) but whose answer never reached the client."""
        return [
            c
            for c in self.requests
            if c.answer_lost and 200 <= c.status < 300 and route_substring in f"{c.method} {c.path}"
        ]

    def clear_faults(self) -> None:
        """Remove every pending fault (errors, 429s, delays, drops, holds to come).

        Requests already held stay held: see :meth:`release_held`.
        """
        self._faults.clear()
        self._net_faults.clear()

    def _take_net_fault(self, key: str) -> _NetFault | None:
        now = time.monotonic()
        for fault in list(self._net_faults):
            if fault.remaining is None and now >= fault.until:
                self._net_faults.remove(fault)
                continue
            if fault.substring not in key:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._net_faults.remove(fault)
            return fault
        return None

    async def _wait_or_abandon(self, request: web.Request, seconds: float) -> bool:
        """Wait ``seconds`` without answering; True as soon as the client gives up (closes)."""
        deadline = time.monotonic() + seconds
        while True:
            if _abandoned(request):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(remaining, _ABANDON_POLL_S))

    async def _hold(self, key: str, request: web.Request) -> str:
        """Hold a request until released: "answer", "dropped" or "abandoned" (client gave up)."""
        entry = _Held(key, asyncio.get_running_loop().create_future())
        self._held.append(entry)
        self._notify()
        try:
            while not entry.released.done():
                if _abandoned(request):
                    return "abandoned"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(entry.released), _ABANDON_POLL_S)
            return "answer" if entry.released.result() else "dropped"
        finally:
            if entry in self._held:
                self._held.remove(entry)
            self._notify()

    @staticmethod
    def _cut(request: web.Request) -> web.StreamResponse:
        """Close the connection without answering (aiohttp never writes the returned response)."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    def set_rate_limit(self, route_substring: str, limit: int, per_seconds: float) -> None:
        """Enforce a real bucket (``limit`` requests per window, per path) with honest headers."""
        self._rate_rules.append(_RateRule(route_substring, limit, per_seconds, bucket=secrets.token_hex(16)))

    def _ratelimit_headers(
        self, limit: int, remaining: int, reset_after: float, bucket: str
    ) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    def _too_many(self, retry_after: float, global_: bool, bucket: str, limit: int = 5) -> web.Response:
        self.rate_limited_count += 1
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
        }
        if global_:
            body["code"] = 0
        headers = self._ratelimit_headers(limit, 0, retry_after, bucket)
        headers.update(
            {
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Scope": "global" if global_ else "user",
                # discord.py treats a 429 without Via as a Cloudflare ban and gives up.
                "Via": "1.1 google",
            }
        )
        if global_:
            headers["X-RateLimit-Global"] = "true"
        return self._json(429, body, headers)

    def _injected(self, key: str) -> web.Response | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.substring in key:
                fault.remaining -= 1
                if fault.status == 429:
                    return self._too_many(fault.retry_after, fault.global_, "injected" + secrets.token_hex(4))
                self.faults_served += 1
                reason = {
                    500: "Internal Server Error",
                    502: "Bad Gateway",
                    503: "Service Unavailable",
                    504: "Gateway Timeout",
                    403: "Forbidden",
                    404: "Not Found",
                }.get(fault.status, "Error")
                if fault.status == 502:
                    return web.Response(
                        status=502,
                        body=b"<html>502 Bad Gateway</html>",
                        headers={"Content-Type": "text/html"},
                    )
                return self._json(
                    fault.status,
                    {"message": fault.message or f"{fault.status}: {reason}", "code": fault.code},
                )
        return None

    def _apply_rate_rules(self, key: str, path: str) -> tuple[web.Response | None, dict[str, str]]:
        now = time.monotonic()
        for rule in self._rate_rules:
            if rule.substring not in key:
                continue
            start, count = rule.windows.get(path, (now, 0))
            if now >= start + rule.per:
                start, count = now, 0
            reset_after = max(0.0, start + rule.per - now)
            if count >= rule.limit:
                return self._too_many(round(reset_after, 3), False, rule.bucket, rule.limit), {}
            count += 1
            rule.windows[path] = (start, count)
            return None, self._ratelimit_headers(rule.limit, rule.limit - count, reset_after, rule.bucket)
        return None, {}

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        # discord.py only parses JSON when Content-Type is exactly "application/json".
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if upgrade and path in (GATEWAY_PATH, GATEWAY_PATH + "/"):
            return await self._handle_gateway(request)
        if path.startswith(CDN_PREFIX):
            match = _CDN_RE.match(path)
            attachment = self._attachments.get(int(match.group(1))) if match else None
            if attachment is None:
                return web.Response(status=404, text="Not Found")
            return web.Response(
                body=attachment.data,
                headers={"Content-Type": attachment.content_type or "application/octet-stream"},
            )
        if not path.startswith(API_PREFIX):
            return self._json(404, {"message": "404: Not Found", "code": 0})
        return await self._handle_api(request, path[len(API_PREFIX) :] or "/")

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, str | None, bytes]]]:
        files: list[tuple[str, str | None, bytes]] = []
        if not request.can_read_body:
            return None, files
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read(decode=False)
                if part.name == "payload_json":
                    payload = json.loads(data.decode())
                elif part.filename:
                    ctype_part = part.headers.get("Content-Type")
                    files.append((part.filename, ctype_part, bytes(data)))
            return payload, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw.decode()), files
        except ValueError:
            raise _HTTPError(400, 50109, "The request body contains invalid JSON.") from None

    async def _handle_api(self, request: web.Request, path: str) -> web.StreamResponse:
        if self._offline:
            return self._cut(request)
        method = request.method
        key = f"{method} {path}"
        try:
            payload, files = await self._read_body(request)
        except _HTTPError as exc:
            return self._json(exc.status, exc.body)
        call = RestCall(method, path, dict(request.query), payload)
        self.requests.append(call)
        net = self._take_net_fault(key)
        if net is not None and net.kind == "drop" and not net.after_processing:
            self._notify()
            return self._cut(request)
        if net is not None and net.kind in ("delay", "hold"):
            if net.kind == "hold":
                outcome = await self._hold(key, request)
            else:
                abandoned = await self._wait_or_abandon(request, net.seconds)
                outcome = "abandoned" if abandoned else "answer"
            if outcome == "dropped" or (outcome == "abandoned" and not net.process_abandoned):
                self._notify()
                return self._cut(request)
        response = self._injected(key)
        headers: dict[str, str] = {}
        if response is None:
            response, headers = self._apply_rate_rules(key, path)
        if response is None:
            response = await self._route(request, method, path, payload, files, headers)
        call.status = response.status
        drop_after = net is not None and net.kind == "drop" and net.after_processing
        if drop_after or _abandoned(request):
            call.answer_lost = True
            self._notify()
            return self._cut(request)
        self._notify()
        return response

    async def _route(
        self,
        request: web.Request,
        method: str,
        path: str,
        payload: Any,
        files: list[tuple[str, str | None, bytes]],
        headers: dict[str, str],
    ) -> web.Response:
        path_matched = False
        for route_method, pattern, handler, needs_auth in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            path_matched = True
            if route_method != method:
                continue
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return self._json(401, {"message": "401: Unauthorized", "code": 0})
            try:
                result = handler(_Req(request, match, payload, files, request.query))
                if asyncio.iscoroutine(result):
                    result = await result
                status, body = result
            except _HTTPError as exc:
                return self._json(exc.status, exc.body, headers)
            if body is None:
                return web.Response(status=204, headers=headers)
            return self._json(status, body, headers)
        if path_matched:
            return self._json(405, {"message": "405: Method Not Allowed", "code": 0})
        return self._json(404, {"message": "404: Not Found", "code": 0})

    def _build_routes(self) -> None:
        sf = r"(?P<{}>\d+)"
        app = sf.format("app")
        gid = sf.format("guild")
        cid = sf.format("channel")
        mid = sf.format("message")
        uid = sf.format("user")
        rid = sf.format("role")
        tok = r"(?P<token>[^/]+)"
        routes: list[tuple[str, str, Callable[[_Req], Any], bool]] = [
            ("GET", r"/gateway", self._r_gateway, False),
            ("GET", r"/gateway/bot", self._r_gateway_bot, True),
            ("GET", r"/users/@me", self._r_me, True),
            ("GET", r"/users/@me/guilds", self._r_my_guilds, True),
            ("POST", r"/users/@me/channels", self._r_create_dm, True),
            ("GET", rf"/users/{uid}", self._r_user, True),
            ("GET", r"/oauth2/applications/@me", self._r_application, True),
            ("GET", r"/applications/@me", self._r_application, True),
            ("GET", rf"/applications/{app}/commands", self._r_get_commands, True),
            ("PUT", rf"/applications/{app}/commands", self._r_put_commands, True),
            ("POST", rf"/applications/{app}/commands", self._r_post_command, True),
            ("DELETE", rf"/applications/{app}/commands/(?P<cmd>\d+)", self._r_delete_command, True),
            ("GET", rf"/applications/{app}/guilds/{gid}/commands", self._r_get_commands, True),
            ("PUT", rf"/applications/{app}/guilds/{gid}/commands", self._r_put_commands, True),
            ("POST", rf"/applications/{app}/guilds/{gid}/commands", self._r_post_command, True),
            (
                "DELETE",
                rf"/applications/{app}/guilds/{gid}/commands/(?P<cmd>\d+)",
                self._r_delete_command,
                True,
            ),
            ("GET", rf"/channels/{cid}", self._r_get_channel, True),
            ("GET", rf"/channels/{cid}/messages", self._r_history, True),
            ("POST", rf"/channels/{cid}/messages", self._r_send, True),
            ("GET", rf"/channels/{cid}/messages/{mid}", self._r_get_message, True),
            ("PATCH", rf"/channels/{cid}/messages/{mid}", self._r_edit_message, True),
            ("DELETE", rf"/channels/{cid}/messages/{mid}", self._r_delete_message, True),
            (
                "PUT",
                rf"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)/@me",
                self._r_react,
                True,
            ),
            ("POST", rf"/channels/{cid}/typing", self._r_typing, True),
            ("POST", rf"/channels/{cid}/messages/{mid}/threads", self._r_thread_from_message, True),
            ("POST", rf"/channels/{cid}/threads", self._r_thread, True),
            ("GET", rf"/guilds/{gid}", self._r_get_guild, True),
            ("GET", rf"/guilds/{gid}/channels", self._r_guild_channels, True),
            ("GET", rf"/guilds/{gid}/roles", self._r_guild_roles, True),
            ("POST", rf"/guilds/{gid}/roles", self._r_create_role, True),
            ("GET", rf"/guilds/{gid}/members", self._r_list_members, True),
            ("GET", rf"/guilds/{gid}/members/{uid}", self._r_get_member, True),
            ("PUT", rf"/guilds/{gid}/members/{uid}/roles/{rid}", self._r_add_role, True),
            ("DELETE", rf"/guilds/{gid}/members/{uid}/roles/{rid}", self._r_remove_role, True),
            ("POST", rf"/interactions/(?P<iid>\d+)/{tok}/callback", self._r_callback, False),
            ("POST", rf"/webhooks/{app}/{tok}", self._r_followup, False),
            (
                "GET",
                rf"/webhooks/{app}/{tok}/messages/(?P<wmid>@original|\d+)",
                self._r_webhook_get,
                False,
            ),
            (
                "PATCH",
                rf"/webhooks/{app}/{tok}/messages/(?P<wmid>@original|\d+)",
                self._r_webhook_edit,
                False,
            ),
            (
                "DELETE",
                rf"/webhooks/{app}/{tok}/messages/(?P<wmid>@original|\d+)",
                self._r_webhook_delete,
                False,
            ),
        ]
        self._routes = [(m, re.compile(p), h, a) for m, p, h, a in routes]

    # ------------------------------------------------------------------ REST handlers

    def _r_gateway(self, req: _Req) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    def _r_gateway_bot(self, req: _Req) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14400000,
                "max_concurrency": 1,
            },
        }

    def _r_me(self, req: _Req) -> tuple[int, Any]:
        return 200, self._bot_user_payload()

    def _r_my_guilds(self, req: _Req) -> tuple[int, Any]:
        return 200, [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "owner": False,
                "permissions": str(self.base_permissions(g.id, self.bot_id)),
                "features": [],
            }
            for g in self._guilds.values()
        ]

    def _r_user(self, req: _Req) -> tuple[int, Any]:
        user = self._users.get(req.sf("user"))
        if user is None:
            raise _HTTPError(404, 10013, "Unknown User")
        return 200, copy.deepcopy(user)

    def _r_application(self, req: _Req) -> tuple[int, Any]:
        return 200, self._application_payload()

    def _check_app(self, req: _Req) -> int | None:
        if req.sf("app") != self.application_id:
            raise _HTTPError(403, 50001, "Missing Access")
        guild_id = req.match.groupdict().get("guild")
        if guild_id is None:
            return None
        if int(guild_id) not in self._guilds:
            raise _HTTPError(403, 50001, "Missing Access")
        return int(guild_id)

    def _store_command(self, guild_id: int | None, cmd: JSON, version: int) -> JSON:
        ctype = int(cmd.get("type", 1))
        key = (guild_id, str(cmd["name"]), ctype)
        command_id = self._command_ids.get(key)
        if command_id is None:
            command_id = self._snowflake()
            self._command_ids[key] = command_id
        stored: JSON = {
            "id": str(command_id),
            "application_id": str(self.application_id),
            "version": str(version),
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations"),
            "description": cmd.get("description", ""),
            "description_localizations": cmd.get("description_localizations"),
            "options": copy.deepcopy(cmd.get("options") or []),
            "default_member_permissions": cmd.get("default_member_permissions"),
            "dm_permission": cmd.get("dm_permission", True),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
            "nsfw": bool(cmd.get("nsfw", False)),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored

    def _r_get_commands(self, req: _Req) -> tuple[int, Any]:
        guild_id = self._check_app(req)
        commands = self.global_commands if guild_id is None else self.guild_commands.get(guild_id, [])
        return 200, copy.deepcopy(commands)

    def _r_put_commands(self, req: _Req) -> tuple[int, Any]:
        guild_id = self._check_app(req)
        self._validate_commands(req.json)
        version = self._snowflake()
        stored = [self._store_command(guild_id, cmd, version) for cmd in req.json]
        if guild_id is None:
            self.global_commands = stored
        else:
            self.guild_commands[guild_id] = stored
        return 200, copy.deepcopy(stored)

    def _r_post_command(self, req: _Req) -> tuple[int, Any]:
        guild_id = self._check_app(req)
        self._validate_commands([req.json])
        stored = self._store_command(guild_id, req.json, self._snowflake())
        target = self.global_commands if guild_id is None else self.guild_commands.setdefault(guild_id, [])
        target[:] = [c for c in target if c["id"] != stored["id"]] + [stored]
        return 201, copy.deepcopy(stored)

    def _r_delete_command(self, req: _Req) -> tuple[int, Any]:
        guild_id = self._check_app(req)
        target = self.global_commands if guild_id is None else self.guild_commands.setdefault(guild_id, [])
        before = len(target)
        target[:] = [c for c in target if c["id"] != req.arg("cmd")]
        if len(target) == before:
            raise _HTTPError(404, 10063, "Unknown application command")
        return 204, None

    def _channel_or_404(self, channel_id: int) -> JSON:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise _HTTPError(404, 10003, "Unknown Channel")
        if (
            channel["type"] != CHANNEL_DM
            and not self.channel_permissions(channel_id, self.bot_id) & Perm.VIEW_CHANNEL
        ):
            raise _HTTPError(403, 50001, "Missing Access")
        return channel

    def _r_get_channel(self, req: _Req) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._channel_or_404(req.sf("channel")))

    def _r_history(self, req: _Req) -> tuple[int, Any]:
        channel_id = req.sf("channel")
        channel = self._channel_or_404(channel_id)
        if channel["type"] != CHANNEL_DM and not (
            self.channel_permissions(channel_id, self.bot_id) & Perm.READ_MESSAGE_HISTORY
        ):
            return 200, []
        try:
            limit = int(req.query.get("limit", "50"))
        except ValueError:
            raise _form_error("limit", "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= 100:
            raise _form_error("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        ids = sorted(self._history.get(channel_id, {}))
        if "after" in req.query:
            after = int(req.query["after"])
            picked = [i for i in ids if i > after][:limit]
        elif "around" in req.query:
            around = int(req.query["around"])
            newer = [i for i in ids if i > around][: limit // 2]
            older = [i for i in ids if i <= around][-(limit - len(newer)) :] if limit - len(newer) > 0 else []
            picked = older + newer
        else:
            before = int(req.query["before"]) if "before" in req.query else None
            candidates = [i for i in ids if before is None or i < before]
            picked = candidates[-limit:]
        # Discord always answers newest first, whatever the direction of the query.
        return 200, [self._rest_message(self._history[channel_id][i]) for i in reversed(picked)]

    def _r_get_message(self, req: _Req) -> tuple[int, Any]:
        channel_id = req.sf("channel")
        self._channel_or_404(channel_id)
        return 200, self._rest_message(self._find_message(channel_id, req.sf("message")))

    def _store_files(self, files: Sequence[tuple[str, str | None, bytes]]) -> list[Attachment]:
        out = []
        for filename, content_type, data in files:
            att_id = self._snowflake()
            att = Attachment(
                att_id,
                filename,
                content_type,
                data,
                f"{self.base_url}{CDN_PREFIX}/{att_id}/{filename}",
            )
            self._attachments[att_id] = att
            out.append(att)
        return out

    def _check_send(self, channel: JSON, *, files: bool, reply: bool) -> None:
        if channel["type"] == CHANNEL_DM:
            recipient = int(channel["recipients"][0]["id"])
            shares_guild = any(recipient in g.members for g in self._guilds.values())
            if recipient in self._dms_closed or not shares_guild:
                raise _HTTPError(403, 50007, "Cannot send messages to this user")
            return
        channel_id = int(channel["id"])
        perms = self.channel_permissions(channel_id, self.bot_id)
        if not perms & Perm.VIEW_CHANNEL:
            raise _HTTPError(403, 50001, "Missing Access")
        needed = Perm.SEND_MESSAGES_IN_THREADS if channel["type"] in THREAD_TYPES else Perm.SEND_MESSAGES
        if files:
            needed |= Perm.ATTACH_FILES
        if reply:
            needed |= Perm.READ_MESSAGE_HISTORY
        if perms & needed != needed:
            raise _HTTPError(403, 50013, "Missing Permissions")
        if channel["type"] in THREAD_TYPES and channel["thread_metadata"].get("locked"):
            raise _HTTPError(403, 50083, "Thread is archived")

    def _reference(self, channel: JSON, body: JSON) -> JSON | None:
        ref = body.get("message_reference")
        if not ref:
            return None
        ref_id = ref.get("message_id")
        ref_channel = int(ref.get("channel_id") or channel["id"])
        exists = ref_id is not None and int(ref_id) in self._history.get(ref_channel, {})
        if not exists:
            if ref.get("fail_if_not_exists", True):
                raise _form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
            return None
        out: JSON = {
            "type": int(ref.get("type", 0)),
            "message_id": str(ref_id),
            "channel_id": str(ref_channel),
        }
        if channel.get("guild_id"):
            out["guild_id"] = channel["guild_id"]
        return out

    async def _r_send(self, req: _Req) -> tuple[int, Any]:
        channel_id = req.sf("channel")
        channel = self._channels.get(channel_id)
        if channel is None:
            raise _HTTPError(404, 10003, "Unknown Channel")
        body: JSON = req.json or {}
        self._validate_message(body, files=len(req.files))
        self._check_send(channel, files=bool(req.files), reply=bool(body.get("message_reference")))
        reference = self._reference(channel, body)
        attachments = self._store_files(req.files)
        flags = int(body.get("flags") or 0) & (
            MSG_FLAG_SUPPRESS_EMBEDS | MSG_FLAG_SUPPRESS_NOTIFICATIONS | MSG_FLAG_COMPONENTS_V2
        )
        message = self._new_message(
            channel_id,
            self.bot_id,
            str(body.get("content") or ""),
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            attachments=attachments,
            reference=reference,
            flags=flags,
            extra={"nonce": body["nonce"]} if body.get("nonce") is not None else None,
        )
        self._store(message)
        is_dm = channel["type"] == CHANNEL_DM
        self.sent.append(
            SentMessage(
                channel_id=channel_id,
                message_id=int(message["id"]),
                content=body.get("content"),
                embeds=list(body.get("embeds") or []),
                components=list(message["components"]),
                ephemeral=False,
                reference=reference,
                via="dm" if is_dm else "channel",
                guild_id=int(channel["guild_id"]) if not is_dm else None,
                recipient_id=int(channel["recipients"][0]["id"]) if is_dm else None,
                flags=flags,
                attachments=attachments,
                payload=body,
            )
        )
        self._notify()
        await self._dispatch_message("MESSAGE_CREATE", message)
        return 200, self._rest_message(message)

    def _apply_edit(self, message: JSON, body: JSON, files: Sequence[tuple[str, str | None, bytes]]) -> None:
        if "content" in body:
            message["content"] = body["content"] or ""
        if "embeds" in body:
            message["embeds"] = copy.deepcopy(body["embeds"] or [])
        if "components" in body:
            fresh = self._new_message(
                int(message["channel_id"]), self.bot_id, "", components=body["components"] or []
            )
            message["components"] = fresh["components"]
        if "attachments" in body or files:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in keep]
            message["attachments"] = kept + [a.payload() for a in self._store_files(files)]
        if "flags" in body and body["flags"] is not None:
            keep_flags = int(message["flags"]) & (MSG_FLAG_EPHEMERAL | MSG_FLAG_COMPONENTS_V2)
            message["flags"] = keep_flags | (int(body["flags"]) & MSG_FLAG_SUPPRESS_EMBEDS)
        message["edited_timestamp"] = _iso(_now())

    async def _r_edit_message(self, req: _Req) -> tuple[int, Any]:
        channel_id = req.sf("channel")
        channel = self._channel_or_404(channel_id)
        message = self._find_message(channel_id, req.sf("message"))
        body: JSON = req.json or {}
        if int(message["author"]["id"]) != self.bot_id:
            raise _HTTPError(403, 50005, "Cannot edit a message authored by another user")
        self._validate_message(body, require_something=False)
        self._apply_edit(message, body, req.files)
        self.edits.append(
            EditedMessage(
                channel_id,
                int(message["id"]),
                body.get("content"),
                body.get("embeds"),
                message["components"] if "components" in body else None,
                "dm" if channel["type"] == CHANNEL_DM else "channel",
                False,
                payload=body,
            )
        )
        self._notify()
        await self._dispatch_message("MESSAGE_UPDATE", message)
        return 200, self._rest_message(message)

    async def _r_delete_message(self, req: _Req) -> tuple[int, Any]:
        channel_id = req.sf("channel")
        channel = self._channel_or_404(channel_id)
        message = self._find_message(channel_id, req.sf("message"))
        if int(message["author"]["id"]) != self.bot_id:
            if channel["type"] == CHANNEL_DM:
                raise _HTTPError(403, 50003, "Cannot execute action on a DM channel")
            if not self.channel_permissions(channel_id, self.bot_id) & Perm.MANAGE_MESSAGES:
                raise _HTTPError(403, 50013, "Missing Permissions")
        await self._delete_message(message)
        return 204, None

    async def _delete_message(self, message: JSON, *, by_bot: bool = True) -> None:
        message_id = int(message["id"])
        channel_id = int(message["channel_id"])
        self._history.get(channel_id, {}).pop(message_id, None)
        self._messages.pop(message_id, None)
        if by_bot:
            self.deleted.append((channel_id, message_id))
        self._notify()
        if message_id in self._ephemeral:
            return
        data: JSON = {"id": str(message_id), "channel_id": str(channel_id)}
        if "guild_id" in message:
            data["guild_id"] = message["guild_id"]
        await self._dispatch("MESSAGE_DELETE", data, need=self._message_intent(message))

    def _r_react(self, req: _Req) -> tuple[int, Any]:
        channel_id = req.sf("channel")
        self._channel_or_404(channel_id)
        self._find_message(channel_id, req.sf("message"))
        self.reactions.append((channel_id, req.sf("message"), req.arg("emoji")))
        self._notify()
        return 204, None

    def _r_typing(self, req: _Req) -> tuple[int, Any]:
        self._channel_or_404(req.sf("channel"))
        return 204, None

    async def _create_thread(
        self, parent_id: int, name: str, thread_type: int, message_id: int | None
    ) -> JSON:
        parent = self._channel_or_404(parent_id)
        if "guild_id" not in parent or parent["type"] in THREAD_TYPES:
            raise _HTTPError(400, 50024, "Cannot execute action on this channel type")
        guild_id = int(parent["guild_id"])
        needed = (
            Perm.CREATE_PUBLIC_THREADS
            if thread_type != CHANNEL_PRIVATE_THREAD
            else Perm.CREATE_PRIVATE_THREADS
        )
        if not self.channel_permissions(parent_id, self.bot_id) & needed:
            raise _HTTPError(403, 50013, "Missing Permissions")
        thread_id = message_id if message_id is not None else self._snowflake()
        thread = self.add_channel(
            guild_id, thread_id, name, thread_type, parent_id=parent_id, owner_id=self.bot_id
        )
        await self._dispatch(
            "THREAD_CREATE", dict(copy.deepcopy(thread), newly_created=True), need=Intents.GUILDS
        )
        return thread

    async def _r_thread_from_message(self, req: _Req) -> tuple[int, Any]:
        self._find_message(req.sf("channel"), req.sf("message"))
        body: JSON = req.json or {}
        thread = await self._create_thread(
            req.sf("channel"),
            str(body.get("name") or "thread"),
            CHANNEL_PUBLIC_THREAD,
            req.sf("message"),
        )
        return 201, copy.deepcopy(thread)

    async def _r_thread(self, req: _Req) -> tuple[int, Any]:
        body: JSON = req.json or {}
        thread = await self._create_thread(
            req.sf("channel"),
            str(body.get("name") or "thread"),
            int(body.get("type") or CHANNEL_PRIVATE_THREAD),
            None,
        )
        return 201, copy.deepcopy(thread)

    def _guild_or_404(self, req: _Req) -> _Guild:
        guild = self._guilds.get(req.sf("guild"))
        if guild is None:
            raise _HTTPError(404, 10004, "Unknown Guild")
        return guild

    def _r_get_guild(self, req: _Req) -> tuple[int, Any]:
        guild = self._guild_or_404(req)
        body = self._guild_payload(guild)
        if req.query.get("with_counts") in ("true", "1", "True"):
            body["approximate_member_count"] = len(guild.members)
            body["approximate_presence_count"] = 0
        return 200, body

    def _r_guild_channels(self, req: _Req) -> tuple[int, Any]:
        guild = self._guild_or_404(req)
        return 200, [
            copy.deepcopy(self._channels[c])
            for c in guild.channel_ids
            if self._channels[c]["type"] not in THREAD_TYPES
        ]

    def _r_guild_roles(self, req: _Req) -> tuple[int, Any]:
        guild = self._guild_or_404(req)
        return 200, [copy.deepcopy(r) for r in guild.roles.values()]

    async def _r_create_role(self, req: _Req) -> tuple[int, Any]:
        guild = self._guild_or_404(req)
        self._require_guild_perm(guild, Perm.MANAGE_ROLES)
        body: JSON = req.json or {}
        permissions = int(body.get("permissions") or 0)
        bot_perms = self.base_permissions(guild.id, self.bot_id)
        if permissions & ~bot_perms:
            raise _HTTPError(403, 50013, "Missing Permissions")
        for role in guild.roles.values():
            if int(role["position"]) >= 1 and int(role["id"]) != guild.id:
                role["position"] = int(role["position"]) + 1
        role_id = self._snowflake()
        role = self._role_payload(role_id, str(body.get("name") or "new role"), permissions, 1)
        role.update({k: body[k] for k in ("hoist", "mentionable", "color") if k in body})
        guild.roles[role_id] = role
        await self._dispatch(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(guild.id), "role": copy.deepcopy(role)},
            need=Intents.GUILDS,
        )
        return 200, copy.deepcopy(role)

    def _r_list_members(self, req: _Req) -> tuple[int, Any]:
        guild = self._guild_or_404(req)
        if not self._allowed["members"]:
            raise _HTTPError(403, 50001, "Missing Access")
        limit = int(req.query.get("limit", "1"))
        if not 1 <= limit <= 1000:
            raise _form_error("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 1000.")
        after = int(req.query.get("after", "0"))
        ids = sorted(u for u in guild.members if u > after)[:limit]
        return 200, [self.member_payload(guild.id, u) for u in ids]

    def _r_get_member(self, req: _Req) -> tuple[int, Any]:
        guild = self._guild_or_404(req)
        if req.sf("user") not in guild.members:
            raise _HTTPError(404, 10007, "Unknown Member")
        return 200, self.member_payload(guild.id, req.sf("user"))

    async def _change_role(self, req: _Req, add: bool) -> tuple[int, Any]:
        guild = self._guild_or_404(req)
        user_id, role_id = req.sf("user"), req.sf("role")
        member = guild.members.get(user_id)
        if member is None:
            raise _HTTPError(404, 10007, "Unknown Member")
        role = guild.roles.get(role_id)
        if role is None:
            raise _HTTPError(404, 10011, "Unknown Role")
        self._require_guild_perm(guild, Perm.MANAGE_ROLES)
        owner = self.bot_id == guild.owner_id
        if not owner and (
            int(role["position"]) >= self._role_position(guild, self.bot_id) or role.get("managed")
        ):
            raise _HTTPError(403, 50013, "Missing Permissions")
        if add and role_id not in member.roles:
            member.roles.append(role_id)
        elif not add and role_id in member.roles:
            member.roles.remove(role_id)
        member.pending = False
        data = self.member_payload(guild.id, user_id)
        data["guild_id"] = str(guild.id)
        await self._dispatch("GUILD_MEMBER_UPDATE", data, need=Intents.GUILD_MEMBERS)
        return 204, None

    async def _r_add_role(self, req: _Req) -> tuple[int, Any]:
        return await self._change_role(req, True)

    async def _r_remove_role(self, req: _Req) -> tuple[int, Any]:
        return await self._change_role(req, False)

    def _r_create_dm(self, req: _Req) -> tuple[int, Any]:
        body: JSON = req.json or {}
        try:
            user_id = int(body["recipient_id"])
        except (KeyError, TypeError, ValueError):
            raise _form_error("recipient_id", "BASE_TYPE_REQUIRED", "This field is required") from None
        if user_id not in self._users:
            raise _HTTPError(400, 50033, "Invalid Recipient(s)")
        return 200, self.channel_payload(self.dm_channel_id(user_id))

    # ------------------------------------------------------------------ interactions (REST side)

    def _interaction_state(self, token: str, interaction_id: int | None = None) -> _Interaction:
        state = self._interactions.get(token)
        if state is None or (interaction_id is not None and state.id != interaction_id):
            raise _HTTPError(404, 10062, "Unknown interaction")
        return state

    def _interaction_message(
        self,
        state: _Interaction,
        data: JSON,
        files: Sequence[tuple[str, str | None, bytes]],
        *,
        ephemeral: bool,
        loading: bool = False,
    ) -> JSON:
        payload = state.payload
        channel_id = int(payload["channel_id"])
        user = payload.get("member", {}).get("user") or payload.get("user")
        msg_type = 20 if payload["type"] == 2 else 0
        flags = int(data.get("flags") or 0) & (
            MSG_FLAG_SUPPRESS_EMBEDS | MSG_FLAG_SUPPRESS_NOTIFICATIONS | MSG_FLAG_COMPONENTS_V2
        )
        if ephemeral:
            flags |= MSG_FLAG_EPHEMERAL
        if loading:
            flags |= MSG_FLAG_LOADING
        extra: JSON = {
            "application_id": str(self.application_id),
            "webhook_id": str(self.application_id),
            "interaction_metadata": {
                "id": str(state.id),
                "type": payload["type"],
                "user": user,
                "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
            },
        }
        if payload["type"] == 2:
            extra["interaction"] = {
                "id": str(state.id),
                "type": 2,
                "name": payload["data"]["name"],
                "user": user,
            }
        message = self._new_message(
            channel_id,
            self.bot_id,
            str(data.get("content") or ""),
            embeds=data.get("embeds") or [],
            components=data.get("components") or [],
            attachments=self._store_files(files),
            flags=flags,
            msg_type=msg_type,
            extra=extra,
        )
        self._store(message, ephemeral=ephemeral)
        state.message_ids.add(int(message["id"]))
        return message

    def _record_sent(self, state: _Interaction, message: JSON, data: JSON, via: str, ephemeral: bool) -> None:
        payload = state.payload
        guild_id = payload.get("guild_id")
        channel = self._channels.get(int(payload["channel_id"]), {})
        recipient = None
        if channel.get("type") == CHANNEL_DM:
            recipient = int(channel["recipients"][0]["id"])
        self.sent.append(
            SentMessage(
                channel_id=int(payload["channel_id"]),
                message_id=int(message["id"]),
                content=data.get("content"),
                embeds=list(data.get("embeds") or []),
                components=list(message["components"]),
                ephemeral=ephemeral,
                reference=None,
                via=via,
                guild_id=int(guild_id) if guild_id else None,
                recipient_id=recipient,
                interaction_id=state.id,
                flags=int(message["flags"]),
                attachments=[self._attachments[int(a["id"])] for a in message["attachments"]],
                payload=data,
            )
        )

    async def _r_callback(self, req: _Req) -> tuple[int, Any]:
        state = self._interaction_state(req.arg("token"), req.sf("iid"))
        loop = asyncio.get_running_loop()
        if state.responded is None and loop.time() - state.created > self.interaction_ack_deadline:
            raise _HTTPError(404, 10062, "Unknown interaction")
        if state.responded is not None:
            raise _HTTPError(400, 40060, "Interaction has already been acknowledged.")
        body: JSON = req.json or {}
        cb_type = int(body.get("type", 0))
        data: JSON = body.get("data") or {}
        itype = int(state.payload["type"])
        allowed = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}.get(itype, set())
        if cb_type == 7 and itype == 5 and state.component_message_id is None:
            allowed = allowed - {7}
        if cb_type not in allowed:
            raise _form_error(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid"
            )
        resource: JSON | None = None
        response_meta: JSON = {"id": str(state.id), "type": itype}
        if cb_type == 4:
            self._validate_message(data, files=len(req.files))
            ephemeral = bool(int(data.get("flags") or 0) & MSG_FLAG_EPHEMERAL)
            message = self._interaction_message(state, data, req.files, ephemeral=ephemeral)
            state.original_message_id = int(message["id"])
            self._record_sent(state, message, data, "interaction", ephemeral)
            resource = {"type": 4, "message": self._rest_message(message)}
            response_meta.update(
                response_message_id=message["id"],
                response_message_loading=False,
                response_message_ephemeral=ephemeral,
            )
        elif cb_type == 5:
            ephemeral = bool(int(data.get("flags") or 0) & MSG_FLAG_EPHEMERAL)
            message = self._interaction_message(state, {}, (), ephemeral=ephemeral, loading=True)
            state.original_message_id = int(message["id"])
            state.loading = True
            state.defer_ephemeral = ephemeral
            resource = {"type": 5, "message": self._rest_message(message)}
            response_meta.update(
                response_message_id=message["id"],
                response_message_loading=True,
                response_message_ephemeral=ephemeral,
            )
        elif cb_type == 6:
            state.original_message_id = state.component_message_id
        elif cb_type == 7:
            self._validate_message(data, require_something=False)
            target_id = state.component_message_id
            assert target_id is not None
            message = self._messages[target_id]
            self._apply_edit(message, data, req.files)
            state.original_message_id = target_id
            ephemeral = target_id in self._ephemeral
            self.edits.append(
                EditedMessage(
                    int(message["channel_id"]),
                    target_id,
                    data.get("content"),
                    data.get("embeds"),
                    message["components"] if "components" in data else None,
                    "interaction",
                    ephemeral,
                    state.id,
                    data,
                )
            )
            resource = {"type": 7, "message": self._rest_message(message)}
            response_meta.update(
                response_message_id=message["id"],
                response_message_loading=False,
                response_message_ephemeral=ephemeral,
            )
        elif cb_type == 9:
            self._validate_modal(data)
            resource = {"type": 9}
        state.responded = cb_type
        record = InteractionResponse(state.id, state.token, cb_type, data or None, state.payload)
        self.interaction_responses.append(record)
        if cb_type == 9:
            self.modals.append(record)
        self._notify()
        target = self._messages.get(state.original_message_id or 0)
        if target is not None and cb_type in (4, 5, 7) and int(target["id"]) not in self._ephemeral:
            event = "MESSAGE_UPDATE" if cb_type == 7 else "MESSAGE_CREATE"
            await self._dispatch_message(event, target)
        if req.query.get("with_response") in ("1", "true", "True"):
            answer: JSON = {"interaction": response_meta}
            if resource is not None:
                answer["resource"] = resource
            return 200, answer
        return 204, None

    def _webhook_state(self, req: _Req) -> _Interaction:
        if req.sf("app") != self.application_id:
            raise _HTTPError(404, 10015, "Unknown Webhook")
        state = self._interactions.get(req.arg("token"))
        if state is None or state.responded is None:
            raise _HTTPError(404, 10015, "Unknown Webhook")
        return state

    def _webhook_message(self, state: _Interaction, wmid: str) -> JSON:
        if wmid == "@original":
            message_id = state.original_message_id
        else:
            message_id = int(wmid)
            if message_id not in state.message_ids and message_id != state.component_message_id:
                message_id = None
        if message_id is None or message_id not in self._messages:
            raise _HTTPError(404, 10008, "Unknown Message")
        return self._messages[message_id]

    async def _r_followup(self, req: _Req) -> tuple[int, Any]:
        state = self._webhook_state(req)
        data: JSON = req.json or {}
        self._validate_message(data, files=len(req.files))
        if state.loading and state.original_message_id is not None:
            # Discord turns the first follow-up after a "thinking" defer into that message,
            # keeping the defer's ephemerality whatever the follow-up's flags say.
            message = self._messages[state.original_message_id]
            self._apply_edit(message, data, req.files)
            message["flags"] = int(message["flags"]) & ~MSG_FLAG_LOADING
            state.loading = False
            ephemeral = state.defer_ephemeral
            self._record_sent(state, message, data, "followup", ephemeral)
            self._notify()
            if not ephemeral:
                await self._dispatch_message("MESSAGE_UPDATE", message)
        else:
            ephemeral = bool(int(data.get("flags") or 0) & MSG_FLAG_EPHEMERAL)
            message = self._interaction_message(state, data, req.files, ephemeral=ephemeral)
            self._record_sent(state, message, data, "followup", ephemeral)
            self._notify()
            if not ephemeral:
                await self._dispatch_message("MESSAGE_CREATE", message)
        if req.query.get("wait") in ("1", "true", "True"):
            return 200, self._rest_message(message)
        return 204, None

    def _r_webhook_get(self, req: _Req) -> tuple[int, Any]:
        state = self._webhook_state(req)
        return 200, self._rest_message(self._webhook_message(state, req.arg("wmid")))

    async def _r_webhook_edit(self, req: _Req) -> tuple[int, Any]:
        state = self._webhook_state(req)
        message = self._webhook_message(state, req.arg("wmid"))
        data: JSON = req.json or {}
        self._validate_message(data, require_something=False)
        self._apply_edit(message, data, req.files)
        message_id = int(message["id"])
        ephemeral = message_id in self._ephemeral
        if state.loading and message_id == state.original_message_id:
            message["flags"] = int(message["flags"]) & ~MSG_FLAG_LOADING
            state.loading = False
            self._record_sent(state, message, data, "followup", ephemeral)
        else:
            self.edits.append(
                EditedMessage(
                    int(message["channel_id"]),
                    message_id,
                    data.get("content"),
                    data.get("embeds"),
                    message["components"] if "components" in data else None,
                    "interaction",
                    ephemeral,
                    state.id,
                    data,
                )
            )
        self._notify()
        if not ephemeral:
            await self._dispatch_message("MESSAGE_UPDATE", message)
        return 200, self._rest_message(message)

    async def _r_webhook_delete(self, req: _Req) -> tuple[int, Any]:
        state = self._webhook_state(req)
        message = self._webhook_message(state, req.arg("wmid"))
        await self._delete_message(message)
        return 204, None

    # ------------------------------------------------------------------ gateway

    async def _send_frame(self, conn: _Conn, frame: JSON) -> bool:
        async with conn.lock:
            if conn.ws.closed:
                return False
            try:
                await conn.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return False
        return True

    async def _session_send(self, session: _Session, event: str, data: JSON) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(frame)
        if session.conn is not None:
            await self._send_frame(session.conn, frame)

    async def _dispatch(
        self,
        event: str,
        data: JSON | Callable[[_Session], JSON | None],
        *,
        need: int = 0,
    ) -> int:
        """Send a dispatch to every live session whose intents include ``need``.

        Events for a session whose socket is down are kept and replayed on RESUME.
        Returns the number of sessions it went to.
        """
        count = 0
        for session in list(self._sessions.values()):
            if not session.alive or not session.ready:
                continue
            if need and (session.intents & need) != need:
                continue
            body = data(session) if callable(data) else copy.deepcopy(data)
            if body is None:
                continue
            await self._session_send(session, event, body)
            count += 1
        return count

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send a raw dispatch event (``t``/``d``) to every live bot session.

        Args:
            event: Event name, e.g. ``"CHANNEL_CREATE"``.
            data: The event's ``d``.

        Returns:
            How many sessions it was sent to.
        """
        return await self._dispatch(event, data)

    def _message_intent(self, message: JSON) -> int:
        return Intents.GUILD_MESSAGES if "guild_id" in message else Intents.DIRECT_MESSAGES

    async def _dispatch_message(self, event: str, message: JSON) -> int:
        return await self._dispatch(event, lambda s: self._gateway_message(message, s))

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Conn(ws, transport=request.transport)
        self._conns.add(conn)
        try:
            await self._send_frame(
                conn,
                {
                    "op": 10,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                },
            )
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        frame = json.loads(msg.data)
                    except ValueError:
                        await self._server_close(conn, 4002, "Error while decoding payload.")
                        break
                    await self._on_frame(conn, frame)
                elif msg.type == WSMsgType.BINARY:
                    await self._server_close(conn, 4002, "Error while decoding payload.")
                    break
                else:
                    break
        finally:
            self._conns.discard(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                # A client that closes with 1000/1001 ends its session; anything else may resume.
                if not conn.closed_by_server and ws.close_code in (1000, 1001):
                    session.alive = False
            self._notify()
        return ws

    async def _server_close(self, conn: _Conn, code: int, reason: str) -> None:
        conn.closed_by_server = True
        async with conn.lock:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code, message=reason.encode())

    async def _on_frame(self, conn: _Conn, frame: JSON) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == 1:
            await self._send_frame(conn, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._on_identify(conn, data or {})
        elif op == 6:
            await self._on_resume(conn, data or {})
        elif op == 8:
            await self._on_request_members(conn, data or {})
        elif op in (3, 4):
            return
        else:
            await self._server_close(conn, 4001, "Unknown opcode.")

    async def _on_identify(self, conn: _Conn, data: JSON) -> None:
        if conn.session is not None:
            await self._server_close(conn, 4005, "Already authenticated.")
            return
        self.identify_payloads.append(copy.deepcopy(data))
        self._notify()
        if data.get("token") != self.token:
            await self._server_close(conn, 4004, "Authentication failed.")
            return
        if "intents" not in data:
            await self._server_close(conn, 4013, "Invalid intent(s).")
            return
        intents = int(data["intents"])
        disallowed = 0
        if not self._allowed["message_content"]:
            disallowed |= Intents.MESSAGE_CONTENT
        if not self._allowed["members"]:
            disallowed |= Intents.GUILD_MEMBERS
        if not self._allowed["presences"]:
            disallowed |= Intents.GUILD_PRESENCES
        if intents & disallowed:
            await self._server_close(conn, 4014, "Disallowed intent(s).")
            return
        session = _Session(secrets.token_hex(16), intents, copy.deepcopy(data), conn=conn)
        conn.session = session
        self._sessions[session.id] = session
        ready = {
            "v": 10,
            "user": self._bot_user_payload(),
            "user_settings": {},
            "guilds": [{"id": str(g), "unavailable": True} for g in self._guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "auth": {},
            "application": {"id": str(self.application_id), "flags": self._application_flags()},
            "_trace": ["fake-discord"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._session_send(session, "READY", ready)
        for guild in list(self._guilds.values()):
            await self._session_send(session, "GUILD_CREATE", self._guild_create_payload(guild, intents))
        session.ready = True
        self._notify()

    async def _on_resume(self, conn: _Conn, data: JSON) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if data.get("token") != self.token:
            await self._server_close(conn, 4004, "Authentication failed.")
            return
        if session is None or not session.alive:
            await self._send_frame(conn, {"op": 9, "d": False, "s": None, "t": None})
            return
        if session.conn is not None and session.conn is not conn:
            await self._server_close(session.conn, 4000, "Session resumed elsewhere.")
        session.conn = conn
        conn.session = session
        seq = int(data.get("seq") or 0)
        for frame in [f for f in session.log if f["s"] > seq]:
            await self._send_frame(conn, frame)
        self.resumes += 1
        await self._session_send(session, "RESUMED", {"_trace": ["fake-discord"]})
        self._notify()

    async def _on_request_members(self, conn: _Conn, data: JSON) -> None:
        session = conn.session
        if session is None:
            await self._server_close(conn, 4003, "Not authenticated.")
            return
        guild_ids = data.get("guild_id")
        for guild_id in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            if guild_id is None:
                continue
            guild = self._guilds.get(int(guild_id))
            if guild is None:
                continue
            query = data.get("query")
            limit = int(data.get("limit") or 0)
            user_ids = [int(u) for u in data.get("user_ids") or []]
            if user_ids:
                found = [u for u in user_ids if u in guild.members]
                not_found = [str(u) for u in user_ids if u not in guild.members]
            else:
                if not session.intents & Intents.GUILD_MEMBERS and not query:
                    await self._server_close(conn, 4013, "Invalid intent(s).")
                    return
                prefix = (query or "").lower()
                found = [
                    u
                    for u, m in guild.members.items()
                    if str(self._users[u]["username"]).lower().startswith(prefix)
                    or (m.nick or "").lower().startswith(prefix)
                ]
                if limit:
                    found = found[:limit]
                not_found = []
            chunks = [found[i : i + 1000] for i in range(0, len(found), 1000)] or [[]]
            for index, chunk in enumerate(chunks):
                body: JSON = {
                    "guild_id": str(guild.id),
                    "members": [self.member_payload(guild.id, u) for u in chunk],
                    "chunk_index": index,
                    "chunk_count": len(chunks),
                    "not_found": not_found if index == 0 else [],
                }
                if data.get("nonce"):
                    body["nonce"] = data["nonce"]
                await self._session_send(session, "GUILD_MEMBERS_CHUNK", body)

    async def disconnect_gateway(self, code: int = 4000, *, resumable: bool = True) -> None:
        """Close every bot gateway connection from the server side.

        Args:
            code: Close code (4000 and most others make discord.py reconnect and RESUME;
                4004/4010-4014 make it give up).
            resumable: If False the sessions are dropped, so RESUME gets INVALID_SESSION and
                discord.py identifies again (it waits 5 s before re-identifying, as it does live).
        """
        for conn in list(self._conns):
            if not resumable and conn.session is not None:
                conn.session.alive = False
            await self._server_close(conn, code, "Disconnected by test.")
        if not resumable:
            for session in self._sessions.values():
                session.alive = False

    async def drop_gateway(self) -> None:
        """Cut every bot gateway connection at the TCP level (no close frame), as a network drop does.

        The sessions stay resumable: discord.py reconnects and RESUMEs, and events dispatched
        while no socket was up are replayed then.
        """
        for conn in list(self._conns):
            conn.closed_by_server = True
            if conn.transport is not None:
                conn.transport.abort()
        self._notify()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on every connection; discord.py reconnects and RESUMEs."""
        for conn in list(self._conns):
            await self._send_frame(conn, {"op": 7, "d": None, "s": None, "t": None})

    async def wait_until_resumed(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` RESUMEs have succeeded in total."""

        def check() -> bool | None:
            return True if self.resumes >= count and any(s.conn for s in self._sessions.values()) else None

        await self._wait_until(check, timeout, f"fewer than {count} resumes within {timeout}s")

    # ------------------------------------------------------------------ user actions

    def _default_guild_of(self, channel_id: int) -> int | None:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise FakeDiscordError(f"unknown channel {channel_id}")
        guild_id = channel.get("guild_id")
        return int(guild_id) if guild_id is not None else None

    def _user_attachments(self, attachments: Sequence[tuple[str, bytes]] | None) -> list[Attachment]:
        files = [(name, _guess_type(name), data) for name, data in attachments or []]
        return self._store_files(files)

    def _check_user_can_post(self, channel_id: int, user_id: int) -> None:
        channel = self._channels[channel_id]
        if channel["type"] == CHANNEL_DM:
            if int(channel["recipients"][0]["id"]) != user_id:
                raise FakeDiscordError(f"user {user_id} is not in DM channel {channel_id}")
            return
        guild = self._guilds[int(channel["guild_id"])]
        if user_id not in guild.members:
            raise FakeDiscordError(f"user {user_id} is not a member of guild {guild.id}")
        needed = Perm.SEND_MESSAGES_IN_THREADS if channel["type"] in THREAD_TYPES else Perm.SEND_MESSAGES
        if not self.channel_permissions(channel_id, user_id) & needed:
            raise FakeDiscordError(f"user {user_id} may not post in channel {channel_id}")

    async def user_says(
        self,
        channel_id: int,
        user_id: int,
        content: str,
        *,
        reply_to: int | None = None,
        attachments: Sequence[tuple[str, bytes]] | None = None,
    ) -> JSON:
        """A user posts a message: stored in history and dispatched as MESSAGE_CREATE.

        Args:
            channel_id: A guild text channel, thread or DM channel (see :meth:`dm_channel_id`).
            user_id: The author (must be a member who may post there).
            content: The text (``<@id>`` mentions are resolved).
            reply_to: Id of a message in the same channel to reply to.
            attachments: ``(filename, bytes)`` files, served by the fake's CDN.

        Returns:
            The stored message object (with ``guild_id``).
        """
        self._check_user_can_post(channel_id, user_id)
        reference = None
        if reply_to is not None:
            channel = self._channels[channel_id]
            reference = {"type": 0, "message_id": str(reply_to), "channel_id": str(channel_id)}
            if channel.get("guild_id"):
                reference["guild_id"] = channel["guild_id"]
        message = self._new_message(
            channel_id,
            user_id,
            content,
            attachments=self._user_attachments(attachments),
            reference=reference,
        )
        self._store(message)
        await self._dispatch_message("MESSAGE_CREATE", message)
        return message

    async def user_dms(self, user_id: int, content: str, **kwargs: Any) -> JSON:
        """A user writes to the bot in their DM channel (created if needed), as in user_says."""
        return await self.user_says(self.dm_channel_id(user_id), user_id, content, **kwargs)

    def message_while_offline(
        self, channel_id: int, user_id: int, content: str, *, at: datetime | None = None
    ) -> JSON:
        """Store a user's message in history without dispatching it (for catch-up tests).

        Args:
            channel_id: The channel.
            user_id: The author.
            content: The text.
            at: Backdate the message (its snowflake and timestamp) to this time.

        Returns:
            The stored message.
        """
        self._check_user_can_post(channel_id, user_id)
        message = self._new_message(channel_id, user_id, content, at=at)
        self._store(message)
        return message

    async def user_edits(self, channel_id: int, message_id: int, content: str) -> JSON:
        """The author edits their message: stored, and dispatched as a full MESSAGE_UPDATE."""
        message = self._history.get(channel_id, {}).get(message_id)
        if message is None:
            raise FakeDiscordError(f"unknown message {message_id} in channel {channel_id}")
        message["content"] = content
        message["edited_timestamp"] = _iso(_now())
        fresh = self._new_message(channel_id, int(message["author"]["id"]), content)
        message["mentions"] = fresh["mentions"]
        message["mention_roles"] = fresh["mention_roles"]
        await self._dispatch_message("MESSAGE_UPDATE", message)
        return message

    async def user_deletes(self, channel_id: int, message_id: int) -> None:
        """A user's message is deleted: removed and dispatched as MESSAGE_DELETE."""
        message = self._history.get(channel_id, {}).get(message_id)
        if message is None:
            raise FakeDiscordError(f"unknown message {message_id} in channel {channel_id}")
        await self._delete_message(message, by_bot=False)

    async def member_joins(
        self, guild_id: int, user_id: int, username: str | None = None, *, pending: bool = False
    ) -> JSON:
        """A user joins a guild: added as a member and dispatched as GUILD_MEMBER_ADD.

        Args:
            guild_id: The guild.
            user_id: The user (created when unknown).
            username: Username for a new user.
            pending: Membership screening not yet passed.

        Returns:
            The member payload.
        """
        self.add_member(guild_id, user_id, username)
        self._guilds[guild_id].members[user_id].pending = pending
        data = self.member_payload(guild_id, user_id)
        data["guild_id"] = str(guild_id)
        await self._dispatch("GUILD_MEMBER_ADD", data, need=Intents.GUILD_MEMBERS)
        return data

    async def member_leaves(self, guild_id: int, user_id: int) -> None:
        """A member leaves: removed and dispatched as GUILD_MEMBER_REMOVE."""
        self.remove_member(guild_id, user_id)
        data = {"guild_id": str(guild_id), "user": self.user_payload(user_id)}
        await self._dispatch("GUILD_MEMBER_REMOVE", data, need=Intents.GUILD_MEMBERS)

    async def member_updated(self, guild_id: int, user_id: int) -> None:
        """Dispatch GUILD_MEMBER_UPDATE with the member's current state (after e.g. role edits)."""
        data = self.member_payload(guild_id, user_id)
        data["guild_id"] = str(guild_id)
        await self._dispatch("GUILD_MEMBER_UPDATE", data, need=Intents.GUILD_MEMBERS)

    async def bot_joins_guild(self, guild_id: int) -> None:
        """Dispatch GUILD_CREATE for a guild added with :meth:`add_guild` after READY."""
        guild = self._guild(guild_id)
        await self._dispatch("GUILD_CREATE", lambda s: self._guild_create_payload(guild, s.intents))

    def _new_interaction(
        self,
        itype: int,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        data: JSON,
        *,
        message: JSON | None = None,
        locale: str = "en-US",
    ) -> JSON:
        interaction_id = self._snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        channel = self.channel_payload(channel_id)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "channel_id": str(channel_id),
            "channel": channel,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            guild = self._guild(guild_id)
            if user_id not in guild.members:
                raise FakeDiscordError(f"user {user_id} is not a member of guild {guild_id}")
            perms = self.channel_permissions(channel_id, user_id)
            if not perms & Perm.VIEW_CHANNEL:
                raise FakeDiscordError(f"user {user_id} cannot see channel {channel_id}")
            if itype == 2 and not perms & Perm.USE_APPLICATION_COMMANDS:
                raise FakeDiscordError(f"user {user_id} may not use commands in {channel_id}")
            channel["permissions"] = str(perms)
            payload.update(
                {
                    "guild_id": str(guild_id),
                    "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
                    "guild_locale": "en-US",
                    "member": self.member_payload(guild_id, user_id, permissions=perms),
                    "app_permissions": str(self.channel_permissions(channel_id, self.bot_id)),
                    "authorizing_integration_owners": {"0": str(guild_id)},
                    "context": 0,
                }
            )
        else:
            payload.update(
                {
                    "user": self.user_payload(user_id),
                    "app_permissions": str(
                        Perm.VIEW_CHANNEL
                        | Perm.SEND_MESSAGES
                        | Perm.EMBED_LINKS
                        | Perm.ATTACH_FILES
                        | Perm.READ_MESSAGE_HISTORY
                        | Perm.ADD_REACTIONS
                        | Perm.USE_EXTERNAL_EMOJIS
                    ),
                    "authorizing_integration_owners": {"0": str(user_id)},
                    "context": 1,
                }
            )
        if message is not None:
            payload["message"] = self._rest_message(message)
        self._interactions[token] = _Interaction(
            interaction_id, token, payload, asyncio.get_running_loop().time()
        )
        return payload

    def _find_command(self, guild_id: int | None, name: str, ctype: int = 1) -> JSON:
        pools = ([self.guild_commands.get(guild_id, [])] if guild_id is not None else []) + [
            self.global_commands
        ]
        for pool in pools:
            for cmd in pool:
                if cmd["name"] == name and int(cmd["type"]) == ctype:
                    return cmd
        raise FakeDiscordError(
            f"command {name!r} is not registered for guild {guild_id} or globally "
            f"(registered: global {[c['name'] for c in self.global_commands]}, "
            f"guild {[c['name'] for c in self.guild_commands.get(guild_id or 0, [])]})"
        )

    def _resolve_option(self, schema: JSON, value: Any, guild_id: int | None, resolved: JSON) -> Any:
        otype = int(schema["type"])
        name = schema["name"]

        def add_user(uid: int) -> None:
            resolved.setdefault("users", {})[str(uid)] = self.user_payload(uid)
            if guild_id is not None and uid in self._guilds[guild_id].members:
                member = self.member_payload(
                    guild_id, uid, with_user=False, permissions=self.base_permissions(guild_id, uid)
                )
                resolved.setdefault("members", {})[str(uid)] = member

        if otype in (OPT_USER, OPT_MENTIONABLE, OPT_ROLE, OPT_CHANNEL):
            snowflake = int(value["id"]) if isinstance(value, dict) else int(value)
            if otype == OPT_USER or (otype == OPT_MENTIONABLE and snowflake in self._users):
                if snowflake not in self._users:
                    raise FakeDiscordError(f"option {name}: unknown user {snowflake}")
                add_user(snowflake)
            elif otype in (OPT_ROLE, OPT_MENTIONABLE):
                if guild_id is None or snowflake not in self._guilds[guild_id].roles:
                    raise FakeDiscordError(f"option {name}: unknown role {snowflake}")
                resolved.setdefault("roles", {})[str(snowflake)] = copy.deepcopy(
                    self._guilds[guild_id].roles[snowflake]
                )
            else:
                channel = self.channel_payload(snowflake)
                if schema.get("channel_types") and channel["type"] not in schema["channel_types"]:
                    raise FakeDiscordError(f"option {name}: channel type {channel['type']} not allowed")
                channel["permissions"] = str(self.channel_permissions(snowflake, self.bot_id))
                resolved.setdefault("channels", {})[str(snowflake)] = channel
            return str(snowflake)
        if otype == OPT_ATTACHMENT:
            filename, data = value
            att = self._user_attachments([(filename, data)])[0]
            resolved.setdefault("attachments", {})[str(att.id)] = att.payload()
            return str(att.id)
        if otype == OPT_INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                raise FakeDiscordError(f"option {name}: {value!r} is not an integer")
        elif otype == OPT_NUMBER:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FakeDiscordError(f"option {name}: {value!r} is not a number")
        elif otype == OPT_BOOLEAN:
            if not isinstance(value, bool):
                raise FakeDiscordError(f"option {name}: {value!r} is not a boolean")
        elif otype == OPT_STRING:
            if not isinstance(value, str):
                raise FakeDiscordError(f"option {name}: {value!r} is not a string")
            if "min_length" in schema and len(value) < int(schema["min_length"]):
                raise FakeDiscordError(f"option {name}: shorter than min_length")
            if "max_length" in schema and len(value) > int(schema["max_length"]):
                raise FakeDiscordError(f"option {name}: longer than max_length")
        if otype in (OPT_INTEGER, OPT_NUMBER):
            if schema.get("min_value") is not None and value < schema["min_value"]:
                raise FakeDiscordError(f"option {name}: below min_value {schema['min_value']}")
            if schema.get("max_value") is not None and value > schema["max_value"]:
                raise FakeDiscordError(f"option {name}: above max_value {schema['max_value']}")
        choices = schema.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise FakeDiscordError(f"option {name}: {value!r} is not one of the choices")
        return value

    def _build_options(
        self,
        schema_options: Sequence[JSON],
        values: Mapping[str, Any],
        guild_id: int | None,
        resolved: JSON,
    ) -> list[JSON]:
        by_name = {o["name"]: o for o in schema_options}
        unknown = set(values) - set(by_name)
        if unknown:
            raise FakeDiscordError(f"unknown options {sorted(unknown)}; command has {sorted(by_name)}")
        out = []
        for schema in schema_options:
            name = schema["name"]
            if name not in values:
                if schema.get("required"):
                    raise FakeDiscordError(f"required option {name!r} missing")
                continue
            value = self._resolve_option(schema, values[name], guild_id, resolved)
            out.append({"name": name, "type": int(schema["type"]), "value": value})
        return out

    async def user_runs_slash(
        self,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        locale: str = "en-US",
    ) -> JSON:
        """A user invokes a registered slash command: INTERACTION_CREATE type 2.

        Args:
            guild_id: The guild, or ``None`` for a DM with the bot.
            channel_id: Where it is run (``None`` with no guild: the user's DM channel).
            user_id: The invoker.
            name: Command name; subcommands as a path: ``"checkins at"``, ``"alerts here"``.
            options: ``{"option": value}`` for the leaf command (USER/ROLE/CHANNEL/MENTIONABLE
                values are ids and get ``resolved`` data; ATTACHMENT values are
                ``(filename, bytes)``), or a raw Discord ``options`` list.
            locale: The user's locale.

        Returns:
            The interaction payload (its ``id`` and ``token`` identify the bot's responses).

        Raises:
            FakeDiscordError: The command is not registered, options do not fit its schema, or
                Discord would not show it to this user (context or default_member_permissions).
        """
        if channel_id is None:
            if guild_id is not None:
                raise FakeDiscordError("a guild slash command needs a channel_id")
            channel_id = self.dm_channel_id(user_id)
        path = name.split()
        command = self._find_command(guild_id, path[0])
        contexts = command.get("contexts")
        if guild_id is None:
            if (
                "guild_id" in command
                or command.get("dm_permission") is False
                or (contexts is not None and 1 not in contexts)
            ):
                raise FakeDiscordError(f"/{path[0]} is not available in DMs")
        else:
            if contexts is not None and 0 not in contexts:
                raise FakeDiscordError(f"/{path[0]} is not available in guilds")
            required = command.get("default_member_permissions")
            if self.enforce_command_permissions and required is not None:
                have = self.channel_permissions(channel_id, user_id)
                if have != Perm.ALL and int(required) & have != int(required):
                    raise FakeDiscordError(
                        f"user {user_id} lacks default_member_permissions {required} for /{path[0]}"
                    )
        resolved: JSON = {}
        if options is not None and not isinstance(options, Mapping):
            leaf: list[JSON] = [copy.deepcopy(dict(o)) for o in options]
        else:
            schema = command.get("options") or []
            chain: list[tuple[str, int]] = []
            for part in path[1:]:
                node = next((o for o in schema if o["name"] == part), None)
                if node is None or int(node["type"]) not in (
                    OPT_SUB_COMMAND,
                    OPT_SUB_COMMAND_GROUP,
                ):
                    raise FakeDiscordError(f"/{name}: no subcommand {part!r}")
                chain.append((part, int(node["type"])))
                schema = node.get("options") or []
            if any(int(o["type"]) in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP) for o in schema):
                raise FakeDiscordError(f"/{name} needs a subcommand: {[o['name'] for o in schema]}")
            leaf = self._build_options(schema, options or {}, guild_id, resolved)
            for part, otype in reversed(chain):
                leaf = [{"name": part, "type": otype, "options": leaf}]
        data: JSON = {
            "id": command["id"],
            "name": command["name"],
            "type": int(command["type"]),
            "options": leaf,
        }
        if resolved:
            data["resolved"] = resolved
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        payload = self._new_interaction(2, guild_id, channel_id, user_id, data, locale=locale)
        await self._dispatch("INTERACTION_CREATE", payload)
        return payload

    async def user_clicks(
        self,
        channel_id: int,
        message_id: int,
        user_id: int,
        custom_id: str,
        *,
        values: Sequence[str] | None = None,
        locale: str = "en-US",
    ) -> JSON:
        """A user presses a button (or picks select ``values``): INTERACTION_CREATE type 3.

        Args:
            channel_id: The message's channel.
            message_id: The message with the component (ephemeral messages work too).
            user_id: Who clicks.
            custom_id: The component's custom_id (must exist and not be disabled).
            values: Selected option values for a select menu.
            locale: The user's locale.

        Returns:
            The interaction payload.
        """
        message = self._messages.get(message_id)
        if message is None or int(message["channel_id"]) != channel_id:
            raise FakeDiscordError(f"unknown message {message_id} in channel {channel_id}")
        component = next(
            (c for c in _walk_components(message.get("components") or []) if c.get("custom_id") == custom_id),
            None,
        )
        if component is None:
            raise FakeDiscordError(
                f"message {message_id} has no component {custom_id!r}; it has "
                f"{_collect_custom_ids(message.get('components') or [])}"
            )
        if component.get("disabled"):
            raise FakeDiscordError(f"component {custom_id!r} is disabled")
        data: JSON = {
            "custom_id": custom_id,
            "component_type": int(component["type"]),
            "id": component.get("id"),
        }
        if component["type"] != 2:
            data["values"] = list(values or [])
            if component["type"] == 3:
                allowed = {o["value"] for o in component.get("options") or []}
                if not set(data["values"]) <= allowed:
                    raise FakeDiscordError(f"values {values} not among the select's options")
        guild_id = self._default_guild_of(channel_id)
        payload = self._new_interaction(
            3, guild_id, channel_id, user_id, data, message=message, locale=locale
        )
        self._interactions[payload["token"]].component_message_id = message_id
        await self._dispatch("INTERACTION_CREATE", payload)
        return payload

    async def user_submits_modal(
        self,
        custom_id: str,
        fields: Mapping[str, str],
        *,
        user_id: int | None = None,
        locale: str = "en-US",
    ) -> JSON:
        """A user submits the modal the bot most recently opened with this custom_id (type 5).

        Args:
            custom_id: The modal's custom_id.
            fields: Text input custom_id to value.
            user_id: Who submits (default: whoever triggered the modal).
            locale: The user's locale.

        Returns:
            The interaction payload.
        """
        opener = next(
            (m for m in reversed(self.modals) if (m.data or {}).get("custom_id") == custom_id), None
        )
        if opener is None:
            raise FakeDiscordError(f"the bot never opened a modal {custom_id!r}")
        source = opener.interaction
        modal_components = (opener.data or {}).get("components") or []
        inputs = {c["custom_id"]: c for c in _walk_components(modal_components) if c.get("type") == 4}
        unknown = set(fields) - set(inputs)
        if unknown:
            raise FakeDiscordError(
                f"modal {custom_id!r} has no inputs {sorted(unknown)}; it has {sorted(inputs)}"
            )
        for cid, comp in inputs.items():
            value = fields.get(cid, "")
            if comp.get("required", True) and not value:
                raise FakeDiscordError(f"required input {cid!r} left empty")
            if value and not int(comp.get("min_length", 0)) <= len(value) <= int(
                comp.get("max_length", 4000)
            ):
                raise FakeDiscordError(f"input {cid!r} length out of range")

        def submitted(components: Sequence[JSON]) -> list[JSON]:
            out: list[JSON] = []
            for comp in components:
                if comp.get("type") == 1:
                    out.append(
                        {
                            "type": 1,
                            "id": comp.get("id"),
                            "components": submitted(comp.get("components") or []),
                        }
                    )
                elif comp.get("type") == 18:
                    out.append(
                        {
                            "type": 18,
                            "id": comp.get("id"),
                            "component": submitted([comp["component"]])[0],
                        }
                    )
                elif comp.get("type") == 4:
                    out.append(
                        {
                            "type": 4,
                            "id": comp.get("id"),
                            "custom_id": comp["custom_id"],
                            "value": fields.get(comp["custom_id"], ""),
                        }
                    )
                else:
                    out.append(copy.deepcopy(comp))
            return out

        data: JSON = {"custom_id": custom_id, "components": submitted(modal_components)}
        invoker: JSON = source.get("member", {}).get("user") or source["user"]
        uid = user_id if user_id is not None else int(invoker["id"])
        guild_id = int(source["guild_id"]) if source.get("guild_id") else None
        channel_id = int(source["channel_id"])
        component_message_id = self._interactions[opener.token].component_message_id
        message = self._messages.get(component_message_id) if component_message_id else None
        payload = self._new_interaction(5, guild_id, channel_id, uid, data, message=message, locale=locale)
        self._interactions[payload["token"]].component_message_id = component_message_id if message else None
        await self._dispatch("INTERACTION_CREATE", payload)
        return payload


def _guess_type(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {
        "csv": "text/csv",
        "txt": "text/plain; charset=utf-8",
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "json": "application/json",
        "pdf": "application/pdf",
    }.get(ext, "application/octet-stream")


def _abandoned(request: web.Request) -> bool:
    """Whether the client closed the connection of ``request`` (it gave up waiting)."""
    transport = request.transport
    return transport is None or transport.is_closing()


@contextlib.contextmanager
def patch_discord(api_base: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` elsewhere.

    Args:
        api_base: e.g. ``"http://127.0.0.1:PORT/api/v10"``.
        gateway_url: e.g. ``"ws://127.0.0.1:PORT/gateway"``.

    Yields:
        Nothing; the old values are restored on exit.
    """
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    old_base = Route.BASE
    old_gateway = DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
