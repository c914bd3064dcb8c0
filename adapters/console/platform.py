"""The console platform: reads lines (keyboard or pipe), prints everything the bot sends."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from adapters.console.script import HELP, ScriptLine, parse_line
from bot.core.actions import (
    Action,
    ApproveJoin,
    Button,
    Delivered,
    EditMessage,
    SendDirect,
    SendMessage,
    SendPrivateReply,
    ShowForm,
)
from bot.core.events import (
    Attachment,
    ButtonPressed,
    CommandInvoked,
    EventMeta,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    Mention,
    MessageReceived,
)
from bot.core.identity import ChatRef, MessageRef, UserRef
from bot.core.ports import Capabilities, Inbox, VisibilityReport

log = logging.getLogger(__name__)

PLATFORM = "console"
GROUP_KEY = "console:group"
GROUP_CHAT = ChatRef(PLATFORM, "group", "group")
MAX_ATTACHMENT_BYTES = 1_000_000


@dataclass(kw_only=True)
class ConsoleConfig:
    """How the console is wired: streams, and hooks back into the application."""

    input: TextIO = field(default_factory=lambda: sys.stdin)
    output: TextIO = field(default_factory=lambda: sys.stdout)
    settle: Callable[[], Awaitable[None]] | None = None  # wait until replies are printed
    on_end: Callable[[], None] | None = None  # end of input or .quit
    image_dir: Path | None = None
    bot_name: str = "Kindred"


class ConsolePlatform:
    """A terminal group chat with private chats, buttons and joins."""

    name = PLATFORM
    capabilities = Capabilities(buttons=True, direct_messages=True, max_text_length=100_000)

    def __init__(self, config: ConsoleConfig) -> None:
        self._config = config
        self._inbox: Inbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._admins: set[str] = set()
        self._members: set[str] = set()
        self._names: dict[str, str] = {}
        self._speaker: str | None = None
        self._private = False
        self._buttons: dict[str, tuple[str, MessageRef]] = {}
        self._button_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._event_ids = itertools.count(1)
        self._image_dir = config.image_dir or Path(tempfile.gettempdir()) / "kindred-console"
        self.lines_handled = 0
        self._line_done = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, inbox: Inbox) -> None:
        """Start reading input."""
        self._inbox = inbox
        self._print("Kindred console. Type .help for the syntax; the first speaker is the "
                    "group's admin.")
        self._task = asyncio.create_task(self._read_loop(), name="console-input")

    async def stop(self) -> None:
        """Stop reading input."""
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def group_admins(self, group: str) -> list[UserRef]:
        """The console group's admins."""
        return [UserRef(PLATFORM, name) for name in sorted(self._admins)]

    async def check_visibility(self, group: str | None) -> VisibilityReport:
        """The console sees everything."""
        return VisibilityReport(can_read_all_messages=True)

    def reserve(self, action: Action) -> float:
        """No rate limits in a terminal."""
        return 0.0

    async def wait_lines(self, count: int, timeout: float = 30.0) -> None:
        """Wait until `count` input lines have been handled and their replies printed."""
        async with asyncio.timeout(timeout):
            while self.lines_handled < count:
                self._line_done.clear()
                await self._line_done.wait()

    # -- input -------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        # A daemon thread, not to_thread: a thread blocked on a keyboard must not hold up exit.
        threading.Thread(target=_read_lines, args=(self._config.input, loop, lines),
                         name="console-reader", daemon=True).start()
        try:
            while True:
                line = await lines.get()
                if line is None:
                    break
                parsed = parse_line(line)
                if parsed.kind == "quit":
                    break
                try:
                    await self._act(parsed)
                except Exception:
                    log.exception("console line failed")
                    self._print("(that line could not be handled; see the log)")
                if self._config.settle is not None:
                    await self._config.settle()
                self.lines_handled += 1
                self._line_done.set()
        finally:
            if self._config.on_end is not None:
                self._config.on_end()

    async def _act(self, line: ScriptLine) -> None:
        if line.kind == "blank":
            return
        if line.kind == "help":
            self._print(HELP)
            return
        if line.kind == "error":
            self._print("(I did not understand that console command; type .help)")
            return
        if line.kind == "wait":
            await asyncio.sleep(float(line.arg))
            return
        name = line.name or self._speaker
        if name is None:
            self._print("(say who is speaking first, e.g. 'dana: hello')")
            return
        self._first_speaker(name)
        if line.kind == "admin":
            self._admins.add(name)
            self._members.add(name)
            self._print(f"({name} is now an admin of the group)")
            return
        if line.kind == "join":
            self._members.add(name)
            self._print(f"({name} joined the group)")
            await self._deliver(MemberJoined(meta=self._meta(name, GROUP_CHAT)))
            return
        if line.kind == "request":
            self._print(f"({name} asked to join the group)")
            await self._deliver(MemberJoined(meta=self._meta(name, GROUP_CHAT), join_request=True))
            return
        if line.kind == "leave":
            self._members.discard(name)
            self._admins.discard(name)
            self._print(f"({name} left the group)")
            await self._deliver(MemberLeft(meta=self._meta(name, GROUP_CHAT)))
            return
        if line.kind == "press":
            await self._press(name, line.arg)
            return
        if line.kind == "attach":
            await self._attach(name, Path(line.arg), line.text)
            return
        self._speaker = name
        self._private = line.kind == "private" or (not line.name and self._private)
        chat = self._private_chat(name) if self._private else GROUP_CHAT
        await self._deliver(self._text_event(name, chat, line.text))

    def _first_speaker(self, name: str) -> None:
        if not self._admins and not self._members:
            self._admins.add(name)
            self._members.add(name)
            self._print(f"({name} created the group and is its admin)")

    def _meta(self, name: str, chat: ChatRef) -> EventMeta:
        return EventMeta(
            event_id=f"console:{next(self._event_ids)}",
            occurred_at=datetime.now(UTC),
            chat=chat,
            sender=UserRef(PLATFORM, name),
            sender_name=name.capitalize(),
            group=GROUP_KEY if chat.kind == "group" else None,
            group_title="Console group" if chat.kind == "group" else "",
            sender_is_admin=chat.kind == "group" and name in self._admins,
        )

    @staticmethod
    def _private_chat(name: str) -> ChatRef:
        return ChatRef(PLATFORM, f"dm-{name}", "direct")

    def _text_event(self, name: str, chat: ChatRef, text: str,
                    attachment: Attachment | None = None) -> InboundEvent:
        meta = self._meta(name, chat)
        message = MessageRef(chat, str(next(self._message_ids)))
        if text.startswith("/") and len(text) > 1:
            head, *args = text[1:].split()
            mentions = tuple(
                Mention(token=arg, user=UserRef(PLATFORM, arg[1:].lower()),
                        name=arg[1:].capitalize())
                for arg in args if arg.startswith("@") and len(arg) > 1)
            return CommandInvoked(meta=meta, name=head.split("@")[0].lower(), args=tuple(args),
                                  message=message, mentions=mentions, attachment=attachment)
        return MessageReceived(meta=meta, message=message, text=text)

    async def _press(self, name: str, button_id: str) -> None:
        found = self._buttons.get(button_id)
        if found is None:
            self._print(f"(there is no button {button_id})")
            return
        payload, message = found
        meta = self._meta(name, message.chat)
        await self._deliver(ButtonPressed(meta=meta, payload=payload, message=message,
                                          interaction=f"press-{button_id}"))

    async def _attach(self, name: str, path: Path, command: str) -> None:
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except OSError:
            self._print(f"(cannot read {path})")
            return
        if len(content) > MAX_ATTACHMENT_BYTES:
            self._print("(that file is too big)")
            return
        chat = self._private_chat(name) if self._private else GROUP_CHAT
        await self._deliver(self._text_event(
            name, chat, command, Attachment(filename=path.name, content=content)))

    async def _deliver(self, event: InboundEvent) -> None:
        assert self._inbox is not None
        await self._inbox(event)

    # -- output ------------------------------------------------------------------------------
    async def perform(self, action: Action) -> Delivered:
        """Print what the bot sends."""
        bot = self._config.bot_name
        if isinstance(action, SendMessage):
            where = "group" if action.to.kind == "group" else f"private → {_who(action.to)}"
            return self._show(f"[{where}] {bot}", action.to, action.text, action.buttons,
                              action.image)
        if isinstance(action, SendDirect):
            chat = self._private_chat(action.to.id)
            return self._show(f"[private → {action.to.id}] {bot}", chat, action.text,
                              action.buttons, action.image)
        if isinstance(action, SendPrivateReply):
            return self._show(f"[only {action.to.id} sees] {bot}", action.chat, action.text,
                              action.buttons, None)
        if isinstance(action, EditMessage):
            return self._show(f"[edited message {action.message.id}] {bot}", action.message.chat,
                              action.text, action.buttons, None, reuse=action.message)
        if isinstance(action, ShowForm):
            fields = ", ".join(f.label for f in action.fields)
            self._print(f"[form for {action.to.id}] {action.title}: {fields}")
            return Delivered()
        if isinstance(action, ApproveJoin):
            self._members.add(action.user.id)
            self._print(f"({action.user.id} was let into the group)")
            return Delivered()
        raise TypeError(f"console cannot perform {type(action).__name__}")

    def _show(self, header: str, chat: ChatRef, text: str,
              buttons: tuple[tuple[Button, ...], ...], image: object,
              reuse: MessageRef | None = None) -> Delivered:
        message = reuse or MessageRef(chat, str(next(self._message_ids)))
        lines = text.splitlines() or [""]
        self._print(f"{header}: {lines[0]}")
        for line in lines[1:]:
            self._print(f"    {line}")
        if buttons:
            labels = []
            for row in buttons:
                for button in row:
                    button_id = f"b{next(self._button_ids)}"
                    self._buttons[button_id] = (button.payload, message)
                    labels.append(f"[{button_id} {button.label}]")
            self._print("    " + " ".join(labels))
        if image is not None:
            from bot.core.actions import Image

            assert isinstance(image, Image)
            self._image_dir.mkdir(parents=True, exist_ok=True)
            path = self._image_dir / f"{message.id}-{image.filename}"
            path.write_bytes(image.content)
            self._print(f"    (image saved to {path})")
        return Delivered(message=message)

    def _print(self, text: str) -> None:
        self._config.output.write(text + "\n")
        self._config.output.flush()


def _read_lines(stream: TextIO, loop: asyncio.AbstractEventLoop,
                lines: asyncio.Queue[str | None]) -> None:
    try:
        for line in iter(stream.readline, ""):
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)
    except (RuntimeError, ValueError, OSError):
        pass  # the loop or the stream closed while we were reading: nothing left to deliver


def _who(chat: ChatRef) -> str:
    return chat.id.removeprefix("dm-")
