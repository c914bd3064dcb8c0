"""The Telegram platform: its lifecycle (polling or webhook), sending, limits and self-checks.

Guarantees:
    * An update is confirmed to Telegram (the next getUpdates offset, or the webhook's 200)
      only after the inbox returned for every event it produced; if the inbox raises, the
      update is not confirmed and is handled again after a short backoff.
    * Updates of one chat reach the inbox in Telegram's order; chats proceed independently.
    * `perform` raises RateLimited, TransientError or DeliveryError instead of swallowing a
      failure (a timeout or a dropped connection is a TransientError); a text split into
      several messages is never sent twice when a later part has to be retried.
    * A send Telegram took but whose answer was lost (a timeout, a connection dropped after
      processing) cannot be told from one it never got: it is retried, so the chat may show
      it twice, once more per lost answer (Telegram has no idempotency key).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import Bot, InputFile, Message, Update, User
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from adapters.telegram.admins import AdminCache
from adapters.telegram.limits import FloodLimits
from adapters.telegram.menus import build_menus
from adapters.telegram.render import (
    MAX_CALLBACK_ANSWER_CHARS,
    MAX_CAPTION_CHARS,
    MAX_MESSAGE_CHARS,
    escape,
    split_text,
    telegram_length,
    truncate,
)
from adapters.telegram.translate import (
    ALLOWED_UPDATES,
    MAX_ATTACHMENT_BYTES,
    PLATFORM,
    Download,
    PayloadTooLong,
    TranslateContext,
    UserDirectory,
    chat_id_of,
    is_group_chat,
    keyboard,
    reply_kwargs,
    sent_ref,
    target_kwargs,
    text_kwargs,
    translate_update,
    user_ref,
)
from adapters.telegram.webhook import WebhookServer
from bot.core.actions import (
    Action,
    ApproveJoin,
    Button,
    Delivered,
    EditMessage,
    Image,
    Priority,
    SendDirect,
    SendMessage,
    SendPrivateReply,
    ShowForm,
)
from bot.core.commands import CommandInfo
from bot.core.events import Attachment, CommandInvoked, InboundEvent, MemberJoined, MemberLeft
from bot.core.i18n import N_
from bot.core.identity import ChatRef, MessageRef, UserRef
from bot.core.ports import (
    Capabilities,
    DeliveryError,
    Inbox,
    RateLimited,
    TransientError,
    VisibilityReport,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
PRIVACY_PROBLEM = N_(
    "Telegram privacy mode is on: open @BotFather, send /setprivacy, choose this bot and "
    "Disable, then remove the bot from the group and add it again (or make the bot an admin "
    "of the group).")
"""An English message id; the core translates it when it shows the report."""

_JOIN_MEMORY_S = 60.0
_MAX_BACKOFF_S = 30.0
_STOP_GRACE_S = 5.0
_MAX_IN_PROGRESS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramConfig:
    """How the adapter runs; built from the dict the composition root passes to `build`."""

    token: str
    base_url: str = DEFAULT_BASE_URL
    webhook_url: str | None = None
    port: int = 8080
    host: str = "0.0.0.0"  # noqa: S104 - a webhook must be reachable from Telegram
    webhook_secret: str | None = None
    commands: tuple[CommandInfo, ...] = ()
    default_language: str = "en"
    poll_timeout: float = 25.0
    retry_backoff: float = 0.25
    admin_cache_seconds: float = 300.0
    callback_grace: float = 4.0
    max_concurrent_chats: int = 8
    connect_attempts: int = 4
    # Seconds PTB waits on one Bot API call before raising TimedOut (perform maps it to
    # TransientError, so the delivery queue retries). getUpdates adds `poll_timeout` to `read`.
    read_timeout: float = 15.0
    write_timeout: float = 20.0
    connect_timeout: float = 10.0
    pool_timeout: float = 10.0

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> TelegramConfig:
        """Read the composition root's dict; unknown keys are ignored, missing ones defaulted."""
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in config.items() if k in known and v is not None}
        if not values.get("token"):
            raise ValueError("the Telegram adapter needs a token")
        values["commands"] = tuple(values.get("commands", ()))
        return cls(**values)


class TelegramPlatform:
    """Telegram through python-telegram-bot's Bot, with our own update loop."""

    name = PLATFORM
    capabilities = Capabilities(buttons=True, direct_messages=True,
                                max_text_length=MAX_MESSAGE_CHARS, forms=False)

    def __init__(self, config: TelegramConfig) -> None:
        self.config = config
        base_url = config.base_url
        file_url = base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else None
        # getUpdates gets its own connection: PTB's default pool has one per Bot, and a long
        # poll holding it would stall every send.
        self.bot = Bot(
            config.token, base_url=base_url,
            base_file_url=file_url or "https://api.telegram.org/file/bot",
            request=HTTPXRequest(connection_pool_size=32, read_timeout=config.read_timeout,
                                 write_timeout=config.write_timeout,
                                 connect_timeout=config.connect_timeout,
                                 pool_timeout=config.pool_timeout),
            get_updates_request=HTTPXRequest(connection_pool_size=1,
                                             read_timeout=config.read_timeout,
                                             connect_timeout=config.connect_timeout,
                                             pool_timeout=config.pool_timeout),
        )
        self.users = UserDirectory()
        self.admins = AdminCache(self.bot, lambda: self.bot.id, ttl=config.admin_cache_seconds)
        self.limits = FloodLimits()
        self._commands = {info.name: info for info in config.commands}
        # Without a secret anyone who learns the URL could post forged updates (an "admin"
        # command, say), so one is derived from the token when the operator sets none.
        self.webhook_secret = config.webhook_secret or derived_secret(config.token)
        self._inbox: Inbox | None = None
        self._me: User | None = None
        self._offset: int | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._batch_done = asyncio.Event()
        self._batch_done.set()
        self._webhook: WebhookServer | None = None
        self._stopping = False
        self._started = False
        self._answered: OrderedDict[str, None] = OrderedDict()
        self._answer_tasks: set[asyncio.Task[None]] = set()
        self._joins: dict[tuple[int, int, str], tuple[str, float]] = {}
        self._progress: dict[tuple[int, str], tuple[Action, list[MessageRef]]] = {}
        self._migrated: dict[int, int] = {}
        self.handled_updates = 0

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, inbox: Inbox) -> None:
        """Connect (getMe), warn about privacy mode, register menus, then poll or listen."""
        self._inbox = inbox
        self._stopping = False
        await self._connect()
        me = self._me
        assert me is not None
        if not me.can_read_all_group_messages:
            log.warning(
                "Telegram privacy mode is on: the bot sees only commands and replies in groups "
                "where it is not an admin, so crisis screening misses ordinary messages there. "
                "Fix: @BotFather → /setprivacy → Disable, then remove and re-add the bot to each "
                "group (or make it an admin).")
        await self._register_commands()
        if self.config.webhook_url:
            await self._start_webhook(self.config.webhook_url)
        else:
            try:
                await self.bot.delete_webhook(drop_pending_updates=False)
            except TelegramError as failure:
                log.warning("could not remove a webhook before polling",
                            extra={"error": type(failure).__name__})
            self._poll_task = asyncio.create_task(self._poll_loop(), name="telegram-poll")
        self._started = True
        log.info("telegram connected", extra={"mode": "webhook" if self._webhook else "polling"})

    async def stop(self) -> None:
        """Finish the update being handled (a few seconds at most), then disconnect."""
        if self._stopping and not self._started:
            return
        self._stopping = True
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        if self._poll_task is not None:
            task, self._poll_task = self._poll_task, None
            try:
                await asyncio.wait_for(self._batch_done.wait(), timeout=_STOP_GRACE_S)
            except TimeoutError:
                log.warning("stopping while an update is still being handled; it will come again")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self._confirm_handled()
        for pending in list(self._answer_tasks):
            pending.cancel()
        await asyncio.gather(*self._answer_tasks, return_exceptions=True)
        if self._started:
            try:
                await self.bot.shutdown()
            except Exception:  # closing connections must never stop the rest of the shutdown
                log.exception("telegram shutdown failed")
        self._started = False

    async def _connect(self) -> None:
        delay = 1.0
        for attempt in range(1, self.config.connect_attempts + 1):
            try:
                await self.bot.initialize()  # calls getMe
                self._me = self.bot.bot
                return
            except InvalidToken as refused:
                raise RuntimeError("Telegram refused TELEGRAM_BOT_TOKEN: copy it again from "
                                   "@BotFather") from refused
            except TelegramError as failure:
                if attempt == self.config.connect_attempts:
                    raise RuntimeError("could not reach the Telegram Bot API at "
                                       "TELEGRAM_API_BASE_URL") from failure
                log.warning("telegram not reachable yet; retrying",
                            extra={"error": type(failure).__name__, "attempt": attempt})
                await asyncio.sleep(delay)
                delay *= 2

    async def _register_commands(self) -> None:
        if not self.config.commands:
            return
        for menu in build_menus(self.config.commands, self.config.default_language):
            try:
                await self.bot.set_my_commands(list(menu.commands), scope=menu.scope,
                                               language_code=menu.language_code or None)
            except TelegramError as failure:
                log.warning("could not register the command menu",
                            extra={"scope": menu.scope.type, "language": menu.language_code,
                                   "error": type(failure).__name__})

    async def _start_webhook(self, url: str) -> None:
        path = urlsplit(url).path or "/"
        self._webhook = WebhookServer(path=path, host=self.config.host, port=self.config.port,
                                      secret=self.webhook_secret,
                                      handle=self._on_webhook_update, chat_key=raw_chat_key)
        await self._webhook.start()
        await self.bot.set_webhook(url, allowed_updates=list(ALLOWED_UPDATES),
                                   secret_token=self.webhook_secret)

    # -- polling ------------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        poll_backoff = self.config.retry_backoff
        fail_backoff = self.config.retry_backoff
        while not self._stopping:
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset, timeout=timedelta(seconds=self.config.poll_timeout),
                    allowed_updates=list(ALLOWED_UPDATES))
            except asyncio.CancelledError:
                raise
            except RetryAfter as limited:
                await asyncio.sleep(retry_seconds(limited))
                continue
            except Conflict as conflict:
                log.warning("getUpdates conflict: another process polls with this token, or a "
                            "webhook is set", extra={"error": type(conflict).__name__})
                await asyncio.sleep(poll_backoff)
                poll_backoff = min(poll_backoff * 2, _MAX_BACKOFF_S)
                continue
            except Exception as failure:
                log.warning("getUpdates failed; retrying", extra={"error": type(failure).__name__})
                await asyncio.sleep(poll_backoff)
                poll_backoff = min(poll_backoff * 2, _MAX_BACKOFF_S)
                continue
            poll_backoff = self.config.retry_backoff
            if not updates:
                continue
            self._batch_done.clear()
            try:
                failed = await self._handle_batch(updates)
            finally:
                self._batch_done.set()
            if failed is None:
                self._offset = updates[-1].update_id + 1
                fail_backoff = self.config.retry_backoff
                continue
            # Confirm what came before the first failure; it and everything after come again
            # (updates already handled are recognised by their id and handled once).
            self._offset = failed
            await asyncio.sleep(fail_backoff)
            fail_backoff = min(fail_backoff * 2, _MAX_BACKOFF_S)

    async def _handle_batch(self, updates: tuple[Update, ...]) -> int | None:
        """Handle a batch, chats concurrently, each chat in order; the lowest failed id or None."""
        by_chat: dict[str, list[Update]] = {}
        for update in updates:
            by_chat.setdefault(update_chat_key(update), []).append(update)
        gate = asyncio.Semaphore(self.config.max_concurrent_chats)
        failed: list[int] = []

        async def run(chat_updates: list[Update]) -> None:
            async with gate:
                for update in chat_updates:
                    try:
                        await self.process_update(update)
                    except asyncio.CancelledError:
                        raise
                    except Exception as error:
                        log.warning("update not handled; it will be retried",
                                    extra={"update_id": update.update_id,
                                           "error": type(error).__name__})
                        failed.append(update.update_id)
                        return  # the rest of this chat waits, to keep its order

        await asyncio.gather(*(run(chat_updates) for chat_updates in by_chat.values()))
        return min(failed) if failed else None

    async def _confirm_handled(self) -> None:
        """Tell Telegram what was handled, so a restart does not fetch it again."""
        if self._offset is None:
            return
        try:
            await asyncio.wait_for(self.bot.get_updates(
                offset=self._offset, timeout=timedelta(0), limit=1,
                allowed_updates=list(ALLOWED_UPDATES)), timeout=3.0)
        except Exception as failure:  # best effort: unconfirmed updates are recognised anyway
            log.info("could not confirm handled updates at stop",
                     extra={"error": type(failure).__name__})

    async def _on_webhook_update(self, data: dict[str, Any]) -> None:
        update = Update.de_json(data, self.bot)
        await self.process_update(update)

    # -- one update ---------------------------------------------------------------------------
    async def process_update(self, update: Update) -> None:
        """Translate one update and hand its events to the inbox; raises if the inbox raised.

        An update that cannot be translated (a payload this adapter does not understand) is
        logged and skipped: retrying it would hold up every chat behind it for nothing.
        """
        assert self._inbox is not None, "start() first"
        self.users.learn_update(update)
        chat = update.effective_chat
        if chat is not None and is_group_chat(chat) and update.my_chat_member is None:
            await self.admins.ensure(chat.id)
        try:
            translation = translate_update(update, self._context())
        except Exception:
            log.exception("update could not be translated; skipped",
                          extra={"update_id": update.update_id})
            return
        if translation.bot_admin is not None:
            self.admins.set_bot_admin(*translation.bot_admin)
        if translation.admins_changed is not None:
            self.admins.invalidate(translation.admins_changed)
        events = [e for e in translation.events if not self._repeated_join(e)]
        if translation.download is not None and events and isinstance(events[0], CommandInvoked):
            attachment = await self._download(translation.download)
            events[0] = replace(events[0], attachment=attachment)
        for event in events:
            await self._inbox(event)
        self.handled_updates += 1
        query = update.callback_query
        if query is not None and query.id not in self._answered:
            task = asyncio.create_task(self._answer_later(query.id))
            self._answer_tasks.add(task)
            task.add_done_callback(self._answer_tasks.discard)

    def _username(self) -> str:
        return (self._me.username or "") if self._me is not None else ""

    def _context(self) -> TranslateContext:
        me = self._me
        assert me is not None
        return TranslateContext(
            bot_id=me.id, bot_username=me.username or "", now=datetime.now(UTC),
            is_admin=self.admins.is_admin, bot_is_admin=self.admins.bot_is_admin,
            resolve_username=self.users.by_username, commands=self._commands)

    def _repeated_join(self, event: InboundEvent) -> bool:
        """Whether another update already reported this join or leave.

        Telegram sends both a service message and a chat_member update when the bot is an
        admin; the admin cache picks one, and this catches the rest while it was out of date.
        """
        if not isinstance(event, MemberJoined | MemberLeft) or event.meta.group is None:
            return False
        kind = "request" if isinstance(event, MemberJoined) and event.join_request else (
            "join" if isinstance(event, MemberJoined) else "leave")
        key = (chat_id_of(event.meta.chat.id), int(event.meta.sender.id), kind)
        now = time.monotonic()
        if len(self._joins) > 10_000:
            self._joins = {k: v for k, v in self._joins.items() if now - v[1] < _JOIN_MEMORY_S}
        seen = self._joins.get(key)
        if seen is not None and seen[0] != event.meta.event_id and now - seen[1] < _JOIN_MEMORY_S:
            return True
        self._joins[key] = (event.meta.event_id, now)
        return False

    async def _download(self, download: Download) -> Attachment | None:
        if download.size is not None and download.size > MAX_ATTACHMENT_BYTES:
            return None
        try:
            file = await self.bot.get_file(download.file_id)
            if file.file_size is not None and file.file_size > MAX_ATTACHMENT_BYTES:
                return None
            content = bytes(await file.download_as_bytearray())
        except TelegramError as failure:
            log.warning("attachment could not be downloaded",
                        extra={"error": type(failure).__name__})
            return None
        if len(content) > MAX_ATTACHMENT_BYTES:
            return None
        return Attachment(filename=download.filename, content=content)

    async def _answer_later(self, query_id: str) -> None:
        """Stop the button's spinner if the core sent no answer to the press in time."""
        await asyncio.sleep(self.config.callback_grace)
        if query_id in self._answered:
            return
        self._mark_answered(query_id)
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError:
            pass  # too old or answered meanwhile: nothing is lost either way

    def _mark_answered(self, query_id: str) -> None:
        self._answered[query_id] = None
        while len(self._answered) > 10_000:
            self._answered.popitem(last=False)

    # -- self-checks --------------------------------------------------------------------------
    async def group_admins(self, group: str) -> list[UserRef]:
        """The human administrators of a Telegram group (fetched afresh)."""
        entry = await self.admins.ensure(chat_id_of(group), force=True)
        if entry is None:
            return []
        for human in entry.humans:
            self.users.learn(human)
        return [user_ref(user) for user in entry.humans]

    async def check_visibility(self, group: str | None) -> VisibilityReport:
        """OK when privacy mode is off, or the bot is an admin of `group`; else what to do."""
        try:
            self._me = await self.bot.get_me()
        except TelegramError as failure:
            log.warning("getMe failed; using the last known privacy setting",
                        extra={"error": type(failure).__name__})
        me = self._me
        if me is not None and me.can_read_all_group_messages:
            return VisibilityReport(can_read_all_messages=True)
        if group is not None:
            entry = await self.admins.ensure(chat_id_of(group), force=True)
            if entry is not None and entry.bot_admin:
                return VisibilityReport(can_read_all_messages=True)
        return VisibilityReport(can_read_all_messages=False, problems=(PRIVACY_PROBLEM,))

    # -- rate limits --------------------------------------------------------------------------
    def reserve(self, action: Action) -> float:
        """Take send slots for `action` under Telegram's limits; 0, or the seconds to wait."""
        chat, private, count, urgent = self._budget(action)
        return self.limits.reserve(chat, private=private, count=count, urgent=urgent)

    def _budget(self, action: Action) -> tuple[int | None, bool, int, bool]:
        """The chat, whether private, the API calls and the urgency that `action` costs."""
        urgent = action.priority <= Priority.SAFETY_REPLY
        chat: int | None = None
        private = False
        count = 1
        if isinstance(action, SendMessage):
            chat, private = self._chat_number(action.to), action.to.kind == "direct"
            count = _parts_count(action.text, action.image)
        elif isinstance(action, SendDirect):
            chat, private = int(action.to.id), True
            count = _parts_count(action.text, action.image)
        elif isinstance(action, SendPrivateReply):
            if not _fits_toast(action):
                chat, private = int(action.to.id), True
                count = _parts_count(action.text, None)
        elif isinstance(action, EditMessage):
            chat = self._chat_number(action.message.chat)
            private = action.message.chat.kind == "direct"
        return chat, private, count, urgent

    def _chat_number(self, chat: ChatRef) -> int:
        number = chat_id_of(chat.id)
        return self._migrated.get(number, number)

    # -- sending ------------------------------------------------------------------------------
    async def perform(self, action: Action) -> Delivered:
        """Deliver one action; Telegram's failures become RateLimited/TransientError/DeliveryError."""
        count = self._budget(action)[2]  # before _perform: it may record a migration
        try:
            delivered = await self._perform(action)
        except PayloadTooLong as too_long:
            log.error("button payload over Telegram's 64 bytes", extra={
                "action": type(action).__name__})
            self._forget(action)
            raise DeliveryError(str(too_long)) from too_long
        except RetryAfter as limited:
            seconds = retry_seconds(limited)
            self.limits.penalise(_target_chat(action, self._migrated), seconds)
            raise RateLimited(seconds) from limited
        except (BadRequest, Forbidden, InvalidToken) as refused:
            self._forget(action)
            raise DeliveryError(f"{type(refused).__name__}: {refused.message}") from refused
        except (TimedOut, NetworkError, Conflict) as failure:
            raise TransientError(f"{type(failure).__name__}") from failure
        except TelegramError as failure:
            raise TransientError(f"{type(failure).__name__}") from failure
        finally:
            self.limits.done(count)
        self._forget(action)
        return delivered

    async def _perform(self, action: Action) -> Delivered:
        if isinstance(action, SendMessage):
            ref = await self._send(action, "main", action.to, action.text, action.buttons,
                                   reply_to=action.reply_to, image=action.image)
            return Delivered(message=ref)
        if isinstance(action, SendDirect):
            return await self._send_direct(action)
        if isinstance(action, SendPrivateReply):
            return await self._send_private_reply(action)
        if isinstance(action, EditMessage):
            return await self._edit(action)
        if isinstance(action, ApproveJoin):
            try:
                await self.bot.approve_chat_join_request(chat_id=chat_id_of(action.group),
                                                         user_id=int(action.user.id))
            except BadRequest as refused:
                if "user_already_participant" not in refused.message.lower():
                    raise
            return Delivered()
        if isinstance(action, ShowForm):
            raise DeliveryError("Telegram has no forms; the core asks one field at a time")
        raise DeliveryError(f"Telegram cannot perform {type(action).__name__}")

    async def _send_direct(self, action: SendDirect) -> Delivered:
        chat = ChatRef(PLATFORM, action.to.id, "direct")
        try:
            ref = await self._send(action, "main", chat, action.text, action.buttons,
                                   image=action.image)
        except (Forbidden, BadRequest) as refused:
            if action.fallback is None or not _unreachable(refused):
                raise
            if not action.fallback_text:
                return Delivered(via_fallback=True)
            ref = await self._send(action, "fallback", action.fallback, action.fallback_text, ())
            return Delivered(message=ref, via_fallback=True)
        return Delivered(message=ref)

    async def _send_private_reply(self, action: SendPrivateReply) -> Delivered:
        if action.interaction is not None and action.interaction not in self._answered:
            if _fits_toast(action):
                try:
                    await self.bot.answer_callback_query(action.interaction, text=action.text)
                    self._mark_answered(action.interaction)
                    return Delivered()
                except BadRequest:
                    self._mark_answered(action.interaction)  # too old: say it privately instead
            else:
                self._mark_answered(action.interaction)
                try:
                    await self.bot.answer_callback_query(action.interaction)
                except BadRequest:
                    pass  # too old; the private message below still goes out
        direct = ChatRef(PLATFORM, action.to.id, "direct")
        if action.chat.kind == "direct" and action.chat.id == action.to.id:
            direct = action.chat
        try:
            ref = await self._send(action, "main", direct, action.text, action.buttons)
        except (Forbidden, BadRequest) as refused:
            if direct == action.chat or not _unreachable(refused):
                raise
            # They never started the bot: answer where they are, which is the only way left.
            ref = await self._send(action, "fallback", action.chat, action.text, action.buttons)
            return Delivered(message=ref, via_fallback=True)
        return Delivered(message=ref)

    async def _edit(self, action: EditMessage) -> Delivered:
        markup = keyboard(action.buttons, self._username())
        chat_id = self._chat_number(action.message.chat)
        message_id = int(action.message.id)
        try:
            await self.bot.edit_message_text(
                chat_id=chat_id, message_id=message_id,
                reply_markup=markup, **text_kwargs(truncate(action.text, MAX_MESSAGE_CHARS)))
        except BadRequest as refused:
            reason = refused.message.lower()
            if "not modified" in reason:
                return Delivered(message=action.message)
            if "no text in the message" not in reason:
                raise
            await self.bot.edit_message_caption(
                chat_id=chat_id, message_id=message_id, reply_markup=markup,
                caption=escape(truncate(action.text, MAX_CAPTION_CHARS)), parse_mode=ParseMode.HTML)
        return Delivered(message=action.message)

    async def _send(self, action: Action, label: str, chat: ChatRef, text: str,
                    buttons: tuple[tuple[Button, ...], ...], *, reply_to: MessageRef | None = None,
                    image: Image | None = None) -> MessageRef:
        """Send `text` (in parts if long, with `image` first) to `chat`; the last part's ref.

        Parts already sent for this very action (before a rate limit or a timeout interrupted
        it) are not sent again when the delivery queue retries it.
        """
        markup = keyboard(buttons, self._username())  # validated before anything is sent
        units = _units(text, image)
        key = (id(action), label)
        if key not in self._progress and len(self._progress) >= _MAX_IN_PROGRESS:
            # Actions the queue gave up on are never forgotten otherwise; drop the oldest.
            del self._progress[next(iter(self._progress))]
        done = self._progress.setdefault(key, (action, []))[1]
        for index, (kind, part) in enumerate(units):
            if index < len(done):
                continue
            last = index == len(units) - 1
            extra: dict[str, Any] = {"reply_markup": markup if last else None}
            if index == 0:
                extra.update(reply_kwargs(chat, reply_to))
            message = await self._send_one(chat, kind, part, image, extra)
            done.append(sent_ref(message, chat))
        return done[-1]

    async def _send_one(self, chat: ChatRef, kind: str, part: str, image: Image | None,
                        extra: dict[str, Any]) -> Message:
        for _ in range(2):
            target = target_kwargs(chat)
            target["chat_id"] = self._migrated.get(target["chat_id"], target["chat_id"])
            try:
                if kind == "photo" and image is not None:
                    return await self.bot.send_photo(
                        photo=InputFile(image.content, filename=image.filename),
                        caption=escape(part) if part else None, parse_mode=ParseMode.HTML,
                        **target, **extra)
                return await self.bot.send_message(**target, **text_kwargs(part), **extra)
            except ChatMigrated as moved:
                # The group became a supergroup: follow it (the core is told by the update).
                self._migrated[target["chat_id"]] = int(moved.new_chat_id)
        raise DeliveryError("the chat moved twice")

    def _forget(self, action: Action) -> None:
        for label in ("main", "fallback"):
            self._progress.pop((id(action), label), None)


# -- helpers ----------------------------------------------------------------------------------
def derived_secret(token: str) -> str:
    """A webhook secret derived from the bot token: the same in every process, never the token."""
    return hashlib.sha256(f"kindred-telegram-webhook:{token}".encode()).hexdigest()


def retry_seconds(limited: RetryAfter) -> float:
    """RetryAfter's wait in seconds (PTB warns when an int is read; the value is the same)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = limited.retry_after
    if isinstance(value, timedelta):
        return max(value.total_seconds(), 0.0)
    return max(float(value), 0.0)


def update_chat_key(update: Update) -> str:
    """Updates with the same key are handled in order (one chat); others may run side by side."""
    chat = update.effective_chat
    if chat is not None:
        return str(chat.id)
    user = update.effective_user
    return f"user:{user.id}" if user is not None else f"update:{update.update_id}"


def raw_chat_key(data: dict[str, Any]) -> str:
    """`update_chat_key` for an update still in JSON (the webhook locks before parsing)."""
    for kind in ALLOWED_UPDATES:
        payload = data.get(kind)
        if not isinstance(payload, dict):
            continue
        chat = payload.get("chat")
        message = payload.get("message")
        if not isinstance(chat, dict) and isinstance(message, dict):
            chat = message.get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return str(chat["id"])
        sender = payload.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return f"user:{sender['id']}"
    return f"update:{data.get('update_id')}"


def _unreachable(refused: TelegramError) -> bool:
    """Whether a refusal means "cannot write to this person privately" (never started, blocked)."""
    if isinstance(refused, Forbidden):
        return True
    return "chat not found" in refused.message.lower()


def _fits_toast(action: SendPrivateReply) -> bool:
    return (action.interaction is not None and not action.buttons
            and telegram_length(action.text) <= MAX_CALLBACK_ANSWER_CHARS)


def _units(text: str, image: Image | None) -> list[tuple[str, str]]:
    """What to send, in order: ("photo", caption) first when there is an image, then texts."""
    if image is None:
        return [("text", part) for part in split_text(text)]
    if telegram_length(text) <= MAX_CAPTION_CHARS:
        return [("photo", text)]
    caption, *rest = split_text(text, MAX_CAPTION_CHARS)
    remainder = "\n".join(rest)
    return [("photo", caption)] + [("text", part) for part in split_text(remainder)]


def _parts_count(text: str, image: Image | None) -> int:
    if image is None and len(text) <= MAX_MESSAGE_CHARS // 2:
        return 1  # the common case, without splitting just to count
    return len(_units(text, image))


def _target_chat(action: Action, migrated: Mapping[int, int]) -> int | None:
    if isinstance(action, SendMessage):
        number = chat_id_of(action.to.id)
    elif isinstance(action, SendDirect | SendPrivateReply):
        number = int(action.to.id)
    elif isinstance(action, EditMessage):
        number = chat_id_of(action.message.chat.id)
    else:
        return None
    return migrated.get(number, number)
