"""How core text looks on Discord: Markdown escaping, 2,000-character splitting, button layout.

Core texts are plain text, and some carry what members wrote (a group's rules, an alert's
excerpt), so every character Discord would read as Markdown or as a mention is escaped. Links are
left intact so they stay clickable. Pure functions only; nothing here talks to Discord.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.actions import Button

MAX_MESSAGE_CHARS = 2000
MAX_BUTTON_LABEL = 80
MAX_CUSTOM_ID = 100
MAX_BUTTONS_PER_ROW = 5
MAX_ROWS = 5

_URL = re.compile(r"(?:https?|discord)://[^\s<>]+", re.IGNORECASE)
# Emphasis, code, strike, spoiler, masked links, mentions/timestamps/custom emoji, quotes.
_INLINE = re.compile(r"([\\*_~`|\[\]<>])")
# Headings (#, ##, ###) and subtext (-#) only count at the start of a line.
_LINE_START = re.compile(r"^([ \t]*)(#{1,3}|-#)(?=[ \t])", re.MULTILINE)
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ZERO_WIDTH_SPACE = "\u200b"


def escape_markdown(text: str) -> str:
    r"""Escape Discord Markdown and mentions in `text`, leaving URLs clickable.

    Guarantees:
        * Every `* _ ~ ` | [ ] < > \` outside a URL is shown literally, so a member's words can
          never turn into formatting, a masked link, a spoiler or a mention.
        * `#`, `##`, `###` and `-#` at the start of a line stay literal (no headings).
        * `@everyone` and `@here` are broken with a zero-width space (they never ping anyway:
          every message is sent with mentions disabled).
    """
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        parts.append(_escape_plain(text[position:match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(_escape_plain(text[position:]))
    return "".join(parts)


def _escape_plain(text: str) -> str:
    text = _INLINE.sub(r"\\\1", text)
    text = _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
    return _MASS_MENTION.sub(lambda m: f"@{_ZERO_WIDTH_SPACE}{m.group(1)}", text)


def discord_length(text: str) -> int:
    """The length Discord counts, measured in UTF-16 code units (never less than code points)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split `text` into chunks Discord accepts, at paragraph, line or word boundaries.

    Guarantees:
        * Every chunk is at most `limit` long as Discord counts it, and none is empty.
        * Nothing is lost but the whitespace at a split point; the order is kept.
        * A backslash escape is never separated from the character it escapes.
    """
    chunks: list[str] = []
    rest = text
    while discord_length(rest) > limit:
        window = _fit(rest, limit)
        cut = _cut_point(window)
        chunk = rest[:cut].rstrip()
        if not chunk:  # only whitespace before the cut: take the hard cut instead
            cut = len(window)
            chunk = rest[:cut]
        chunks.append(chunk)
        rest = rest[cut:].lstrip()
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks


def _fit(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-16 units."""
    low, high = 0, min(len(text), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if discord_length(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def _cut_point(window: str) -> int:
    floor = len(window) // 2  # never make a tiny chunk just to find a nicer boundary
    for separator in ("\n\n", "\n", " "):
        index = window.rfind(separator, floor)
        if index > 0:
            return index + len(separator)
    cut = len(window)
    # Do not end a chunk on an odd run of backslashes: that would split an escape.
    run = len(window) - len(window.rstrip("\\"))
    if run % 2 == 1:
        cut -= 1
    return max(cut, 1)


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to `limit` (an edit cannot become two messages), ending with an ellipsis."""
    if discord_length(text) <= limit:
        return text
    window = _fit(text, limit - 1)
    run = len(window) - len(window.rstrip("\\"))
    if run % 2 == 1:
        window = window[:-1]
    return window + "…"


def layout_buttons(rows: Sequence[Sequence[Button]]) -> list[list[Button]]:
    """Fit the core's button rows into Discord's grid (5 rows of at most 5 buttons).

    Guarantees:
        * A row longer than five wraps onto the next row; the order is kept.
        * Buttons beyond 25, or whose payload is longer than Discord's 100-character custom id,
          are left out (the core's payloads are at most 60 ASCII bytes).
        * Two buttons with the same payload keep only the first (Discord refuses duplicates).
    """
    laid: list[list[Button]] = []
    seen: set[str] = set()
    for row in rows:
        current: list[Button] = []
        for button in row:
            if not button.payload or len(button.payload) > MAX_CUSTOM_ID or button.payload in seen:
                continue
            seen.add(button.payload)
            if len(current) == MAX_BUTTONS_PER_ROW:
                laid.append(current)
                current = []
            current.append(button)
        if current:
            laid.append(current)
    return laid[:MAX_ROWS]


def button_label(label: str) -> str:
    """A label Discord accepts: 1 to 80 characters (labels are not Markdown, so not escaped)."""
    label = " ".join(label.split()) or "•"
    return label if len(label) <= MAX_BUTTON_LABEL else label[: MAX_BUTTON_LABEL - 1] + "…"
