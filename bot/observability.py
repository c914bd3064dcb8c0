"""Logging set-up: text or JSON lines, with every configured secret masked wherever it appears."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class SecretMask(logging.Filter):
    """Replaces tokens and keys in messages and arguments (libraries log URLs with tokens in them)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[secret]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask in place; never drops a record."""
        if self._secrets:
            record.msg = self._mask(str(record.msg))
            if record.args:
                args = record.args if isinstance(record.args, tuple) else (record.args,)
                record.args = tuple(self._mask(a) if isinstance(a, str) else a for a in args)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the `extra` fields as keys."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record."""
        payload: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class ExtraFormatter(logging.Formatter):
    """Human-readable lines that still show the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record."""
        base = super().format(record)
        extras = {k: v for k, v in record.__dict__.items()
                  if k not in _STANDARD and not k.startswith("_")}
        if extras:
            base += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return base


def configure_logging(level: str, fmt: str, secrets: Iterable[str]) -> None:
    """Send logs to stderr (stdout belongs to the console adapter)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SecretMask(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ExtraFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and a Telegram URL contains the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
