"""Issue #7 scenarios through the real discord.py against the fake Discord server: a member joins
and is onboarded by DM, a check-in wave with button presses, and /resources."""

from __future__ import annotations

import asyncio

from tests.discord.world import CAROL, GENERAL, GUILD, OWNER, start_kindred
from tests.fakes.discord_api import FakeDiscord, SentMessage


def custom_id(message: SentMessage, prefix: str) -> str:
    found = [c for c in message.custom_ids() if c.startswith(prefix)]
    assert found, message.custom_ids()
    return found[0]


async def test_member_joins_and_is_onboarded_by_dm(fake: FakeDiscord, sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url)
    try:
        invoked = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup")
        await fake.wait_for(lambda s: s.interaction_id == int(str(invoked["id"])))
        await fake.member_joins(GUILD, CAROL, "carol")
        welcome = await fake.wait_for(lambda s: s.channel_id == GENERAL and any(
            c.startswith("onb:agree") for c in s.custom_ids()))
        await fake.user_clicks(GENERAL, welcome.message_id, CAROL,
                               custom_id(welcome, "onb:agree"))
        question = await fake.wait_for(lambda s: s.recipient_id == CAROL and s.via == "dm"
                                       and "time zone" in s.text)
        await fake.user_clicks(question.channel_id, question.message_id, CAROL,
                               question.custom_ids()[0])
        language = await fake.wait_for(lambda s: s.recipient_id == CAROL and s.via == "dm"
                                       and "language" in s.text.lower())
        assert language.custom_ids()
    finally:
        await kindred.close()


async def test_checkin_wave_with_button_presses(fake: FakeDiscord, sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url)
    try:
        invoked = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup")
        await fake.wait_for(lambda s: s.interaction_id == int(str(invoked["id"])))
        await fake.member_joins(GUILD, CAROL, "carol")
        welcome = await fake.wait_for(lambda s: s.channel_id == GENERAL and any(
            c.startswith("onb:agree") for c in s.custom_ids()))
        await fake.user_clicks(GENERAL, welcome.message_id, CAROL,
                               custom_id(welcome, "onb:agree"))
        await kindred.app.settle()
        now = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "checkins now")
        await fake.wait_for(lambda s: s.interaction_id == int(str(now["id"])))
        prompt = await fake.wait_for(lambda s: s.channel_id == GENERAL and any(
            c.startswith("ci:") for c in s.custom_ids()))
        moods = [c for c in prompt.custom_ids() if c.startswith("ci:")]
        assert len(moods) == 6
        click = await fake.user_clicks(GENERAL, prompt.message_id, CAROL, moods[3])
        thanks = await fake.wait_for(lambda s: s.interaction_id == int(str(click["id"])))
        assert thanks.ephemeral  # acknowledged privately
        edited = await fake.wait_for_edit(lambda e: e.message_id == prompt.message_id)
        assert "carol" not in str(edited).lower()
    finally:
        await kindred.close()


async def test_resources_by_slash_command(fake: FakeDiscord, sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url)
    try:
        invoked = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup")
        await fake.wait_for(lambda s: s.interaction_id == int(str(invoked["id"])))
        search = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "resources",
                                            {"query": "food bank"})
        cards = await fake.wait_for(lambda s: s.interaction_id == int(str(search["id"])))
        assert "food" in cards.text.lower() or "Feeding" in cards.text
    finally:
        await kindred.close()


async def test_resource_add_opens_a_modal_and_its_submission_saves(fake: FakeDiscord,
                                                                   sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url)
    try:
        invoked = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup")
        await fake.wait_for(lambda s: s.interaction_id == int(str(invoked["id"])))
        await fake.user_runs_slash(GUILD, GENERAL, OWNER, "resource add")
        for _ in range(100):
            if fake.modals:
                break
            await asyncio.sleep(0.05)
        assert fake.modals and fake.modals[-1].type == 9
        modal_id = str((fake.modals[-1].data or {}).get("custom_id"))
        submitted = await fake.user_submits_modal(modal_id, {
            "name": "Respite Night", "categories": "respite", "phone": "512-555-0123",
            "url": "", "description": "Free evening childcare once a month."})
        saved = await fake.wait_for(lambda s: s.interaction_id == int(str(submitted["id"])))
        assert "Saved as #" in saved.text
        listing = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "resource list")
        listed = await fake.wait_for(lambda s: s.interaction_id == int(str(listing["id"])))
        assert "Respite Night" in listed.text
    finally:
        await kindred.close()


async def test_group_welcome_is_written_in_a_modal(fake: FakeDiscord, sqlite_url: str) -> None:
    kindred = await start_kindred(fake, sqlite_url)
    try:
        invoked = await fake.user_runs_slash(GUILD, GENERAL, OWNER, "setup")
        await fake.wait_for(lambda s: s.interaction_id == int(str(invoked["id"])))
        await fake.user_runs_slash(GUILD, GENERAL, OWNER, "group welcome")
        for _ in range(100):
            if fake.modals:
                break
            await asyncio.sleep(0.05)
        assert fake.modals and (fake.modals[-1].data or {}).get("custom_id") == "group_welcome"
        submitted = await fake.user_submits_modal("group_welcome", {
            "text": "Welcome to Parents Together. Read along; share when you are ready."})
        saved = await fake.wait_for(lambda s: s.interaction_id == int(str(submitted["id"])))
        assert "Saved the welcome message" in saved.text and saved.ephemeral
        await fake.member_joins(GUILD, CAROL, "carol")
        welcome = await fake.wait_for(lambda s: s.channel_id == GENERAL
                                      and "Parents Together. Read along" in s.text)
        assert welcome.custom_ids()
    finally:
        await kindred.close()
