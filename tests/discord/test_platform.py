"""The Discord platform alone, with a stand-in inbox: interaction deadlines, forms, errors, limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.discord import DiscordLoginError, DiscordPlatform, build
from bot.core.actions import (
    ApproveJoin,
    Button,
    EditMessage,
    FormField,
    Image,
    Priority,
    SendMessage,
    SendPrivateReply,
    ShowForm,
)
from bot.core.commands import CommandInfo, Param
from bot.core.events import ButtonPressed, CommandInvoked, FormSubmitted, InboundEvent
from bot.core.identity import ChatRef, MessageRef, UserRef
from bot.core.ports import DeliveryError, RateLimited
from bot.core.roles import Role
from tests.discord.world import ALICE, GENERAL, GUILD, OWNER, THREAD
from tests.fakes.discord_api import FakeDiscord

GENERAL_CHAT = ChatRef("discord", str(GENERAL), "group")
PING = CommandInfo(name="ping", role=Role.MEMBER, where="any", summaries={"en": "test command"},
                   usages={"en": "/ping [text]"},
                   params=(Param(name="text", kind="rest", optional=True),))
Reaction = Callable[[InboundEvent], Awaitable[None]]


class Inbox:
    """Records events; a test decides what the "core" does with each.

    Like the real runtime, it returns once the event is "handled" (after `delay`) and the
    reaction runs afterwards, as the delivery queue would send the core's actions.
    """

    def __init__(self) -> None:
        self.events: list[InboundEvent] = []
        self.react: Reaction | None = None
        self.delay = 0.0
        self.reactions: list[asyncio.Task[None]] = []

    async def __call__(self, event: InboundEvent) -> None:
        self.events.append(event)
        await asyncio.sleep(self.delay)
        if self.react is not None:
            self.reactions.append(asyncio.create_task(self.react(event)))


def platform_for(fake: FakeDiscord, **extra: Any) -> DiscordPlatform:
    return build({"token": fake.token, "api_base_url": fake.api_base,
                  "gateway_url": fake.gateway_url, "guild_id": GUILD, "commands": (PING,),
                  "facilitator_role": "Facilitator", "default_language": "en",
                  "guild_ready_timeout": 0.05, **extra})


@pytest.fixture
async def running(fake: FakeDiscord) -> AsyncIterator[tuple[DiscordPlatform, Inbox]]:
    platform = platform_for(fake)
    inbox = Inbox()
    await platform.start(inbox)
    try:
        yield platform, inbox
    finally:
        await asyncio.gather(*inbox.reactions, return_exceptions=True)
        await platform.stop()


async def test_a_slow_core_is_deferred_then_its_reply_replaces_the_thinking(
        fake: FakeDiscord, running: tuple[DiscordPlatform, Inbox]) -> None:
    platform, inbox = running
    inbox.delay = 2.0  # longer than the defer point, well inside Discord's limit after it

    async def reply(event: InboundEvent) -> None:
        assert isinstance(event, CommandInvoked) and event.args == ("hello", "there")
        await platform.perform(SendPrivateReply(to=event.meta.sender, chat=event.meta.chat,
                                                text="pong", interaction=event.interaction))

    inbox.react = reply
    invoked = await fake.user_runs_slash(GUILD, GENERAL, ALICE, "ping", {"text": "hello there"})
    deferred = await fake.wait_for_response(invoked)
    assert deferred.type == 5 and deferred.ephemeral
    answer = await fake.wait_for(lambda s: s.interaction_id == int(invoked["id"]), timeout=5)
    assert answer.via == "followup" and answer.ephemeral and answer.content == "pong"


async def test_an_unanswered_command_and_button_are_acknowledged_quietly(
        fake: FakeDiscord, running: tuple[DiscordPlatform, Inbox]) -> None:
    platform, _ = running
    invoked = await fake.user_runs_slash(GUILD, GENERAL, ALICE, "ping")
    assert (await fake.wait_for_response(invoked)).type == 5
    # The lone "thinking…" is removed once the core is done and nothing replaced it.
    await fake.wait_for_request(lambda r: r.method == "DELETE" and str(invoked["token"]) in r.path)
    sent = await platform.perform(SendMessage(to=GENERAL_CHAT, text="Press",
                                              buttons=((Button(label="A", payload="t:a"),),)))
    assert sent.message is not None
    click = await fake.user_clicks(GENERAL, int(sent.message.id), ALICE, "t:a")
    assert (await fake.wait_for_response(click)).type == 6  # no message, no error shown


async def test_a_public_reply_answers_the_command_and_an_edit_answers_the_press(
        fake: FakeDiscord, running: tuple[DiscordPlatform, Inbox]) -> None:
    platform, inbox = running

    async def core(event: InboundEvent) -> None:
        if isinstance(event, CommandInvoked):
            # Posted meanwhile in the same channel (a welcome): it must not take the answer's place.
            await platform.perform(SendMessage(to=event.meta.chat, text="Welcome, Carol"))
            await platform.perform(SendMessage(
                to=event.meta.chat, text="Everyone sees this",
                buttons=((Button(label="Done", payload="t:done"),),), answers=event.interaction))
        elif isinstance(event, ButtonPressed):
            assert event.message is not None
            await platform.perform(EditMessage(message=event.message, text="Closed"))

    inbox.react = core
    invoked = await fake.user_runs_slash(GUILD, THREAD, OWNER, "ping")
    public = await fake.wait_for(lambda s: s.interaction_id == int(invoked["id"]))
    assert public.via == "interaction" and not public.ephemeral
    assert public.text == "Everyone sees this" and public.custom_ids() == ["t:done"]
    welcome = await fake.wait_for(lambda s: s.text == "Welcome, Carol")
    assert welcome.via == "channel" and welcome.interaction_id is None
    click = await fake.user_clicks(THREAD, public.message_id, ALICE, "t:done")
    assert (await fake.wait_for_response(click)).type == 7
    assert fake.message(public.message_id)["content"] == "Closed"
    assert fake.message(public.message_id)["components"] == []


async def test_a_form_opens_in_answer_to_a_press_and_comes_back_submitted(
        fake: FakeDiscord, running: tuple[DiscordPlatform, Inbox]) -> None:
    platform, inbox = running

    async def core(event: InboundEvent) -> None:
        if isinstance(event, ButtonPressed):
            await platform.perform(ShowForm(
                to=event.meta.sender, chat=event.meta.chat, form="welcome-form",
                title="Welcome text", interaction=event.interaction, fields=(
                    FormField(name="welcome", label="Welcome", long=True, value="Hello"),
                    FormField(name="note", label="Note"))))
        elif isinstance(event, FormSubmitted):
            await platform.perform(SendPrivateReply(to=event.meta.sender, chat=event.meta.chat,
                                                    text="Saved", interaction=event.interaction))

    inbox.react = core
    sent = await platform.perform(SendMessage(to=GENERAL_CHAT, text="Edit the welcome",
                                              buttons=((Button(label="Edit", payload="f:1"),),)))
    assert sent.message is not None
    click = await fake.user_clicks(GENERAL, int(sent.message.id), OWNER, "f:1")
    assert (await fake.wait_for_response(click)).type == 9
    submit = await fake.user_submits_modal("welcome-form", {"welcome": "Hi all", "note": "x"})
    saved = await fake.wait_for(lambda s: s.interaction_id == int(submit["id"]))
    assert saved.ephemeral and saved.content == "Saved"
    form = next(e for e in inbox.events if isinstance(e, FormSubmitted))
    assert form.form == "welcome-form" and form.values == (("welcome", "Hi all"), ("note", "x"))
    # A form cannot open once the interaction was answered.
    with pytest.raises(DeliveryError):
        await platform.perform(ShowForm(to=form.meta.sender, chat=form.meta.chat, form="again",
                                        title="Again", fields=(), interaction=form.interaction))


async def test_private_replies_without_an_interaction_go_by_dm_else_the_channel(
        fake: FakeDiscord, running: tuple[DiscordPlatform, Inbox]) -> None:
    platform, _ = running
    alice = UserRef("discord", str(ALICE))
    dm = await platform.perform(SendPrivateReply(to=alice, chat=GENERAL_CHAT, text="just you"))
    assert not dm.via_fallback and fake.dms_to(ALICE)[-1].content == "just you"
    fake.set_dms_closed(ALICE)
    public = await platform.perform(SendPrivateReply(to=alice, chat=GENERAL_CHAT, text="psst"))
    assert public.via_fallback and fake.sent_in(GENERAL)[-1].content == f"<@{ALICE}> psst"


async def test_images_replies_and_hold_roles(fake: FakeDiscord,
                                             running: tuple[DiscordPlatform, Inbox]) -> None:
    platform, _ = running
    said = await fake.user_says(THREAD, ALICE, "a question")
    chart = Image(filename="chart.png", content=b"\x89PNG fake")
    await platform.perform(SendMessage(to=ChatRef("discord", str(THREAD), "group"), text="Here",
                                       image=chart, reply_to=MessageRef(
                                           ChatRef("discord", str(THREAD), "group"), said["id"])))
    sent = fake.sent_in(THREAD)[-1]
    assert sent.reference is not None and sent.reference["message_id"] == said["id"]
    assert sent.attachments[0].filename == "chart.png" and sent.attachments[0].data == chart.content
    role = fake.add_role(GUILD, 710, "Newcomer")
    await fake.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(GUILD), "role": role})
    fake.add_member(GUILD, 14, "erin", roles=[710])
    await fake.member_updated(GUILD, 14)
    await asyncio.sleep(0.05)
    await platform.perform(ApproveJoin(group=f"discord:{GUILD}", user=UserRef("discord", "14")))
    assert fake.member_payload(GUILD, 14)["roles"] == []


async def test_refusals_and_long_rate_limits_map_to_the_core_errors(
        fake: FakeDiscord, running: tuple[DiscordPlatform, Inbox]) -> None:
    platform, _ = running
    with pytest.raises(DeliveryError):
        await platform.perform(SendMessage(to=ChatRef("discord", "999", "group"), text="x"))
    fake.fail_next(f"POST /channels/{GENERAL}/messages", status=403, code=50013)
    with pytest.raises(DeliveryError):
        await platform.perform(SendMessage(to=GENERAL_CHAT, text="x"))
    fake.rate_limit_next(f"POST /channels/{GENERAL}/messages", retry_after=60)
    with pytest.raises(RateLimited) as limited:
        await platform.perform(SendMessage(to=GENERAL_CHAT, text="x"))
    assert limited.value.retry_after == pytest.approx(60)


async def test_a_refused_token_stops_start_and_restores_the_urls(fake: FakeDiscord) -> None:
    from discord.http import Route

    before = Route.BASE
    platform = platform_for(fake, token="not-the-token")
    with pytest.raises(DiscordLoginError, match="DISCORD_BOT_TOKEN"):
        await platform.start(Inbox())
    assert before == Route.BASE
    await platform.stop()  # safe after a failed start, and twice
    await platform.stop()


def test_a_wave_leaves_room_for_alerts(fake: FakeDiscord) -> None:
    platform = platform_for(fake)
    bulk = SendMessage(to=GENERAL_CHAT, text="check in", priority=Priority.BULK)
    alert = SendMessage(to=GENERAL_CHAT, text="alert", priority=Priority.ALERT)
    started = time.monotonic()
    taken = 0
    while platform.reserve(bulk) == 0 and time.monotonic() - started < 0.5:
        taken += 1
    assert 35 <= taken <= 45  # about a second's worth at 40 a second, then it must wait
    assert platform.reserve(bulk) > 0
    assert platform.reserve(alert) == 0  # alerts still go at once


async def test_visibility_names_hidden_channels_and_admins_are_managers_or_the_role(
        fake: FakeDiscord) -> None:
    from tests.discord.world import BOB
    from tests.fakes.discord_api import Perm

    fake.add_channel(GUILD, 603, "private-chat", permission_overwrites=[
        {"id": fake.bot_id, "type": 1, "deny": Perm.READ_MESSAGE_HISTORY}])
    platform = platform_for(fake)
    await platform.start(Inbox())
    try:
        report = await platform.check_visibility(f"discord:{GUILD}")
        assert not report.can_read_all_messages
        assert report.problems[0].startswith("I cannot read some channels")
        assert report.problems[1:] == ("#private-chat",)
        missing = await platform.check_visibility("discord:4242")
        assert "not in this Discord server" in missing.problems[-1]
        admins = await platform.group_admins(f"discord:{GUILD}")
        assert set(admins) == {UserRef("discord", str(OWNER)), UserRef("discord", str(BOB))}
    finally:
        await platform.stop()


async def test_a_new_gateway_session_catches_up_what_the_gap_missed(
        fake: FakeDiscord, running: tuple[DiscordPlatform, Inbox]) -> None:
    from bot.core.events import MessageReceived

    platform, inbox = running
    await platform.wait_caught_up()
    passes = platform.catch_ups
    await fake.disconnect_gateway(resumable=False)  # Discord cannot resume: events are lost
    lost = await fake.user_says(GENERAL, ALICE, "said during the gap")
    for _ in range(150):  # discord.py waits a few seconds before identifying again
        if platform.catch_ups > passes:
            break
        await asyncio.sleep(0.1)
    await platform.wait_caught_up()
    caught = [e for e in inbox.events if isinstance(e, MessageReceived)]
    assert [(e.meta.event_id, e.meta.late) for e in caught] == [(f"discord:msg:{lost['id']}", True)]
