"""Settings: defaults, the URL forms operators paste, and one clear line per bad variable."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError
from storage.db import async_url


def test_defaults_run_the_console_on_sqlite() -> None:
    settings = Settings.from_env({})
    assert settings.platforms == ("console",)
    assert settings.database_url.startswith("sqlite")
    assert settings.escalation_renotify_minutes == 10


def test_tokens_enable_platforms_and_never_show_in_repr() -> None:
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": "123456:ABCDEFGHIJKLMNOP",
                                  "DISCORD_BOT_TOKEN": "secret-discord-token"})
    assert settings.platforms == ("telegram", "discord")
    assert "ABCDEFGHIJ" not in repr(settings) and "secret-discord" not in repr(settings)


@pytest.mark.parametrize(("name", "value"), [
    ("PORT", "eighty"), ("PORT", "70000"), ("DEFAULT_TIMEZONE", "Mars/Olympus"),
    ("DEFAULT_LANGUAGE", "fr"), ("ESCALATION_RENOTIFY_MINUTES", "-1"),
    ("ESCALATION_RENOTIFY_MINUTES", "soon"), ("DATA_ENCRYPTION_KEY", "short"),
    ("LOG_LEVEL", "LOUD"), ("DATABASE_URL", "mysql://x"), ("TELEGRAM_BOT_TOKEN", "nope"),
    ("DISCORD_GUILD_ID", "abc"), ("DEFAULT_REGION", "Narnia"),
])
def test_bad_value_names_the_variable_in_one_line(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as problem:
        Settings.from_env({name: value})
    assert name in str(problem.value)
    assert "\n" not in str(problem.value)


def test_decimal_renotify_and_region_alias() -> None:
    settings = Settings.from_env({"ESCALATION_RENOTIFY_MINUTES": "0.5", "DEFAULT_REGION": "uk"})
    assert settings.escalation_renotify_minutes == 0.5
    assert settings.default_region == "GB"


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
    ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("sqlite:///kindred.db", "sqlite+aiosqlite:///kindred.db"),
    ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
])
def test_database_url_forms(given: str, expected: str) -> None:
    assert async_url(given) == expected
