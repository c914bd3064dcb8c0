"""Text for Telegram: HTML escaping and splitting long texts into parts Telegram accepts."""

from __future__ import annotations

import html

MAX_MESSAGE_CHARS = 4096
"""Telegram's limit for a message's text, counted after entity parsing."""

MAX_CAPTION_CHARS = 1024
"""Telegram's limit for a photo's caption."""

MAX_CALLBACK_ANSWER_CHARS = 200
"""Telegram's limit for the text of answerCallbackQuery (a toast or an alert)."""


def escape(text: str) -> str:
    """Escape plain text for parse_mode HTML: the core sends text, never markup."""
    return html.escape(text, quote=False)


def telegram_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split plain text into parts of at most `limit` UTF-16 units, on line boundaries if possible.

    A line longer than `limit` is split at the last space that fits, else anywhere. Nothing is
    dropped: joining the parts with the separators removed gives the text back (modulo the
    line breaks and spaces a part ended on). An empty text gives one empty part.

    Args:
        text: Plain text (not yet escaped).
        limit: The largest part, in UTF-16 code units.

    Returns:
        The parts, in order; never an empty list.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    if telegram_length(text) <= limit:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for index, piece in enumerate(_split_line(line, limit)):
            piece_size = telegram_length(piece)
            # A continuation of a cut line starts a new part, so no line break is invented.
            if current and (index > 0 or size + 1 + piece_size > limit):
                parts.append("\n".join(current))
                current, size = [], 0
            size += piece_size + (1 if current else 0)
            current.append(piece)
    if current:
        parts.append("\n".join(current))
    # Parts made only of line breaks (blank runs at a boundary) would be refused as empty.
    cleaned = [part for part in parts if part.strip()]
    return cleaned or [text[: _prefix_fitting(text, limit)]]


def _split_line(line: str, limit: int) -> list[str]:
    if telegram_length(line) <= limit:
        return [line]
    pieces: list[str] = []
    rest = line
    while telegram_length(rest) > limit:
        cut = _prefix_fitting(rest, limit)
        space = rest.rfind(" ", 0, cut + 1)
        if space > cut // 2:
            pieces.append(rest[:space])
            rest = rest[space + 1 :]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def _prefix_fitting(text: str, limit: int) -> int:
    """The number of characters of `text` whose UTF-16 length is at most `limit`."""
    size = 0
    for index, ch in enumerate(text):
        size += 2 if ord(ch) > 0xFFFF else 1
        if size > limit:
            return index
    return len(text)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` UTF-16 units, ending with an ellipsis when cut."""
    if telegram_length(text) <= limit:
        return text
    return text[: _prefix_fitting(text, limit - 1)].rstrip() + "…"
