"""The foundation as a user meets it: a group set up, roles, help, languages, bad input."""

from __future__ import annotations

from tests.harness import ConsoleBot


async def test_setup_by_admin_shows_settings_and_member_is_refused(console_bot: ConsoleBot) -> None:
    out = await console_bot.say("dana: /setup")
    assert "This group is set up" in out
    assert "time zone: UTC" in out
    await console_bot.say(".join sam")
    out = await console_bot.say("sam: /setup")
    assert "only a group facilitator can use /setup" in out
    out = await console_bot.say("sam: /group language es")
    assert "only a group facilitator can use /group" in out


async def test_help_differs_by_role(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", ".join sam")
    member_help = await console_bot.say("sam: /help")
    admin_help = await console_bot.say("dana: /help")
    assert "/rules" in member_help and "/rules" in admin_help
    assert "/setup" not in member_help and "/moderator" not in member_help
    assert "/setup" in admin_help and "/moderator add|remove @user" in admin_help


async def test_spanish_replies_after_group_language_es(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    out = await console_bot.say("dana: /group language es")
    assert "escribiré en español" in out
    out = await console_bot.say("dana: /help")
    assert "Esto es lo que puedes usar" in out
    out = await console_bot.say("dana: /nonsense")
    assert "No conozco el comando /nonsense" in out


async def test_unknown_command_and_bad_arguments_get_one_line_usage(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    out = await console_bot.say("dana: /frobnicate now")
    assert "I don't know the command /frobnicate" in out
    out = await console_bot.say("dana: /group language klingon")
    assert "Usage: /group language en|es" in out
    out = await console_bot.say("dana: /group")
    assert "Usage: /group rules|welcome|timezone|language|region VALUE" in out
    out = await console_bot.say("dana: /moderator add")
    assert "Usage: /moderator add @user" in out
    out = await console_bot.say("dana: /group timezone Atlantis")
    assert "I don't know that time zone" in out


async def test_commands_before_setup_point_to_setup(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: hello")
    out = await console_bot.say("dana: /rules")
    assert "not set up yet" in out


async def test_settings_persist_and_friendly_timezone(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    out = await console_bot.say("dana: /group timezone Madrid")
    assert "Europe/Madrid" in out
    out = await console_bot.say("dana: /group region españa")
    assert "region is now ES" in out
    await console_bot.say("dana: /group rules Be kind. No names outside the group.")
    await console_bot.say(".join sam")
    out = await console_bot.say("sam: /rules")
    assert "Be kind. No names outside the group." in out
    out = await console_bot.say("dana: /setup")
    assert "already set up" in out and "Europe/Madrid" in out and "region (crisis lines): ES" in out


async def test_moderator_grant_lets_them_subscribe_alerts_privately(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", ".join sam")
    out = await console_bot.say("sam -> bot: /alerts here")
    assert "only a group moderator can use /alerts" in out
    out = await console_bot.say("dana: /moderator add @sam")
    assert "Sam is now a moderator" in out
    out = await console_bot.say("sam -> bot: /alerts here")
    assert "will now receive alerts for" in out
    out = await console_bot.say("sam -> bot: /alerts here")
    assert "already receives alerts" in out
    out = await console_bot.say("dana: /moderator remove @sam")
    assert "no longer has that role" in out
    out = await console_bot.say("sam -> bot: /oncall on")
    assert "only a group moderator" in out


async def test_alerts_here_is_refused_in_a_support_group(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup")
    out = await console_bot.say("dana: /alerts here")
    assert "must not go to a support group" in out


async def test_platform_admin_cannot_be_demoted_by_command(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", ".admin lee", "lee: hi")
    out = await console_bot.say("dana: /facilitator remove @lee")
    assert "admin of this group on the platform" in out


async def test_role_changes_are_audited(console_bot: ConsoleBot) -> None:
    await console_bot.say("dana: /setup", ".join sam", "dana: /moderator add @sam")
    async with console_bot.app.uow() as store:
        entries = await store.audit.for_subject("user:console:sam")
    assert [e[2] for e in entries] == ["role.grant.moderator"]
    assert entries[0][1] == "console:dana"
