"""Performing the core's actions on Discord, and answering interactions within Discord's deadlines.

Guarantees:
    * Every failure leaves as RateLimited, TransientError or DeliveryError (never swallowed), so
      the delivery queue retries or gives up knowingly; an action Discord does not answer
      within `send_timeout` seconds (a timeout, a hung connection) is a TransientError. A
      message Discord posted but whose answer was lost is retried, so it may show twice, once
      more per lost answer (no `nonce` with `enforce_nonce` is sent, which would let Discord
      return the first copy instead).
    * Text is Markdown-escaped and split at 2,000 characters; buttons and images ride on the
      last part, a reply reference on the first.
    * Nothing is sent with a working mention except the one person a public fallback is for.
    * An interaction is answered at most once first (a lock per interaction), and one nobody
      answered is deferred before Discord's 3-second limit.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import discord

from adapters.discord import render
from adapters.discord.config import DiscordConfig
from adapters.discord.interactions import Interactions, Slot
from adapters.discord.translate import PLATFORM, jump_url
from bot.core.actions import (
    Action,
    ApproveJoin,
    Button,
    Delivered,
    EditMessage,
    Image,
    SendDirect,
    SendMessage,
    SendPrivateReply,
    ShowForm,
)
from bot.core.identity import ChatRef, MessageRef, UserRef
from bot.core.ports import DeliveryError, RateLimited, TransientError

log = logging.getLogger(__name__)

MAX_MODAL_TITLE = 45
MAX_MODAL_LABEL = 45
MAX_MODAL_FIELDS = 5
MAX_INPUT_CHARS = 4000
NO_MENTIONS = discord.AllowedMentions.none()


class Outbound:
    """Sends for one DiscordPlatform; `client` is looked up on each call (it changes on restart)."""

    def __init__(self, config: DiscordConfig, slots: Interactions,
                 client: Callable[[], discord.Client | None]) -> None:
        self._config = config
        self._slots = slots
        self._client = client

    # -- the Platform.perform entry point ----------------------------------------------------
    async def perform(self, action: Action) -> Delivered:
        """Deliver one action, mapping discord.py's failures onto the core's three errors."""
        client = self._client()
        if client is None or client.is_closed():
            raise TransientError("Discord is not connected")
        try:
            # discord.py's HTTP session waits up to five minutes for an answer; a request
            # Discord never answers must fail sooner, so the queue retries it with backoff.
            async with asyncio.timeout(self._config.send_timeout):
                return await self._perform(client, action)
        except (RateLimited, TransientError, DeliveryError):
            raise
        except discord.RateLimited as limited:
            raise RateLimited(limited.retry_after) from None
        except discord.Forbidden as refused:
            raise DeliveryError(f"Discord refused: 403 code {refused.code}") from None
        except discord.NotFound as missing:
            raise DeliveryError(f"Discord does not know it: 404 code {missing.code}") from None
        except discord.DiscordServerError as failed:
            raise TransientError(f"Discord failed: {failed.status}") from None
        except discord.HTTPException as failed:
            if failed.status == 429:
                raise RateLimited(_retry_after(failed)) from None
            if failed.status >= 500:
                raise TransientError(f"Discord failed: {failed.status}") from None
            raise DeliveryError(f"Discord refused: {failed.status} code {failed.code}") from None
        except (discord.ConnectionClosed, discord.GatewayNotFound, aiohttp.ClientError,
                TimeoutError, OSError) as broken:
            raise TransientError(f"connection problem: {type(broken).__name__}") from None

    async def _perform(self, client: discord.Client, action: Action) -> Delivered:
        if isinstance(action, SendMessage):
            return await self._send_message(client, action)
        if isinstance(action, SendDirect):
            return await self._send_direct(client, action)
        if isinstance(action, SendPrivateReply):
            return await self._send_private(client, action)
        if isinstance(action, EditMessage):
            return await self._edit(client, action)
        if isinstance(action, ShowForm):
            return await self._show_form(action)
        if isinstance(action, ApproveJoin):
            return await self._approve(client, action)
        raise DeliveryError(f"Discord cannot perform {type(action).__name__}")

    def answers_interaction(self, action: Action) -> bool:
        """Whether `action` goes through an interaction webhook (outside the bot's rate limit)."""
        if isinstance(action, SendPrivateReply | ShowForm):
            return self._slots.is_live(action.interaction)
        return False

    # -- SendMessage ---------------------------------------------------------------------------
    async def _send_message(self, client: discord.Client, action: SendMessage) -> Delivered:
        chunks = render.split_text(render.escape_markdown(action.text))
        slot = None
        if action.reply_to is None and action.answers is not None:
            slot = self._slots.awaiting_public_reply(action.to, action.answers)
        if slot is not None:
            async with slot.lock:
                if slot.can_answer_first():
                    delivered = await self._answer_publicly(client, slot, action, chunks)
                    if delivered is not None:
                        return delivered
                elif slot.state == "thinking" and not slot.replied:
                    # The reply goes to the channel; the "thinking…" placeholder is removed.
                    delivered = await self._post(client, action.to, chunks, action.buttons,
                                                 action.image, None)
                    await self._remove_placeholder(slot)
                    return delivered
        return await self._post(client, action.to, chunks, action.buttons, action.image,
                                action.reply_to)

    async def _answer_publicly(self, client: discord.Client, slot: Slot, action: SendMessage,
                               chunks: list[str]) -> Delivered | None:
        """Send a command's public reply as the interaction's first answer (lock held)."""
        single = len(chunks) == 1
        kwargs = _content_kwargs(chunks[0], self._view(action.buttons) if single else None,
                                 _file(action.image) if single else None)
        try:
            response = await slot.interaction.response.send_message(
                **kwargs, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            slot.state = "lost"
            return None
        slot.state = "answered"
        slot.replied = True
        message_id = response.message_id
        if not single:
            return await self._post(client, action.to, chunks[1:], action.buttons, action.image,
                                    None)
        if message_id is None:
            return Delivered()
        guild_id = slot.interaction.guild_id
        return Delivered(message=MessageRef(action.to, str(message_id),
                                            link=jump_url(guild_id, int(action.to.id), message_id)))

    async def _post(self, client: discord.Client, chat: ChatRef, chunks: Sequence[str],
                    buttons: tuple[tuple[Button, ...], ...], image: Image | None,
                    reply_to: MessageRef | None, *,
                    mentions: discord.AllowedMentions = NO_MENTIONS) -> Delivered:
        channel = self._messageable(client, chat)
        reference = None
        if reply_to is not None:
            reference = discord.MessageReference(message_id=_snowflake(reply_to.id),
                                                 channel_id=_snowflake(reply_to.chat.id),
                                                 fail_if_not_exists=False)
        message = await _send_chunks(channel, chunks, view=self._view(buttons),
                                     file=_file(image), reference=reference, mentions=mentions)
        return Delivered(message=MessageRef(chat, str(message.id), link=message.jump_url))

    # -- SendDirect ----------------------------------------------------------------------------
    async def _send_direct(self, client: discord.Client, action: SendDirect) -> Delivered:
        chunks = render.split_text(render.escape_markdown(action.text))
        try:
            return await self._dm(client, action.to, chunks, action.buttons, action.image)
        except discord.Forbidden:
            if action.fallback is None or not action.fallback_text.strip():
                raise
            log.info("DMs closed; posting the fallback", extra={"platform": PLATFORM})
            delivered = await self._public_fallback(client, action.to, action.fallback,
                                                    action.fallback_text)
            return Delivered(message=delivered.message, via_fallback=True)

    async def _dm(self, client: discord.Client, user: UserRef, chunks: Sequence[str],
                  buttons: tuple[tuple[Button, ...], ...], image: Image | None) -> Delivered:
        channel = await client.create_dm(discord.Object(_snowflake(user.id)))
        message = await _send_chunks(channel, chunks, view=self._view(buttons), file=_file(image),
                                     reference=None, mentions=NO_MENTIONS)
        chat = ChatRef(PLATFORM, str(channel.id), "direct")
        return Delivered(message=MessageRef(chat, str(message.id), link=message.jump_url))

    async def _public_fallback(self, client: discord.Client, user: UserRef, chat: ChatRef,
                               text: str) -> Delivered:
        # The mention is Kindred's own formatting (not escaped) and the only ping it ever sends.
        mentioned = f"<@{_snowflake(user.id)}> {render.escape_markdown(text)}"
        only_them = discord.AllowedMentions(everyone=False, roles=False,
                                            users=[discord.Object(_snowflake(user.id))])
        return await self._post(client, chat, render.split_text(mentioned), (), None, None,
                                mentions=only_them)

    # -- SendPrivateReply ----------------------------------------------------------------------
    async def _send_private(self, client: discord.Client, action: SendPrivateReply) -> Delivered:
        chunks = render.split_text(render.escape_markdown(action.text))
        slot = self._slots.get(action.interaction)
        if slot is not None:
            delivered = await self._answer_privately(slot, chunks, action.buttons)
            if delivered is not None:
                return delivered
        if action.chat.kind == "direct":
            return await self._post(client, action.chat, chunks, action.buttons, None, None)
        try:
            return await self._dm(client, action.to, chunks, action.buttons, None)
        except discord.Forbidden:
            delivered = await self._public_fallback(client, action.to, action.chat, action.text)
            return Delivered(message=delivered.message, via_fallback=True)

    async def _answer_privately(self, slot: Slot, chunks: Sequence[str],
                                buttons: tuple[tuple[Button, ...], ...]) -> Delivered | None:
        """An ephemeral answer through the interaction; None when it can no longer be used."""
        async with slot.lock:
            interaction = slot.interaction
            sent: list[int] = []
            for index, chunk in enumerate(chunks):
                last = index == len(chunks) - 1
                kwargs = _content_kwargs(chunk, self._view(buttons) if last else None, None)
                if slot.can_answer_first():
                    try:
                        response = await interaction.response.send_message(
                            **kwargs, ephemeral=True, allowed_mentions=NO_MENTIONS)
                    except discord.NotFound:
                        slot.state = "lost"
                        return None
                    slot.state = "answered"
                    if response.message_id is not None:
                        sent.append(response.message_id)
                elif slot.can_follow_up():
                    # After a "thinking…" defer, the first follow-up replaces the placeholder.
                    message = await interaction.followup.send(
                        **kwargs, ephemeral=True, wait=True, allowed_mentions=NO_MENTIONS)
                    slot.state = "answered"
                    sent.append(message.id)
                elif not sent:
                    return None
                else:
                    break
                slot.replied = True
            for message_id in sent:
                self._slots.remember_ephemeral(message_id, slot)
            ref = MessageRef(slot.chat, str(sent[-1])) if sent else None
            return Delivered(message=ref)

    # -- EditMessage ---------------------------------------------------------------------------
    async def _edit(self, client: discord.Client, action: EditMessage) -> Delivered:
        message_id = _snowflake(action.message.id)
        text = render.truncate(render.escape_markdown(action.text))
        view = self._view(action.buttons)
        slot = self._slots.for_component_message(message_id)
        if slot is not None:
            async with slot.lock:
                if slot.can_answer_first():
                    # Editing the pressed message is itself the answer to the press.
                    await slot.interaction.response.edit_message(content=text, view=view)
                    slot.state = "answered"
                    return Delivered(message=action.message)
                if slot.state == "updating" and slot.can_follow_up():
                    await slot.interaction.edit_original_response(content=text, view=view)
                    return Delivered(message=action.message)
        owner = self._slots.ephemeral_owner(message_id)
        if owner is not None:
            await owner.interaction.followup.edit_message(message_id, content=text, view=view)
            return Delivered(message=action.message)
        channel = self._messageable(client, action.message.chat)
        await channel.get_partial_message(message_id).edit(content=text, view=view)
        return Delivered(message=action.message)

    # -- ShowForm ------------------------------------------------------------------------------
    async def _show_form(self, action: ShowForm) -> Delivered:
        slot = self._slots.get(action.interaction)
        if slot is None:
            raise DeliveryError("a Discord form can only open in answer to an interaction")
        modal = discord.ui.Modal(title=_clip(action.title, MAX_MODAL_TITLE),
                                 custom_id=action.form[: render.MAX_CUSTOM_ID], timeout=None)
        for form_field in action.fields[:MAX_MODAL_FIELDS]:
            style = discord.TextStyle.paragraph if form_field.long else discord.TextStyle.short
            modal.add_item(discord.ui.TextInput(
                label=_clip(form_field.label, MAX_MODAL_LABEL),
                custom_id=form_field.name[: render.MAX_CUSTOM_ID], style=style,
                default=form_field.value[:MAX_INPUT_CHARS] or None, required=False,
                max_length=MAX_INPUT_CHARS))
        modal.stop()  # submits reach on_interaction, not a handler that a restart would lose
        async with slot.lock:
            if not slot.can_answer_first():
                raise DeliveryError("the interaction was already answered; a form cannot open")
            await slot.interaction.response.send_modal(modal)
            slot.state = "modal"
        return Delivered()

    # -- ApproveJoin ---------------------------------------------------------------------------
    async def _approve(self, client: discord.Client, action: ApproveJoin) -> Delivered:
        guild = client.get_guild(_snowflake(action.group.partition(":")[2]))
        if guild is None:
            raise DeliveryError("Kindred is not in that Discord server")
        wanted = self._config.hold_role.casefold()
        role = next((r for r in guild.roles if r.name.casefold() == wanted), None)
        if role is None:
            return Delivered()  # this server does not hold new members with a role
        user_id = _snowflake(action.user.id)
        member = guild.get_member(user_id) or await guild.fetch_member(user_id)
        if role in member.roles:
            await member.remove_roles(role, reason="Agreed to the group's rules")
        return Delivered()

    # -- interaction deadlines -----------------------------------------------------------------
    async def watch(self, slot: Slot) -> None:
        """Acknowledge `slot` in time if nothing else did, and tidy up a lone "thinking…".

        Guarantees:
            * Before `defer_after` seconds (under Discord's 3), an unanswered interaction is
              deferred: a button press silently, a command or form with an ephemeral
              "thinking…", so Discord never tells the person the app did not respond.
            * A "thinking…" that no reply replaced is deleted `finish_after` seconds after the
              core handled the event.
        """
        config = self._config
        try:
            try:
                await asyncio.wait_for(slot.handled.wait(), timeout=config.defer_after)
            except TimeoutError:
                pass
            else:  # handled quickly: give its replies a moment to go out first
                left = slot.received + config.defer_after - time.monotonic()
                await asyncio.sleep(max(0.0, min(config.settle_after, left)))
            async with slot.lock:
                if slot.can_answer_first():
                    await self._defer(slot)
            await slot.handled.wait()
            handled_at = slot.handled_at or time.monotonic()
            await asyncio.sleep(max(0.0, handled_at + config.finish_after - time.monotonic()))
            async with slot.lock:
                await self._remove_placeholder(slot)
        except discord.HTTPException as failed:
            log.warning("could not acknowledge a Discord interaction",
                        extra={"status": failed.status, "code": failed.code})
        except (aiohttp.ClientError, OSError, TimeoutError) as broken:
            log.warning("could not acknowledge a Discord interaction",
                        extra={"error": type(broken).__name__})

    async def _defer(self, slot: Slot) -> None:
        if slot.kind == "component":
            await slot.interaction.response.defer()
            slot.state = "updating"
        else:
            await slot.interaction.response.defer(ephemeral=True, thinking=True)
            slot.state = "thinking"

    async def _remove_placeholder(self, slot: Slot) -> None:
        """Delete a "thinking…" that no reply replaced (lock held)."""
        if slot.state == "thinking" and not slot.replied and slot.can_follow_up():
            try:
                await slot.interaction.delete_original_response()
            except discord.NotFound:
                pass
            slot.state = "finished"

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _messageable(client: discord.Client, chat: ChatRef) -> Any:
        channel = client.get_channel(_snowflake(chat.id))
        if channel is not None and isinstance(channel, discord.abc.Messageable):
            return channel
        kind = discord.ChannelType.private if chat.kind == "direct" else discord.ChannelType.text
        return client.get_partial_messageable(_snowflake(chat.id), type=kind)

    @staticmethod
    def _view(rows: tuple[tuple[Button, ...], ...]) -> discord.ui.View | None:
        laid = render.layout_buttons(rows)
        if not laid:
            return None
        view = discord.ui.View(timeout=None)
        for index, row in enumerate(laid):
            for button in row:
                view.add_item(discord.ui.Button(label=render.button_label(button.label),
                                                custom_id=button.payload,
                                                style=discord.ButtonStyle.secondary, row=index))
        # A stopped view is only layout: discord.py keeps no handler for it, so every press
        # reaches on_interaction, including presses on messages sent before a restart.
        view.stop()
        return view


async def _send_chunks(channel: Any, chunks: Sequence[str], *, view: discord.ui.View | None,
                       file: discord.File | None, reference: discord.MessageReference | None,
                       mentions: discord.AllowedMentions) -> discord.Message:
    message: discord.Message | None = None
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        kwargs = _content_kwargs(chunk, view if last else None, file if last else None)
        if index == 0 and reference is not None:
            kwargs["reference"] = reference
            kwargs["mention_author"] = False
        send: Callable[..., Awaitable[discord.Message]] = channel.send
        message = await send(**kwargs, allowed_mentions=mentions)
    assert message is not None  # split_text never returns an empty list
    return message


def _content_kwargs(content: str, view: discord.ui.View | None,
                    file: discord.File | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"content": content}
    if view is not None:
        kwargs["view"] = view
    if file is not None:
        kwargs["file"] = file
    return kwargs


def _file(image: Image | None) -> discord.File | None:
    if image is None:
        return None
    return discord.File(io.BytesIO(image.content), filename=image.filename)


def _snowflake(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise DeliveryError("not a Discord id") from None
    if number <= 0:
        raise DeliveryError("not a Discord id")
    return number


def _retry_after(error: discord.HTTPException) -> float:
    try:
        return float(error.response.headers.get("Retry-After", "1"))
    except (AttributeError, ValueError):
        return 1.0


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"
