"""Tests that the real discord.py client works against tests.fakes.discord_api.FakeDiscord."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord_api import (
    CHANNEL_CATEGORY,
    CHANNEL_PUBLIC_THREAD,
    FakeDiscord,
    FakeDiscordError,
    Intents,
    Perm,
    SentMessage,
)

GUILD = 500
OWNER = 10
ALICE = 11
BOB = 12
CATEGORY = 599
GENERAL = 600
STAFF = 601
THREAD = 602
FACILITATOR_ROLE = 700


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_user(OWNER, "dana", global_name="Dana")
        server.add_guild(GUILD, "Parents Together", OWNER)
        server.add_role(GUILD, FACILITATOR_ROLE, "Facilitator", Perm.MANAGE_MESSAGES)
        server.add_channel(GUILD, CATEGORY, "support", CHANNEL_CATEGORY)
        server.add_channel(GUILD, GENERAL, "general", parent_id=CATEGORY)
        server.add_channel(
            GUILD,
            STAFF,
            "staff",
            permission_overwrites=[
                {"id": GUILD, "type": 0, "deny": Perm.VIEW_CHANNEL},
                {"id": FACILITATOR_ROLE, "type": 0, "allow": Perm.VIEW_CHANNEL},
                {"id": server.bot_id, "type": 1, "allow": Perm.VIEW_CHANNEL},
            ],
        )
        server.add_channel(GUILD, THREAD, "newcomers", CHANNEL_PUBLIC_THREAD, parent_id=GENERAL)
        server.add_member(GUILD, ALICE, "alice", global_name="Alice")
        server.add_member(GUILD, BOB, "bob", roles=[FACILITATOR_ROLE])
        with server.patch_discord():
            yield server


def full_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.members = True
    intents.message_content = True
    return intents


class Bot(discord.Client):
    """A small client with a command tree, like the adapter will have."""

    def __init__(self, intents: discord.Intents | None = None) -> None:
        super().__init__(intents=intents or full_intents(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.messages: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.edits: asyncio.Queue[discord.RawMessageUpdateEvent] = asyncio.Queue()
        self.joins: asyncio.Queue[discord.Member] = asyncio.Queue()

    async def on_message(self, message: discord.Message) -> None:
        if message.author.id != self.user.id:  # type: ignore[union-attr]
            await self.messages.put(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.edits.put(payload)

    async def on_member_join(self, member: discord.Member) -> None:
        await self.joins.put(member)


@contextlib.asynccontextmanager
async def running(client: discord.Client, fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    """Log in, connect as a task, wait for on_ready; close cleanly afterwards."""
    await client.login(fake.token)
    task = asyncio.create_task(client.connect())
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        assert ready in done, "client never became ready"
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await asyncio.sleep(0)
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert not leftovers, leftovers


async def test_login_ready_and_world(fake: FakeDiscord) -> None:
    client = Bot()
    async with running(client, fake):
        guild = client.get_guild(GUILD)
        assert guild is not None and guild.name == "Parents Together"
        assert {m.id for m in guild.members} == {fake.bot_id, OWNER, ALICE, BOB}
        assert guild.chunked
        assert guild.owner_id == OWNER
        assert {c.id for c in guild.text_channels} == {GENERAL, STAFF}
        assert guild.get_channel(GENERAL).category.id == CATEGORY  # type: ignore[union-attr]
        thread = guild.get_thread(THREAD)
        assert thread is not None and thread.parent_id == GENERAL
        bob = guild.get_member(BOB)
        assert bob is not None and any(r.name == "Facilitator" for r in bob.roles)
        staff = guild.get_channel(STAFF)
        assert staff is not None
        assert not staff.permissions_for(guild.get_member(ALICE)).view_channel  # type: ignore[arg-type]
        assert staff.permissions_for(bob).view_channel
        assert staff.permissions_for(guild.me).send_messages
        assert guild.me.guild_permissions.manage_roles
        assert client.application_id == fake.application_id
        assert client.application_flags.gateway_message_content_limited
        intents = fake.last_intents
        assert intents is not None
        assert intents & Intents.MESSAGE_CONTENT and intents & Intents.GUILD_MEMBERS

        fetched = await guild.fetch_member(ALICE)
        assert fetched.name == "alice"
        assert sorted([m.id async for m in guild.fetch_members(limit=None)]) == sorted(guild._members)
        assert {r.name for r in await guild.fetch_roles()} >= {"@everyone", "Facilitator"}
        assert {c.id for c in await guild.fetch_channels()} == {CATEGORY, GENERAL, STAFF}
        assert (await client.fetch_channel(THREAD)).id == THREAD
        assert (await client.fetch_user(ALICE)).global_name == "Alice"
        with pytest.raises(discord.NotFound):
            await guild.fetch_member(999)


async def test_wrong_token_is_refused(fake: FakeDiscord) -> None:
    client = discord.Client(intents=full_intents())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base}/users/@me", headers={"Authorization": "Bot x"}) as r:
            assert r.status == 401
            assert r.headers["Content-Type"] == "application/json"
        async with session.get(f"{fake.api_base}/nope") as r:
            assert r.status == 404
            assert await r.json() == {"message": "404: Not Found", "code": 0}


async def test_on_message_and_reply_in_thread(fake: FakeDiscord) -> None:
    client = Bot()
    async with running(client, fake):
        await fake.user_says(GENERAL, ALICE, "hello everyone")
        message = await asyncio.wait_for(client.messages.get(), 3)
        assert message.content == "hello everyone"
        assert message.author.id == ALICE and isinstance(message.author, discord.Member)
        assert message.guild is not None and message.guild.id == GUILD

        await fake.user_says(THREAD, ALICE, "first day here")
        in_thread = await asyncio.wait_for(client.messages.get(), 3)
        assert isinstance(in_thread.channel, discord.Thread)
        assert in_thread.channel.parent_id == GENERAL
        reply = await in_thread.reply("welcome!")
        assert reply.reference is not None and reply.reference.message_id == in_thread.id
        sent = await fake.wait_for(lambda s: s.content == "welcome!")
        assert sent.channel_id == THREAD and sent.via == "channel"
        assert sent.reference is not None and sent.reference["message_id"] == str(in_thread.id)

        await fake.user_says(GENERAL, BOB, "import these", attachments=[("lines.csv", b"name,phone\n")])
        with_file = await asyncio.wait_for(client.messages.get(), 3)
        assert with_file.attachments[0].filename == "lines.csv"
        assert await with_file.attachments[0].read() == b"name,phone\n"

        edited = await fake.user_edits(GENERAL, message.id, "hello all")
        update = await asyncio.wait_for(client.edits.get(), 3)
        assert update.message_id == message.id and update.message.content == "hello all"
        assert edited["edited_timestamp"] is not None


async def test_message_content_intent_not_requested_blanks_content(fake: FakeDiscord) -> None:
    intents = discord.Intents.default()
    client = Bot(intents)
    async with running(client, fake):
        await fake.user_says(GENERAL, ALICE, "I need help")
        message = await asyncio.wait_for(client.messages.get(), 3)
        assert message.content == ""
        await fake.user_says(GENERAL, ALICE, f"<@{fake.bot_id}> are you there?")
        mentioned = await asyncio.wait_for(client.messages.get(), 3)
        assert "are you there" in mentioned.content
        # Without the members intent only the bot itself is cached.
        assert [m.id for m in client.get_guild(GUILD).members] == [fake.bot_id]  # type: ignore[union-attr]


async def test_send_view_with_buttons_and_validation(fake: FakeDiscord) -> None:
    client = Bot()
    async with running(client, fake):
        view = discord.ui.View(timeout=None)
        for score in range(1, 6):
            view.add_item(discord.ui.Button(label=str(score), custom_id=f"mood:{score}"))
        channel = client.get_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        embed = discord.Embed(title="Check-in", description="How are you today?")
        message = await channel.send("Daily check-in", view=view, embed=embed)
        sent = fake.sent[-1]
        assert sent.custom_ids() == [f"mood:{n}" for n in range(1, 6)]
        assert sent.embeds[0]["title"] == "Check-in" and "How are you" in sent.text
        assert fake.history(GENERAL)[-1]["id"] == str(message.id)
        assert len(message.components) == 1

        with pytest.raises(discord.HTTPException) as too_long:
            await channel.send("x" * 2001)
        assert too_long.value.status == 400 and too_long.value.code == 50035

        edited = await message.edit(content="Check-in closed", view=None)
        assert edited.content == "Check-in closed"
        assert fake.edits[-1].content == "Check-in closed" and fake.edits[-1].components == []
        await message.delete()
        assert fake.deleted == [(GENERAL, message.id)]


async def test_slash_commands_sync_and_invoke(fake: FakeDiscord) -> None:
    client = Bot()
    calls: list[Any] = []

    @client.tree.command(name="checkin", description="Check in with your mood")
    @app_commands.describe(score="1 very hard to 5 good", note="optional note")
    async def checkin(
        interaction: discord.Interaction, score: app_commands.Range[int, 1, 5], note: str | None = None
    ) -> None:
        calls.append((interaction.user.id, score, note))
        await interaction.response.send_message(f"Thanks, recorded {score}", ephemeral=True)

    @client.tree.command(name="report", description="Weekly report")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(
            "Report ready", file=discord.File(io.BytesIO(b"\x89PNG fake"), "chart.png")
        )

    moderator = app_commands.Group(name="moderator", description="Manage moderators")

    @moderator.command(name="add", description="Add a moderator")
    async def moderator_add(interaction: discord.Interaction, user: discord.Member) -> None:
        calls.append(("moderator add", user.id, user.display_name, interaction.permissions.manage_messages))
        await interaction.response.send_message(f"{user.mention} is now a moderator")

    client.tree.add_command(moderator, guild=discord.Object(GUILD))

    async with running(client, fake):
        synced_global = await client.tree.sync()
        synced_guild = await client.tree.sync(guild=discord.Object(GUILD))
        assert {c.name for c in synced_global} == {"checkin", "report"}
        assert [c.name for c in synced_guild] == ["moderator"]
        assert {c["name"] for c in fake.commands[None]} == {"checkin", "report"}
        assert fake.commands[GUILD][0]["options"][0]["name"] == "add"
        # A second sync keeps the ids, as Discord does.
        again = await client.tree.sync()
        assert {c.id for c in again} == {c.id for c in synced_global}

        interaction = await fake.user_runs_slash(GUILD, GENERAL, ALICE, "checkin", {"score": 2})
        response = await fake.wait_for_response(interaction)
        assert response.type == 4 and response.ephemeral
        sent = await fake.wait_for(lambda s: s.interaction_id == int(interaction["id"]))
        assert sent.content == "Thanks, recorded 2" and sent.ephemeral and sent.via == "interaction"
        assert calls == [(ALICE, 2, None)]

        with pytest.raises(FakeDiscordError):
            await fake.user_runs_slash(GUILD, GENERAL, ALICE, "checkin", {"score": 2, "mood": 1})

        deferred = await fake.user_runs_slash(GUILD, GENERAL, BOB, "report")
        followup = await fake.wait_for(lambda s: s.interaction_id == int(deferred["id"]))
        assert followup.via == "followup" and not followup.ephemeral
        assert followup.content == "Report ready"
        assert followup.attachments[0].filename == "chart.png"
        assert followup.attachments[0].data.startswith(b"\x89PNG")
        assert (await fake.wait_for_response(deferred)).type == 5

        added = await fake.user_runs_slash(GUILD, STAFF, BOB, "moderator add", {"user": ALICE})
        await fake.wait_for(lambda s: s.interaction_id == int(added["id"]))
        assert calls[-1] == ("moderator add", ALICE, "Alice", True)
        assert added["data"]["resolved"]["members"][str(ALICE)]["roles"] == []

        dm = await fake.user_runs_slash(None, None, ALICE, "checkin", {"score": 5, "note": "good day"})
        dm_reply = await fake.wait_for(lambda s: s.interaction_id == int(dm["id"]))
        assert dm_reply.recipient_id == ALICE and "user" in dm and "member" not in dm
        assert calls[-1] == (ALICE, 5, "good day")


async def test_late_or_double_acknowledgement_is_refused(fake: FakeDiscord) -> None:
    client = Bot()
    errors: list[BaseException] = []

    @client.tree.command(name="slow", description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)
        try:
            await interaction.response.send_message("late")
        except discord.HTTPException as exc:
            errors.append(exc)

    async with running(client, fake):
        await client.tree.sync()
        fake.interaction_ack_deadline = 0.1
        await fake.user_runs_slash(GUILD, GENERAL, ALICE, "slow")
        await fake.wait_for_request(lambda r: r.path.endswith("/callback") and r.status != 0)
        await asyncio.sleep(0.05)
        assert isinstance(errors[0], discord.NotFound) and errors[0].code == 10062


class MoodView(discord.ui.View):
    """A persistent view: timeout None and fixed custom_ids."""

    def __init__(self, presses: list[tuple[int, str]]) -> None:
        super().__init__(timeout=None)
        self.presses = presses

    @discord.ui.button(label="Good", custom_id="mood:5")
    async def good(self, interaction: discord.Interaction, button: discord.ui.Button[MoodView]) -> None:
        self.presses.append((interaction.user.id, button.custom_id or ""))
        await interaction.response.send_message("Thanks for checking in", ephemeral=True)

    @discord.ui.button(label="Close", custom_id="mood:close")
    async def close(self, interaction: discord.Interaction, button: discord.ui.Button[MoodView]) -> None:
        button.disabled = True
        await interaction.response.edit_message(content="Closed", view=self)


async def test_persistent_view_survives_restart(fake: FakeDiscord) -> None:
    presses: list[tuple[int, str]] = []
    first = Bot()
    async with running(first, fake):
        channel = first.get_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("How are you?", view=MoodView(presses))

    second = Bot()
    second.add_view(MoodView(presses))
    async with running(second, fake):
        click = await fake.user_clicks(GENERAL, message.id, ALICE, "mood:5")
        reply = await fake.wait_for(lambda s: s.interaction_id == int(click["id"]))
        assert reply.ephemeral and reply.content == "Thanks for checking in"
        assert presses == [(ALICE, "mood:5")]

        close = await fake.user_clicks(GENERAL, message.id, BOB, "mood:close")
        edit = await fake.wait_for_edit(lambda e: e.interaction_id == int(close["id"]))
        assert edit.content == "Closed" and edit.via == "interaction"
        assert fake.message(message.id)["content"] == "Closed"
        with pytest.raises(FakeDiscordError, match="disabled"):
            await fake.user_clicks(GENERAL, message.id, ALICE, "mood:close")


class NoteModal(discord.ui.Modal, title="Add a note"):
    note: discord.ui.TextInput[NoteModal] = discord.ui.TextInput(label="Note", custom_id="note")

    def __init__(self, seen: list[str]) -> None:
        super().__init__(custom_id="note-modal")
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen.append(self.note.value)
        await interaction.response.send_message("Saved", ephemeral=True)


async def test_modal_submit(fake: FakeDiscord) -> None:
    client = Bot()
    seen: list[str] = []

    @client.tree.command(name="note", description="Leave a note")
    async def note(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(NoteModal(seen))

    async with running(client, fake):
        await client.tree.sync(guild=None)
        opener = await fake.user_runs_slash(GUILD, GENERAL, ALICE, "note")
        assert (await fake.wait_for_response(opener)).type == 9
        submit = await fake.user_submits_modal("note-modal", {"note": "rough night"})
        saved = await fake.wait_for(lambda s: s.interaction_id == int(submit["id"]))
        assert saved.content == "Saved" and saved.ephemeral
        assert seen == ["rough night"]


async def test_direct_messages_and_closed_dms(fake: FakeDiscord) -> None:
    client = Bot()
    async with running(client, fake):
        alice = await client.fetch_user(ALICE)
        await alice.send("Here are some crisis lines")
        dm = fake.dms_to(ALICE)[-1]
        assert dm.via == "dm" and dm.content == "Here are some crisis lines"

        await fake.user_dms(ALICE, "thank you")
        incoming = await asyncio.wait_for(client.messages.get(), 3)
        assert isinstance(incoming.channel, discord.DMChannel) and incoming.content == "thank you"

        fake.set_dms_closed(BOB)
        bob = await client.fetch_user(BOB)
        with pytest.raises(discord.Forbidden) as closed:
            await bob.send("hello")
        assert closed.value.code == 50007


async def test_missing_privileged_intent_raises(fake: FakeDiscord) -> None:
    fake.set_intents_allowed(message_content=False, members=True)
    client = Bot()
    await client.login(fake.token)
    assert not client.application_flags.gateway_message_content_limited
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(client.connect(), 5)
    await client.close()
    assert fake.last_intents is not None and fake.last_intents & Intents.MESSAGE_CONTENT


async def test_history_catch_up(fake: FakeDiscord) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    old = fake.message_while_offline(GENERAL, ALICE, "before downtime", at=start)
    for minute in (10, 20, 30):
        fake.message_while_offline(GENERAL, ALICE, f"missed {minute}", at=start + timedelta(minutes=minute))
    client = Bot()
    async with running(client, fake):
        channel = client.get_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        after_old = [m.content async for m in channel.history(after=discord.Object(int(old["id"])))]
        assert after_old == ["missed 10", "missed 20", "missed 30"]
        after_time = [m.content async for m in channel.history(after=start + timedelta(minutes=15))]
        assert after_time == ["missed 20", "missed 30"]
        newest_first = [m.content async for m in channel.history(limit=2)]
        assert newest_first == ["missed 30", "missed 20"]
        paged = [m.content async for m in channel.history(limit=None, oldest_first=True)]
        assert paged[0] == "before downtime" and len(paged) == 4
    assert client.messages.empty()


async def test_rate_limit_and_server_error_are_retried(fake: FakeDiscord) -> None:
    client = Bot()
    async with running(client, fake):
        channel = client.get_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        fake.rate_limit_next(f"POST /channels/{GENERAL}/messages", count=2, retry_after=0.1)
        await channel.send("alert: please check on Alice")
        assert fake.rate_limited_count == 2
        posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
        assert [r.status for r in posts] == [429, 429, 200]
        assert len(fake.sent) == 1

        fake.fail_next("/messages", status=500)
        await channel.send("second try")
        assert fake.faults_served == 1 and fake.sent[-1].content == "second try"

        fake.set_rate_limit("POST /channels", limit=2, per_seconds=0.3)
        for n in range(4):
            await channel.send(f"burst {n}")
        assert fake.rate_limited_count == 2  # discord.py waited on the headers instead


async def test_member_join_and_role_changes(fake: FakeDiscord) -> None:
    client = Bot()
    async with running(client, fake):
        await fake.member_joins(GUILD, 13, "carol")
        member = await asyncio.wait_for(client.joins.get(), 3)
        assert member.id == 13 and member.guild.id == GUILD
        role = await member.guild.create_role(name="Newcomer")
        await member.add_roles(role)
        await fake.wait_for_request(lambda r: r.method == "PUT" and "/roles/" in r.path)
        assert role.id in [int(r) for r in fake.member_payload(GUILD, 13)["roles"]]

        fake.add_role(GUILD, 701, "Owner's role", position=99)
        with pytest.raises(discord.Forbidden):
            await member.add_roles(discord.Object(701))

        await fake.member_leaves(GUILD, 13)
        await asyncio.sleep(0.05)
        assert member.guild.get_member(13) is None


async def test_reconnect_resumes_and_replays(fake: FakeDiscord) -> None:
    client = Bot()
    resumed = asyncio.Event()

    @client.event
    async def on_resumed() -> None:
        resumed.set()

    async with running(client, fake):
        await fake.disconnect_gateway()
        # Sent while the socket is down: kept and replayed on RESUME, like Discord.
        await fake.user_says(GENERAL, ALICE, "during the outage")
        await fake.wait_until_resumed()
        await asyncio.wait_for(resumed.wait(), 5)
        message = await asyncio.wait_for(client.messages.get(), 5)
        assert message.content == "during the outage"
        assert len(fake.identify_payloads) == 1


def test_sent_message_helpers() -> None:
    sent = SentMessage(
        channel_id=1,
        message_id=2,
        content="hi",
        embeds=[{"title": "T", "fields": [{"name": "n", "value": "v"}]}],
        components=[{"type": 1, "components": [{"type": 2, "custom_id": "a"}, {"type": 2, "url": "u"}]}],
        ephemeral=False,
        reference=None,
        via="channel",
    )
    assert sent.text == "hi\nT\nn\nv"
    assert sent.custom_ids() == ["a"] and len(sent.buttons()) == 2


async def test_commands_bot_ephemeral_defer_and_original_response(fake: FakeDiscord) -> None:
    presses: list[tuple[int, str]] = []

    class KindredBot(commands.Bot):
        async def setup_hook(self) -> None:
            self.add_view(MoodView(presses))
            await self.tree.sync(guild=discord.Object(GUILD))

    bot = KindredBot(command_prefix="!", intents=full_intents(), guild_ready_timeout=0.05)

    @bot.tree.command(name="mydata", description="What is kept about you")
    @app_commands.guilds(GUILD)
    async def mydata(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("Here is your data", ephemeral=False)
        await interaction.edit_original_response(content="Here is your data (updated)")

    @bot.tree.command(name="rules", description="Group rules")
    @app_commands.guilds(GUILD)
    async def rules(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Be kind")
        original = await interaction.original_response()
        await original.edit(content="Be kind, always")

    async with running(bot, fake):
        assert [c["name"] for c in fake.commands[GUILD]] == ["mydata", "rules"]
        asked = await fake.user_runs_slash(GUILD, GENERAL, ALICE, "mydata")
        reply = await fake.wait_for(lambda s: s.interaction_id == int(asked["id"]))
        # The first follow-up after a thinking defer inherits the defer's ephemerality.
        assert reply.ephemeral and reply.via == "followup"
        edit = await fake.wait_for_edit(lambda e: e.interaction_id == int(asked["id"]))
        assert edit.content == "Here is your data (updated)" and edit.ephemeral
        assert reply.message_id not in {int(m["id"]) for m in fake.history(GENERAL)}

        shown = await fake.user_runs_slash(GUILD, GENERAL, BOB, "rules")
        public = await fake.wait_for(lambda s: s.interaction_id == int(shown["id"]))
        assert not public.ephemeral
        await fake.wait_for_edit(lambda e: e.message_id == public.message_id)
        assert fake.history(GENERAL)[-1]["content"] == "Be kind, always"

        message = await bot.get_channel(GENERAL).send("Check in", view=MoodView(presses))  # type: ignore[union-attr]
        await fake.user_clicks(GENERAL, message.id, BOB, "mood:5")
        await fake.wait_for(lambda s: s.content == "Thanks for checking in")
        assert presses == [(BOB, "mood:5")]
