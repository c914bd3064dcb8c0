"""Settings from the environment (and `.env`), validated once at start with one clear line per problem."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.i18n import SUPPORTED_LANGUAGES

DEFAULT_DATABASE_URL = "sqlite:///kindred.db"
DEFAULT_TELEGRAM_API = "https://api.telegram.org/bot"
DEFAULT_DISCORD_API = "https://discord.com/api/v10"
DEFAULT_DISCORD_GATEWAY = "wss://gateway.discord.gg/"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REGION_ALIASES = {"UK": "GB"}
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)
_DB_SCHEMES = ("sqlite", "postgres", "postgresql")


class SettingsError(ValueError):
    """A bad or missing setting; the message is the one line the operator sees."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything an operator configures (SPEC.md "Environment")."""

    database_url: str = DEFAULT_DATABASE_URL
    telegram_bot_token: str | None = None
    telegram_api_base_url: str = DEFAULT_TELEGRAM_API
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    port: int = 8080
    discord_bot_token: str | None = None
    discord_api_base_url: str = DEFAULT_DISCORD_API
    discord_gateway_url: str = DEFAULT_DISCORD_GATEWAY
    discord_guild_id: int | None = None
    discord_facilitator_role: str = "Facilitator"
    default_timezone: str = "UTC"
    default_language: str = "en"
    default_region: str = "US"
    escalation_renotify_minutes: float = 10.0
    data_encryption_key: str | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    console: bool = False
    metrics_port: int | None = None

    def __repr__(self) -> str:
        # Tokens and keys must never reach a log line, so the repr names only what is set.
        return (f"Settings(database={self.database_url.split(':', 1)[0]}, "
                f"telegram={'on' if self.telegram_bot_token else 'off'}, "
                f"discord={'on' if self.discord_bot_token else 'off'})")

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms to run: every one whose token is set, else the console."""
        enabled = []
        if self.telegram_bot_token:
            enabled.append("telegram")
        if self.discord_bot_token:
            enabled.append("discord")
        if self.console or not enabled:
            enabled.append("console")
        return tuple(enabled)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that a log filter must mask wherever they appear."""
        return tuple(s for s in (self.telegram_bot_token, self.discord_bot_token,
                                 self.data_encryption_key, self.telegram_webhook_secret) if s)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate; raises SettingsError naming the first bad variable."""
        def get(name: str) -> str | None:
            value = environ.get(name)
            return value.strip() if value is not None and value.strip() else None

        database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
        if not _URL.match(database_url) or database_url.split(":", 1)[0].split("+")[0].lower() \
                not in _DB_SCHEMES:
            raise SettingsError(
                "DATABASE_URL must be a sqlite:/// or postgresql:// URL (got an unsupported value)")

        telegram_api = get("TELEGRAM_API_BASE_URL") or DEFAULT_TELEGRAM_API
        _require_url("TELEGRAM_API_BASE_URL", telegram_api)
        webhook = get("TELEGRAM_WEBHOOK_URL")
        if webhook is not None:
            _require_url("TELEGRAM_WEBHOOK_URL", webhook)
        port = _integer("PORT", get("PORT") or "8080", 1, 65535)
        discord_api = get("DISCORD_API_BASE_URL") or DEFAULT_DISCORD_API
        _require_url("DISCORD_API_BASE_URL", discord_api)
        gateway = get("DISCORD_GATEWAY_URL") or DEFAULT_DISCORD_GATEWAY
        _require_url("DISCORD_GATEWAY_URL", gateway)
        guild_raw = get("DISCORD_GUILD_ID")
        guild = _integer("DISCORD_GUILD_ID", guild_raw, 1, 2**63 - 1) if guild_raw else None

        timezone = get("DEFAULT_TIMEZONE") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"DEFAULT_TIMEZONE must be an IANA time zone such as Europe/Madrid "
                f"(got {timezone[:40]!r})") from None
        language = (get("DEFAULT_LANGUAGE") or "en").lower()
        if language not in SUPPORTED_LANGUAGES:
            raise SettingsError(
                f"DEFAULT_LANGUAGE must be one of {', '.join(SUPPORTED_LANGUAGES)} "
                f"(got {language[:10]!r})")
        region = (get("DEFAULT_REGION") or "US").upper()
        region = REGION_ALIASES.get(region, region)
        if not re.fullmatch(r"[A-Z]{2}", region):
            raise SettingsError(
                f"DEFAULT_REGION must be a two-letter country code such as US, GB, ES or MX "
                f"(got {region[:10]!r})")
        renotify_raw = get("ESCALATION_RENOTIFY_MINUTES") or "10"
        try:
            renotify = Decimal(renotify_raw)
        except InvalidOperation:
            renotify = Decimal(-1)
        if not renotify.is_finite() or renotify <= 0 or renotify > 1440:
            raise SettingsError(
                "ESCALATION_RENOTIFY_MINUTES must be a number of minutes above 0 and at most "
                f"1440 (got {renotify_raw[:20]!r})")
        key = get("DATA_ENCRYPTION_KEY")
        if key is not None:
            _require_fernet_key(key)
        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} "
                                f"(got {log_level[:12]!r})")
        log_format = (get("LOG_FORMAT") or "text").lower()
        if log_format not in ("text", "json"):
            raise SettingsError(f"LOG_FORMAT must be text or json (got {log_format[:12]!r})")
        telegram_token = get("TELEGRAM_BOT_TOKEN")
        if telegram_token is not None and not re.fullmatch(r"\d+:[A-Za-z0-9_-]{10,}",
                                                            telegram_token):
            raise SettingsError("TELEGRAM_BOT_TOKEN does not look like a BotFather token "
                                "(digits, a colon, then letters)")
        secret = get("TELEGRAM_WEBHOOK_SECRET")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET may use only letters, digits, _ and -")
        metrics_raw = get("METRICS_PORT")
        metrics_port = _integer("METRICS_PORT", metrics_raw, 1, 65535) if metrics_raw else None
        if metrics_port is not None and webhook is not None and metrics_port == port:
            raise SettingsError("METRICS_PORT must differ from PORT (the Telegram webhook uses it)")
        return cls(
            metrics_port=metrics_port,
            database_url=database_url,
            telegram_bot_token=telegram_token,
            telegram_api_base_url=telegram_api,
            telegram_webhook_url=webhook,
            telegram_webhook_secret=secret,
            port=port,
            discord_bot_token=get("DISCORD_BOT_TOKEN"),
            discord_api_base_url=discord_api.rstrip("/"),
            discord_gateway_url=gateway,
            discord_guild_id=guild,
            discord_facilitator_role=get("DISCORD_FACILITATOR_ROLE") or "Facilitator",
            default_timezone=timezone,
            default_language=language,
            default_region=region,
            escalation_renotify_minutes=float(renotify),
            data_encryption_key=key,
            log_level=log_level,
            log_format=log_format,
            console=(get("KINDRED_CONSOLE") or "").lower() in ("1", "true", "yes"),
        )


def _require_url(name: str, value: str) -> None:
    if not _URL.match(value):
        raise SettingsError(f"{name} must be a URL such as https://example.org/ (got a value "
                            "that is not a URL)")


def _integer(name: str, raw: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,20}", raw) or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high} "
                            f"(got {raw[:20]!r})")
    return int(raw)


def _require_fernet_key(key: str) -> None:
    import base64
    import binascii

    try:
        decoded = base64.urlsafe_b64decode(key.encode())
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != 32:
        raise SettingsError(
            "DATA_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes); make one with "
            "`python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())\"`")
