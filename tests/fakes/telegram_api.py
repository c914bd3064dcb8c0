"""Fake Telegram Bot API server (aiohttp) for tests and benchmarks: world state, updates, methods, faults.

The server speaks the real Bot API over HTTP on 127.0.0.1 so the real python-telegram-bot client (or any
HTTP client) can talk to it. A test scripts the world (users, groups, admins, privacy mode), makes users
act (send, edit, press buttons, join, leave, request to join, start or block the bot), and then asserts on
what the bot sent (``sent``), on every call (``calls``), and on the update queue. Rate limits and faults
(errors, storms, delays, dropped connections, calls held unanswered until the client gives up, the whole
server unreachable) can be switched on to exercise the client's resilience; ``calls`` shows which calls
took effect but lost their answer (``answer_lost``).

All helpers are synchronous except the ``wait_*`` ones and must be called from the event loop that runs
the server (the usual pytest-asyncio setup).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import aiohttp
from aiohttp import web

JSON = dict[str, Any]

DEFAULT_TOKEN: Final = "123456789:AAFakeTelegramTokenForTests_0123456789"
ANONYMOUS_ADMIN_ID: Final = 1087968824
"""User id Telegram puts in ``from`` for messages of anonymous group administrators."""

ALL_UPDATE_TYPES: Final = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Telegram's default when allowed_updates was never given (or given as an empty list).
DEFAULT_EXCLUDED_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

SEND_METHODS: Final = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
EDIT_METHODS: Final = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup"})
RATE_LIMITED_METHODS: Final = SEND_METHODS | EDIT_METHODS

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
WEBHOOK_CONFLICT: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
QUERY_TOO_OLD: Final = "Bad Request: query is too old and response timeout expired or query ID is invalid"

_STATUS_PHRASES: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Telegram's front end answers these with an nginx HTML page, not JSON.
_HTML_ERROR_STATUSES: Final = frozenset({502, 503, 504})
_ABANDON_POLL_S: Final = 0.01  # how often a held call looks whether its client gave up

_ADMIN_RIGHTS: Final = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)
_CHANNEL_ADMIN_RIGHTS: Final = ("can_post_messages", "can_edit_messages")
_PERMISSIONS: Final = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPE_TYPES: Final = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_ACTIVE_STATUSES: Final = frozenset({"creator", "administrator", "member", "restricted"})


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional ``parameters``."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str, parameters: JSON | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", parameters)


def _forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


class EntityParseError(ValueError):
    """Markup that Telegram refuses with "can't parse entities"."""


# --------------------------------------------------------------------------------------------------
# Text: UTF-16 offsets, automatic entities, HTML / MarkdownV2 / Markdown parsing like TDLib.
# --------------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _u16(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _is_space(ch: str) -> bool:
    return ch in " \t\r\n\v\f"


_URL_SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HOST_RE: Final = re.compile(r"^(?:[A-Za-z0-9_-]+\.)+[A-Za-z]{2,63}\.?$|^\d{1,3}(?:\.\d{1,3}){3}$")


def check_url(url: str) -> str | None:
    """Normalise a link the way Telegram does ("telegram.org" -> "http://telegram.org/"); None if invalid."""
    if not url or any(ch.isspace() for ch in url):
        return None
    lower = url.lower()
    if lower.startswith(("tg:", "ton:")):
        return url
    match = _URL_SCHEME_RE.match(url)
    if match:
        scheme = match.group(1).lower()
        if scheme not in ("http", "https", "ftp"):
            return None
        rest = url[match.end() :]
    else:
        scheme, rest = "http", url
    split = re.search(r"[/?#]", rest)
    host = rest[: split.start()] if split else rest
    path = rest[split.start() :] if split else ""
    hostname = host.rsplit("@", 1)[-1]
    hostname = hostname.rsplit(":", 1)[0] if re.search(r":\d+$", hostname) else hostname
    if not _HOST_RE.match(hostname):
        return None
    if not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{host}{path}"


def link_user_id(url: str) -> int | None:
    """Return the user id of a ``tg://user?id=N`` link, or None."""
    match = re.match(r"^tg:(?://)?user/?\?(?:[^#]*&)?id=(\d+)", url.strip(), re.IGNORECASE)
    return int(match.group(1)) if match else None


_AUTO_PATTERNS: Final = (
    (
        "email",
        re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w@])"),
    ),
    (
        "url",
        re.compile(
            r"(?<![\w@./])(?:(?:https?|ftp)://[^\s<>\"]+|www\.[^\s<>\"]+"
            r"|(?:[A-Za-z0-9-]+\.)+(?:com|org|net|io|gov|edu|uk|es|us|me|dev|app|info|ly|co|gob|eu|ca|au)"
            r"(?::\d{1,5})?(?:/[^\s<>\"]*)?(?![\w-]))",
            re.IGNORECASE,
        ),
    ),
    ("bot_command", re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w{0,255}[^\W\d]\w{0,255}")),
)
# Entities that swallow automatic detection inside them.
_OPAQUE_ENTITY_TYPES: Final = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})


def find_entities(text: str) -> list[JSON]:
    """Return the entities Telegram detects by itself: bot commands, mentions, hashtags, URLs, emails."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                while end > start and text[end - 1] in ".,;:!?)'\"":
                    end -= 1
            if end > start:
                found.append((start, end, kind))
    found.sort(key=lambda item: (item[0], -(item[1] - item[0])))
    entities: list[JSON] = []
    last_end = -1
    for start, end, kind in found:
        if start < last_end:
            continue
        last_end = end
        offset = utf16_len(text[:start])
        entities.append({"type": kind, "offset": offset, "length": utf16_len(text[start:end])})
    return entities


def merge_auto_entities(text: str, entities: list[JSON]) -> list[JSON]:
    """Add automatically detected entities that do not overlap an opaque explicit entity."""
    opaque = [(e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in _OPAQUE_ENTITY_TYPES]
    merged = list(entities)
    for auto in find_entities(text):
        start, end = auto["offset"], auto["offset"] + auto["length"]
        if any(start < o_end and o_start < end for o_start, o_end in opaque):
            continue
        merged.append(auto)
    return sort_entities(merged)


def sort_entities(entities: list[JSON]) -> list[JSON]:
    """Sort entities by offset, longer first, as Telegram returns them."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        if end < n and text[end] == "x":
            end += 1
            while end < n and text[end] in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[end], 16)
                end += 1
        else:
            while end < n and "0" <= text[end] <= "9":
                value = value * 10 + int(text[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        end += 1
    return char, end


_HTML_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "span",
        "tg-emoji",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_SIMPLE: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


@dataclass
class _OpenTag:
    tag: str
    attrs: dict[str, str]
    offset: int
    out_pos: int


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram HTML into plain text and entities; raise EntityParseError like TDLib does."""
    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    i, n = 0, len(text)

    def fail(message: str) -> EntityParseError:
        return EntityParseError(message)

    while i < n:
        ch = text[i]
        if ch == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                u16 += _u16(decoded[0])
                i = decoded[1]
                continue
        if ch != "<":
            out.append(ch)
            u16 += _u16(ch)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            i += 1
            name_start = i
            while i < n and not _is_space(text[i]) and text[i] != ">":
                i += 1
            end_name = text[name_start:i].lower()
            while i < n and _is_space(text[i]):
                i += 1
            if i >= n or text[i] != ">":
                raise fail(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
            i += 1
            top = stack.pop()
            if end_name and end_name != top.tag:
                raise fail(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{top.tag}>", found "</{end_name}>"'
                )
            _close_html_tag(top, u16, out, entities)
            continue
        while i < n and not _is_space(text[i]) and text[i] != ">":
            i += 1
        if i >= n:
            raise fail(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        tag = text[begin + 1 : i].lower()
        if tag not in _HTML_TAGS:
            raise fail(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
        attrs: dict[str, str] = {}
        while True:
            while i < n and _is_space(text[i]):
                i += 1
            if i >= n:
                raise fail(f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
            if text[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and not _is_space(text[i]) and text[i] not in "=>":
                i += 1
            attr_name = text[attr_start:i].lower()
            if not attr_name:
                raise fail(
                    f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            while i < n and _is_space(text[i]):
                i += 1
            if i >= n:
                raise fail(f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
            if text[i] != "=":
                # A bare attribute such as <blockquote expandable>.
                attrs.setdefault(attr_name, "")
                continue
            i += 1
            while i < n and _is_space(text[i]):
                i += 1
            if i >= n:
                raise fail(f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
            if text[i] not in "'\"":
                token_start = i
                while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                    i += 1
                value = text[token_start:i].lower()
                if i >= n or (not _is_space(text[i]) and text[i] != ">"):
                    raise fail(
                        f"Unexpected end of name token at byte offset {_byte_offset(text, token_start)}"
                    )
            else:
                quote = text[i]
                i += 1
                chars: list[str] = []
                while i < n and text[i] != quote:
                    if text[i] == "&":
                        decoded = _decode_html_entity(text, i)
                        if decoded is not None:
                            chars.append(decoded[0])
                            i = decoded[1]
                            continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                i += 1
                value = "".join(chars)
            attrs.setdefault(attr_name, value)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, begin)}')
        if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise fail(
                f"Custom emoji identifier must be non-empty at byte offset {_byte_offset(text, begin)}"
            )
        stack.append(_OpenTag(tag, attrs, u16, len(out)))
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    result = "".join(out)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in result):
        raise fail(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    for entity in entities:
        entity.pop("_lang", None)
    return result, sort_entities(entities)


def _close_html_tag(top: _OpenTag, u16: int, out: list[str], entities: list[JSON]) -> None:
    if u16 <= top.offset:
        return
    offset, length = top.offset, u16 - top.offset
    tag = top.tag
    if tag in _HTML_SIMPLE:
        entities.append({"type": _HTML_SIMPLE[tag], "offset": offset, "length": length})
    elif tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in top.attrs else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})
    elif tag == "tg-emoji":
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": top.attrs["emoji-id"],
            }
        )
    elif tag == "a":
        url = top.attrs.get("href") or "".join(out[top.out_pos :])
        user_id = link_user_id(url)
        if user_id is not None:
            entities.append(
                {"type": "text_mention", "offset": offset, "length": length, "user": {"id": user_id}}
            )
        else:
            normalised = check_url(url)
            if normalised is not None:
                entities.append({"type": "text_link", "offset": offset, "length": length, "url": normalised})
    elif tag == "code":
        cls = top.attrs.get("class", "")
        language = cls[len("language-") :] if cls.startswith("language-") else ""
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and (last["offset"], last["length"]) == (offset, length)
            and language
        ):
            last["language"] = language
        else:
            entities.append({"type": "code", "offset": offset, "length": length, "_lang": language})
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and (last["offset"], last["length"]) == (offset, length)
            and last.get("_lang")
        ):
            last["type"] = "pre"
            last["language"] = last.pop("_lang")
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})


_MDV2_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


@dataclass
class _OpenMd:
    kind: str
    argument: str
    offset: int
    index: int
    out_pos: int


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram MarkdownV2 into plain text and entities; raise EntityParseError like TDLib does."""
    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    stack: list[_OpenMd] = []
    quote: list[Any] = []  # [start_offset, expandable]
    i, n = 0, len(text)

    def at(k: int) -> str:
        return text[k] if 0 <= k < n else ""

    def reserved_error(ch: str) -> EntityParseError:
        return EntityParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")

    def close_quote() -> None:
        if quote and u16 > quote[0]:
            kind = "expandable_blockquote" if quote[1] else "blockquote"
            entities.append({"type": kind, "offset": quote[0], "length": u16 - quote[0]})
        quote.clear()

    while i < n:
        ch = text[i]
        in_code = bool(stack) and stack[-1].kind in ("code", "pre", "pre_code")
        if not in_code and (i == 0 or text[i - 1] in "\n\r"):
            if ch == ">" or text.startswith("**>", i):
                if quote and quote[1]:
                    close_quote()
                if not quote:
                    quote.extend([u16, False])
                i += 1 if ch == ">" else 3
                continue
            if quote and ch not in "\r\n":
                close_quote()
        if ch == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        reserved = "`" if in_code else "_*[]()~`>#+-=|{}.!"
        if ch not in reserved:
            out.append(ch)
            u16 += _u16(ch)
            i += 1
            continue
        top = stack[-1] if stack else None
        is_end = False
        if top is not None:
            kind = top.kind
            is_end = (
                (kind == "bold" and ch == "*")
                or (kind == "italic" and ch == "_" and at(i + 1) != "_")
                or (kind == "underline" and ch == "_" and at(i + 1) == "_")
                or (kind == "strikethrough" and ch == "~")
                or (kind == "spoiler" and ch == "|" and at(i + 1) == "|")
                or (kind == "code" and ch == "`")
                or (kind in ("pre", "pre_code") and text.startswith("```", i))
                or (kind in ("text_link", "custom_emoji") and ch == "]")
            )
        if not is_end:
            if (
                ch == "|"
                and at(i + 1) == "|"
                and quote
                and _ends_line(text, i + 2)
                and not _quoted_next(text, i + 2)
            ):
                # "||" closing the last line of a quote marks it expandable.
                quote[1] = True
                i += 2
                continue
            begin = i
            argument = ""
            if ch == "_":
                kind = "underline" if at(i + 1) == "_" else "italic"
                i += 2 if kind == "underline" else 1
            elif ch == "*":
                kind, i = "bold", i + 1
            elif ch == "~":
                kind, i = "strikethrough", i + 1
            elif ch == "|" and at(i + 1) == "|":
                kind, i = "spoiler", i + 2
            elif ch == "[":
                kind, i = "text_link", i + 1
            elif ch == "!" and at(i + 1) == "[":
                kind, i = "custom_emoji", i + 2
            elif ch == "`":
                if text.startswith("```", i):
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while lang_end < n and not _is_space(text[lang_end]) and text[lang_end] != "`":
                        lang_end += 1
                    if i != lang_end and lang_end < n and text[lang_end] != "`":
                        kind, argument, i = "pre_code", text[i:lang_end], lang_end
                    if at(i) in ("\n", "\r"):
                        i += 2 if at(i + 1) in ("\n", "\r") and at(i + 1) != at(i) else 1
                else:
                    kind, i = "code", i + 1
            else:
                raise reserved_error(ch)
            stack.append(_OpenMd(kind, argument, u16, begin, len(out)))
            continue
        assert top is not None
        stack.pop()
        skip = u16 == top.offset
        extra: JSON = {}
        kind = top.kind
        if kind == "underline":
            i += 2
        elif kind in ("pre", "pre_code"):
            i += 3
        elif kind in ("text_link", "custom_emoji"):
            i += 1
            if at(i) == "(":
                i += 1
                url_begin = i
                url_chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        url_chars.append(text[i + 1])
                        i += 2
                        continue
                    url_chars.append(text[i])
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                i += 1
                url = "".join(url_chars)
            elif kind == "custom_emoji":
                raise EntityParseError("The entity must contain a tg://emoji or tg://time URL")
            else:
                url = "".join(out[top.out_pos :])
            if kind == "custom_emoji":
                match = re.match(r"^tg://emoji/?\?(?:[^#]*&)?id=([1-9]\d*)(?:[&#]|$)", url, re.IGNORECASE)
                if not match:
                    raise EntityParseError("Invalid tg://emoji or tg://time URL specified")
                extra = {"custom_emoji_id": match.group(1)}
            else:
                user_id = link_user_id(url)
                if user_id is not None:
                    kind, extra = "text_mention", {"user": {"id": user_id}}
                else:
                    normalised = check_url(url)
                    if normalised is None:
                        skip = True
                    else:
                        extra = {"url": normalised}
        else:
            i += 2 if kind == "spoiler" else 1
        if not skip:
            entity: JSON = {"type": kind, "offset": top.offset, "length": u16 - top.offset, **extra}
            if kind == "pre_code":
                entity["type"] = "pre"
                entity["language"] = top.argument
            entities.append(entity)
    if stack:
        top = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[top.kind]} entity at byte offset {_byte_offset(text, top.index)}"
        )
    close_quote()
    return "".join(out), sort_entities(entities)


def _ends_line(text: str, index: int) -> bool:
    return index >= len(text) or text[index] in "\r\n"


def _quoted_next(text: str, index: int) -> bool:
    newline = text.find("\n", index)
    return newline >= 0 and text.startswith(">", newline + 1)


def parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Parse legacy Telegram Markdown into plain text and entities; raise EntityParseError like TDLib."""
    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    i, n = 0, len(text)

    def at(k: int) -> str:
        return text[k] if 0 <= k < n else ""

    while i < n:
        ch = text[i]
        if ch == "\\" and at(i + 1) in ("_", "*", "`", "["):
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if ch not in "_*`[":
            out.append(ch)
            u16 += _u16(ch)
            i += 1
            continue
        begin = i
        end_char = "]" if ch == "[" else ch
        i += 1
        is_pre = False
        language = ""
        if ch == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and not _is_space(text[lang_end]) and text[lang_end] != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and text[lang_end] != "`":
                language, i = text[i:lang_end], lang_end
            if at(i) in ("\n", "\r"):
                i += 2 if at(i + 1) in ("\n", "\r") and at(i + 1) != at(i) else 1
        start_offset = u16
        start_out = len(out)
        while i < n and (text[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))):
            out.append(text[i])
            u16 += _u16(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        length = u16 - start_offset
        if ch == "[":
            if at(i + 1) == "(":
                close = text.find(")", i + 2)
                url = text[i + 2 : close if close >= 0 else n]
                i = close if close >= 0 else n - 1
            else:
                url = "".join(out[start_out:])
            if length:
                user_id = link_user_id(url)
                normalised = check_url(url)
                if user_id is not None:
                    entities.append(
                        {
                            "type": "text_mention",
                            "offset": start_offset,
                            "length": length,
                            "user": {"id": user_id},
                        }
                    )
                elif normalised is not None:
                    entities.append(
                        {"type": "text_link", "offset": start_offset, "length": length, "url": normalised}
                    )
        elif length:
            kind = {"_": "italic", "*": "bold"}.get(ch, "pre" if is_pre else "code")
            entity: JSON = {"type": kind, "offset": start_offset, "length": length}
            if language:
                entity["language"] = language
            entities.append(entity)
        i += 3 if is_pre else 1
    return "".join(out), sort_entities(entities)


def render_text(text: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """Turn sent markup into what users see: plain text and entities (raises ApiError on bad markup)."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    try:
        if mode == "html":
            return parse_html(text)
        if mode == "markdownv2":
            return parse_markdown_v2(text)
        if mode == "markdown":
            return parse_markdown(text)
    except EntityParseError as exc:
        raise _bad(f"can't parse entities: {exc}") from None
    raise _bad("unsupported parse_mode")


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip leading/trailing whitespace as Telegram does, clipping entities to what remains."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def _image_size(data: bytes) -> tuple[int, int]:
    """Read width and height of a PNG, GIF or JPEG; fall back to a square thumbnail size."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"\xff\xd8":
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            seg_len = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                return int.from_bytes(data[pos + 7 : pos + 9], "big"), int.from_bytes(
                    data[pos + 5 : pos + 7], "big"
                )
            pos += 2 + seg_len
    return 320, 320


# --------------------------------------------------------------------------------------------------
# Records and state.
# --------------------------------------------------------------------------------------------------


@dataclass
class SentRecord:
    """One successful outbound action of the bot (a send, edit, delete or callback answer).

    ``text`` is what the bot sent (raw markup, or the caption of a photo/document); ``rendered_text`` and
    ``entities`` are what users see after Telegram parsed the markup.
    """

    method: str
    chat_id: int | None
    text: str | None
    reply_markup: JSON | None
    thread_id: int | None
    parse_mode: str | None
    message_id: int | None
    timestamp: float
    monotonic: float
    rendered_text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    file_id: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    callback_query_id: str | None = None
    params: JSON = field(default_factory=dict)

    def buttons(self) -> list[JSON]:
        """Return the inline keyboard buttons, row after row, flattened."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def button_data(self) -> list[str]:
        """Return the callback_data of every inline button."""
        return [b["callback_data"] for b in self.buttons() if "callback_data" in b]


@dataclass
class CallRecord:
    """One HTTP call to the Bot API (also internal calls made from a webhook reply)."""

    method: str
    params: JSON
    time: float
    status: int
    description: str | None = None
    duration: float = 0.0
    monotonic: float = 0.0
    answer_lost: bool = False
    """The call took effect but its answer never reached the client (dropped, or given up on)."""


@dataclass
class WebhookAttempt:
    """One POST of an update to the webhook: HTTP status (0 when the connection failed)."""

    update_id: int
    status: int
    time: float
    error: str | None = None


@dataclass
class StoredFile:
    """A file known to the server (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str


@dataclass
class _Upload:
    name: str
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class _Member:
    status: str
    rights: JSON = field(default_factory=dict)
    permissions: JSON | None = None
    until_date: int = 0
    is_member: bool = True


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    members: dict[int, _Member] = field(default_factory=dict)
    messages: dict[int, JSON] = field(default_factory=dict)
    next_message_id: int = 1
    topics: set[int] = field(default_factory=set)
    migrated_to: int | None = None
    join_requests: dict[int, float] = field(default_factory=dict)
    invite_links: list[JSON] = field(default_factory=list)
    menu_button: JSON | None = None
    description: str | None = None
    permissions: JSON = field(default_factory=dict)
    pinned: list[int] = field(default_factory=list)


@dataclass
class _Fault:
    kind: str  # "fail" | "delay" | "drop" | "hold"
    method: str | None  # lower-case canonical name, None for any method
    remaining: int
    status: int = 500
    retry_after: int | None = None
    description: str | None = None
    seconds: float = 0.0
    after_processing: bool = False
    process_abandoned: bool = False


@dataclass
class _Storm:
    until: float
    status: int
    retry_after: int | None
    methods: frozenset[str] | None
    description: str | None
    kind: str = "fail"  # "fail" | "delay" | "drop"
    delay: float = 0.0
    after_processing: bool = False
    process_abandoned: bool = True


@dataclass
class _Held:
    """A call kept unanswered until ``release_held`` (True: answer it) or the client gives up."""

    method: str
    released: asyncio.Future[bool]


@dataclass
class _Limits:
    per_chat_per_minute: int | None
    global_per_second: int | None
    private_per_second: float | None
    private_burst: int
    methods: frozenset[str]


@dataclass
class _Callback:
    created: float
    chat_id: int | None
    answered: bool = False


class _Signal:
    """Wake every waiter when something changed (single event loop, no locking needed)."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, max(timeout, 0.0))
        finally:
            # Timed-out waiters would otherwise pile up while nothing changes.
            if waiter in self._waiters:
                self._waiters.remove(waiter)


class _Params:
    """Typed access to Bot API parameters, which arrive typed (JSON body) or as strings (form data)."""

    def __init__(self, raw: JSON, files: dict[str, _Upload]) -> None:
        self.raw = raw
        self.files = files

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def get_str(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def get_int(self, key: str) -> int | None:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise _bad(f"invalid {key} specified") from None

    def get_float(self, key: str) -> float | None:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {key} specified") from None

    def get_bool(self, key: str) -> bool:
        value = self.raw.get(key)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def get_json(self, key: str, error: str) -> Any:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(error) from None
        return value


MethodHandler = Callable[[_Params], Any]


class FakeTelegram:
    """A fake Telegram Bot API server on 127.0.0.1 with scriptable world state and fault injection.

    Args:
        token: The bot token PTB must use; other tokens get 401 Unauthorized.
        bot_username: The bot's username (without "@").
        bot_name: The bot's first name.
        can_read_all_group_messages: Privacy mode off (True) or on (False); see ``set_bot_privacy``.
        can_join_groups: Reported by getMe.
        port: TCP port to bind; 0 picks a free one.
        first_update_id: The update_id of the first enqueued update.
        webhook_retry_delay: Seconds between webhook retries after a failed delivery.
        callback_query_ttl: Seconds after which answerCallbackQuery says "query is too old".
        max_messages_per_chat: Messages kept per chat for edits/replies (oldest are forgotten).
        record_calls: Keep the ``calls`` log (turn off for long benchmarks).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "kindred_test_bot",
        bot_name: str = "Kindred",
        can_read_all_group_messages: bool = True,
        can_join_groups: bool = True,
        port: int = 0,
        first_update_id: int = 1,
        webhook_retry_delay: float = 0.05,
        callback_query_ttl: float = 15.0,
        max_messages_per_chat: int = 1000,
        record_calls: bool = True,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 7_000_000_001
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.can_read_all_group_messages = can_read_all_group_messages
        self.can_join_groups = can_join_groups
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = 10.0
        self.callback_query_ttl = callback_query_ttl
        self.max_messages_per_chat = max_messages_per_chat
        self.record_calls = record_calls
        self._port = port

        # Recording for assertions.
        self.sent: list[SentRecord] = []
        self.calls: list[CallRecord] = []
        self.count_429 = 0
        self.webhook_attempts: list[WebhookAttempt] = []
        self.callback_answers: dict[str, JSON] = {}
        self.server_errors: list[BaseException] = []

        # World.
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, _Chat] = {}
        self._started: set[int] = set()
        self._blocked: set[int] = set()
        self._dm_grants: dict[int, float] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = 0
        self._callbacks: dict[str, _Callback] = {}
        self._callback_seq = 0
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._default_menu_button: JSON = {"type": "commands"}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._invite_seq = 0

        # Updates.
        self._queue: deque[JSON] = deque()
        self._history: dict[int, JSON] = {}
        self._next_update_id = first_update_id
        self._allowed: frozenset[str] | None = None
        self._poll_generation = 0
        self._updates_signal = _Signal()
        self._sent_signal = _Signal()

        # Webhook.
        self._webhook_url: str | None = None
        self._webhook_secret: str | None = None
        self._webhook_max_connections = 40
        self._webhook_last_error: tuple[int, str] | None = None
        self._webhook_task: asyncio.Task[None] | None = None

        # Limits and faults.
        self._limits: _Limits | None = None
        self._global_window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self._private_buckets: dict[int, tuple[float, float]] = {}
        self._penalties: dict[int | str, float] = {}
        self._faults: list[_Fault] = []
        self._storm: _Storm | None = None
        self._held: list[_Held] = []
        self._offline = False
        self._held_signal = _Signal()

        # Server.
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False
        self._handlers: dict[str, tuple[str, MethodHandler]] = {}
        for name, handler in self._method_table().items():
            self._handlers[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port (or the configured one) and start serving."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle_http)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])
        self._session = aiohttp.ClientSession()
        self._stopping = False

    async def stop(self) -> None:
        """Stop serving: pending long polls return, the webhook loop ends, the port is released."""
        self._stopping = True
        self._updates_signal.notify()
        self.release_held()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self._port

    @property
    def base_url(self) -> str:
        """Base URL for PTB's ``Bot(base_url=...)``; PTB appends the token."""
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """Base file URL for PTB's ``Bot(base_file_url=...)``; PTB appends the token."""
        return f"http://127.0.0.1:{self._port}/file/bot"

    @property
    def api_url(self) -> str:
        """Full API prefix including the token, e.g. for raw HTTP calls: ``f"{api_url}/getMe"``."""
        return f"{self.base_url}{self.token}"

    # ------------------------------------------------------------------ world state

    @property
    def bot_user(self) -> JSON:
        """The bot as a Bot API User object (short form, as it appears in messages)."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name, "username": self.bot_username}

    def add_user(
        self,
        id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = None,
        *,
        last_name: str | None = None,
        is_bot: bool = False,
    ) -> JSON:
        """Create (or replace) a user and return its Bot API User object."""
        user: JSON = {"id": id, "is_bot": is_bot, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[id] = user
        return dict(user)

    def add_group(
        self,
        id: int,
        title: str,
        type: str = "supergroup",
        is_forum: bool = False,
        *,
        username: str | None = None,
        bot_member: bool = True,
    ) -> JSON:
        """Create a group ("group", "supergroup" or "channel") and return its Chat object.

        The bot is a plain member unless ``bot_member`` is False (use ``bot_added_to`` to script the join).
        """
        if type not in ("group", "supergroup", "channel"):
            raise ValueError(f"unsupported chat type {type!r}")
        chat = _Chat(
            id=id,
            type=type,
            title=title,
            username=username,
            is_forum=is_forum and type == "supergroup",
            permissions={
                name: True for name in _PERMISSIONS if name not in ("can_change_info", "can_pin_messages")
            },
        )
        if bot_member:
            chat.members[self.bot_id] = _Member("member")
        self._chats[id] = chat
        return self._chat_json(chat)

    def set_admins(
        self,
        chat_id: int,
        user_ids: Sequence[int],
        bot_is_admin: bool | None = None,
        *,
        owner_id: int | None = None,
        bot_rights: JSON | None = None,
    ) -> None:
        """Make ``user_ids`` the chat's administrators (the first, or ``owner_id``, is the creator).

        ``bot_is_admin`` True promotes the bot with full rights (or ``bot_rights``), False demotes it to a
        member, None leaves it as it is. No update is sent (use ``bot_promoted`` for that).
        """
        chat = self._require_chat(chat_id)
        owner = owner_id if owner_id is not None else (user_ids[0] if user_ids else None)
        for uid, member in list(chat.members.items()):
            if uid != self.bot_id and member.status in ("creator", "administrator"):
                chat.members[uid] = _Member("member")
        for uid in user_ids:
            self._require_user(uid)
            if uid == owner:
                chat.members[uid] = _Member("creator", rights=self._full_rights(chat))
            else:
                chat.members[uid] = _Member("administrator", rights=self._full_rights(chat))
        if owner is not None and owner not in user_ids:
            self._require_user(owner)
            chat.members[owner] = _Member("creator", rights=self._full_rights(chat))
        if bot_is_admin is True:
            rights = self._full_rights(chat)
            rights.update(bot_rights or {})
            chat.members[self.bot_id] = _Member("administrator", rights=rights)
        elif bot_is_admin is False:
            chat.members[self.bot_id] = _Member("member")

    def set_bot_privacy(self, can_read_all_group_messages: bool) -> None:
        """Set privacy mode: False means the bot only sees commands, replies to it and service messages."""
        self.can_read_all_group_messages = can_read_all_group_messages

    def add_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """Silently put a user in a chat with the given status (no update is sent)."""
        chat = self._require_chat(chat_id)
        self._require_user(user_id)
        chat.members[user_id] = _Member(
            status, rights=self._full_rights(chat) if status == "administrator" else {}
        )

    def create_topic(self, chat_id: int, name: str, *, by_user: int | None = None) -> int:
        """Create a forum topic (service message ``forum_topic_created``); return its message_thread_id."""
        chat = self._require_chat(chat_id)
        if not chat.is_forum:
            raise ValueError("chat is not a forum")
        sender = self._user_json(by_user) if by_user is not None else self.bot_user
        msg = self._new_message(
            chat, sender, extra={"forum_topic_created": {"name": name, "icon_color": 7322096}}
        )
        thread_id: int = msg["message_id"]
        msg["message_thread_id"] = thread_id
        msg["is_topic_message"] = True
        chat.topics.add(thread_id)
        if by_user is not None and self._bot_sees(chat, msg):
            self._enqueue("message", msg)
        return thread_id

    def member_status(self, chat_id: int, user_id: int) -> str:
        """Return a user's status in a chat: creator, administrator, member, restricted, left, kicked."""
        member = self._require_chat(chat_id).members.get(user_id)
        return member.status if member else "left"

    def has_started(self, user_id: int) -> bool:
        """Whether the user has a private chat with the bot (and has not blocked it)."""
        return user_id in self._started and user_id not in self._blocked

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """Current state of a stored message (after edits), or None."""
        chat = self._chats.get(chat_id)
        msg = chat.messages.get(message_id) if chat else None
        return copy.deepcopy(msg) if msg else None

    # ------------------------------------------------------------------ inbound update builders

    def user_starts_bot(self, user_id: int, payload: str | None = None) -> int:
        """The user opens the private chat and presses Start; enqueue "/start [payload]"; return update_id."""
        user = self._require_user(user_id)
        chat = self._private_chat(user_id)
        if user_id in self._blocked:
            self._blocked.discard(user_id)
            self._enqueue("my_chat_member", self._member_update(chat, user, self.bot_id, "kicked", "member"))
        self._started.add(user_id)
        chat.members[self.bot_id] = _Member("member")
        text = "/start" if payload is None else f"/start {payload}"
        msg = self._new_message(chat, user, text=text, entities=find_entities(text))
        return self._enqueue("message", msg)

    def user_blocks_bot(self, user_id: int) -> int:
        """The user blocks the bot: ``my_chat_member`` member -> kicked; later sends get 403."""
        user = self._require_user(user_id)
        chat = self._private_chat(user_id)
        self._blocked.add(user_id)
        chat.members[self.bot_id] = _Member("kicked")
        return self._enqueue(
            "my_chat_member", self._member_update(chat, user, self.bot_id, "member", "kicked")
        )

    def user_sends(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        entities: list[JSON] | None = None,
        anonymous: bool = False,
    ) -> int:
        """A user sends a text message; return its update_id, or 0 when the bot cannot see it.

        Entities (bot_command, mention, url, hashtag, email) are computed like Telegram unless given.
        In a group the user silently becomes a member if needed; in a channel it becomes a channel_post;
        ``anonymous`` sends as the group's anonymous admin (GroupAnonymousBot + sender_chat).
        The message_id is in ``get_update(update_id)`` or ``last_message_id(chat_id)``.
        """
        chat, sender, sender_chat = self._prepare_sender(chat_id, user_id, anonymous)
        reply = self._stored(chat, reply_to) if reply_to is not None else None
        msg = self._new_message(
            chat,
            sender,
            text=text,
            entities=entities if entities is not None else find_entities(text),
            thread_id=thread_id,
            reply_to=reply,
            sender_chat=sender_chat,
        )
        if chat.type == "channel":
            msg["author_signature"] = self._users[user_id]["first_name"]
            return self._enqueue("channel_post", msg) if self._bot_sees(chat, msg) else 0
        return self._enqueue("message", msg) if self._bot_sees(chat, msg) else 0

    def user_edits(
        self, chat_id: int, message_id: int, text: str, *, entities: list[JSON] | None = None
    ) -> int:
        """The author edits a message: ``edited_message`` (or ``edited_channel_post``); 0 if unseen."""
        chat = self._require_chat(chat_id)
        msg = self._stored(chat, message_id)
        if msg.get("from", {}).get("id") == self.bot_id:
            raise ValueError("users cannot edit the bot's messages")
        key = "caption" if "caption" in msg else "text"
        msg[key] = text
        msg["caption_entities" if key == "caption" else "entities"] = (
            entities if entities is not None else find_entities(text)
        )
        if not msg["caption_entities" if key == "caption" else "entities"]:
            msg.pop("caption_entities" if key == "caption" else "entities")
        msg["edit_date"] = int(time.time())
        if not self._bot_sees(chat, msg):
            return 0
        return self._enqueue("edited_channel_post" if chat.type == "channel" else "edited_message", msg)

    def user_presses(self, chat_id: int, message_id: int, user_id: int, data: str) -> str:
        """A user presses an inline button with ``data`` on a message; return the callback query id."""
        chat = self._require_chat(chat_id)
        user = self._require_user(user_id)
        msg = self._stored(chat, message_id)
        self._callback_seq += 1
        query_id = str(4_000_000_000_000_000 + self._callback_seq * 7919)
        self._callbacks[query_id] = _Callback(created=time.monotonic(), chat_id=chat.id)
        payload: JSON = {
            "id": query_id,
            "from": user,
            "message": copy.deepcopy(msg),
            "chat_instance": str(abs(chat.id) * 31 + 17),
            "data": data,
        }
        self._enqueue("callback_query", payload)
        return query_id

    def user_joins(
        self,
        chat_id: int,
        user_id: int,
        *,
        added_by: int | None = None,
        invite_link: JSON | None = None,
        via_join_request: bool = False,
    ) -> list[int]:
        """A user joins (or is added): a ``new_chat_members`` message and a ``chat_member`` update.

        The chat_member update is only produced when the bot is an administrator (as on Telegram) and
        is only delivered when "chat_member" is in allowed_updates. Returns the enqueued update ids.
        """
        chat = self._require_chat(chat_id)
        user = self._require_user(user_id)
        actor = self._user_json(added_by) if added_by is not None else user
        if added_by is not None and added_by not in chat.members:
            chat.members[added_by] = _Member("member")
        return self._join(chat, user, actor, invite_link=invite_link, via_join_request=via_join_request)

    def user_leaves(
        self, chat_id: int, user_id: int, *, removed_by: int | None = None, banned: bool = False
    ) -> list[int]:
        """A user leaves (or is removed): a ``left_chat_member`` message and a ``chat_member`` update."""
        chat = self._require_chat(chat_id)
        user = self._require_user(user_id)
        actor = self._user_json(removed_by) if removed_by is not None else user
        old = self._member_json(chat, user_id)
        chat.members[user_id] = _Member("kicked" if banned else "left")
        ids: list[int] = []
        if self._bot_in_chat(chat) and chat.type != "channel":
            msg = self._new_message(
                chat, actor, extra={"left_chat_member": user, "left_chat_participant": user}
            )
            ids.append(self._enqueue("message", msg))
        if self._bot_is_admin(chat):
            update = self._chat_member_payload(chat, actor, old, self._member_json(chat, user_id))
            ids.append(self._enqueue("chat_member", update))
        return ids

    def join_request(
        self, chat_id: int, user_id: int, *, bio: str | None = None, invite_link: JSON | None = None
    ) -> int:
        """A user asks to join: ``chat_join_request`` with ``user_chat_id``; 0 if the bot cannot see it.

        As on Telegram the bot may message the user (chat id == user id) for 5 minutes or until the
        request is approved or declined, even if the user never started the bot.
        """
        chat = self._require_chat(chat_id)
        user = self._require_user(user_id)
        chat.join_requests[user_id] = time.monotonic()
        self._dm_grants[user_id] = time.monotonic() + 300.0
        self._private_chat(user_id)
        payload: JSON = {
            "chat": self._chat_json(chat),
            "from": user,
            "user_chat_id": user_id,
            "date": int(time.time()),
        }
        if bio:
            payload["bio"] = bio
        if invite_link:
            payload["invite_link"] = invite_link
        if not self._bot_is_admin(chat, "can_invite_users"):
            return 0
        return self._enqueue("chat_join_request", payload)

    def bot_added_to(self, chat_id: int, by_user: int, *, as_admin: bool = False) -> list[int]:
        """Someone adds the bot: ``my_chat_member`` (left -> member/administrator) and, in groups, a
        ``new_chat_members`` message containing the bot. Returns the enqueued update ids."""
        chat = self._require_chat(chat_id)
        actor = self._require_user(by_user)
        if by_user not in chat.members or chat.members[by_user].status not in _ACTIVE_STATUSES:
            chat.members[by_user] = _Member("creator" if not chat.members else "member")
        old = self._member_json(chat, self.bot_id)
        chat.members[self.bot_id] = (
            _Member("administrator", rights=self._full_rights(chat)) if as_admin else _Member("member")
        )
        ids = [
            self._enqueue(
                "my_chat_member",
                self._chat_member_payload(chat, actor, old, self._member_json(chat, self.bot_id)),
            )
        ]
        if chat.type != "channel":
            bot = self.bot_user
            msg = self._new_message(
                chat,
                actor,
                extra={"new_chat_members": [bot], "new_chat_member": bot, "new_chat_participant": bot},
            )
            ids.append(self._enqueue("message", msg))
        return ids

    def bot_removed_from(self, chat_id: int, by_user: int, *, banned: bool = True) -> int:
        """Someone removes the bot: ``my_chat_member`` -> kicked (or left); later sends get 403."""
        chat = self._require_chat(chat_id)
        actor = self._require_user(by_user)
        old = self._member_json(chat, self.bot_id)
        chat.members[self.bot_id] = _Member("kicked" if banned else "left")
        return self._enqueue(
            "my_chat_member",
            self._chat_member_payload(chat, actor, old, self._member_json(chat, self.bot_id)),
        )

    def bot_promoted(self, chat_id: int, by_user: int, **rights: bool) -> int:
        """An admin promotes the bot (full rights, overridden by ``rights``): ``my_chat_member``."""
        chat = self._require_chat(chat_id)
        actor = self._require_user(by_user)
        old = self._member_json(chat, self.bot_id)
        full = self._full_rights(chat)
        full.update(rights)
        chat.members[self.bot_id] = _Member("administrator", rights=full)
        return self._enqueue(
            "my_chat_member",
            self._chat_member_payload(chat, actor, old, self._member_json(chat, self.bot_id)),
        )

    def bot_demoted(self, chat_id: int, by_user: int) -> int:
        """An admin demotes the bot to a plain member: ``my_chat_member``."""
        chat = self._require_chat(chat_id)
        actor = self._require_user(by_user)
        old = self._member_json(chat, self.bot_id)
        chat.members[self.bot_id] = _Member("member")
        return self._enqueue(
            "my_chat_member",
            self._chat_member_payload(chat, actor, old, self._member_json(chat, self.bot_id)),
        )

    def migrate_group(self, old_id: int, new_id: int) -> list[int]:
        """Upgrade a basic group to a supergroup: a ``migrate_to_chat_id`` message in the old chat and a
        ``migrate_from_chat_id`` message in the new one. Sending to the old id then answers 400 with
        ``parameters.migrate_to_chat_id`` (PTB raises ChatMigrated)."""
        old = self._require_chat(old_id)
        if old.type != "group":
            raise ValueError("only basic groups migrate")
        new = _Chat(
            id=new_id,
            type="supergroup",
            title=old.title,
            members={uid: copy.deepcopy(m) for uid, m in old.members.items()},
            permissions=dict(old.permissions),
        )
        self._chats[new_id] = new
        creator_id = next((uid for uid, m in old.members.items() if m.status == "creator"), None)
        actor = self._user_json(creator_id) if creator_id is not None else self.bot_user
        ids: list[int] = []
        old_msg = self._new_message(old, actor, extra={"migrate_to_chat_id": new_id})
        new_msg = self._new_message(new, actor, extra={"migrate_from_chat_id": old_id})
        old.migrated_to = new_id
        if self._bot_in_chat(new):
            ids.append(self._enqueue("message", old_msg))
            ids.append(self._enqueue("message", new_msg))
        return ids

    def user_sends_document(
        self,
        chat_id: int,
        user_id: int,
        filename: str,
        content_bytes: bytes,
        *,
        caption: str | None = None,
        mime_type: str | None = None,
        thread_id: int | None = None,
    ) -> int:
        """A user sends a file: ``message.document`` (downloadable via getFile); 0 if unseen."""
        chat, sender, sender_chat = self._prepare_sender(chat_id, user_id, False)
        stored = self._store_file(
            content_bytes, filename, mime_type or _guess_mime(filename), "documents", "BQACAgQ"
        )
        extra: JSON = {"document": self._document_json(stored)}
        if caption:
            extra["caption"] = caption
            caption_entities = find_entities(caption)
            if caption_entities:
                extra["caption_entities"] = caption_entities
        msg = self._new_message(chat, sender, thread_id=thread_id, sender_chat=sender_chat, extra=extra)
        if not self._bot_sees(chat, msg):
            return 0
        return self._enqueue("channel_post" if chat.type == "channel" else "message", msg)

    def enqueue_raw(self, update_type: str, payload: JSON) -> int:
        """Enqueue any update payload as-is (for shapes no builder covers); return its update_id."""
        return self._enqueue(update_type, payload)

    # ------------------------------------------------------------------ assertions

    def messages_to(self, chat_id: int, *, thread_id: int | None = None) -> list[SentRecord]:
        """Messages the bot sent (sendMessage/sendPhoto/sendDocument) to a chat, optionally one topic."""
        return [
            r
            for r in self.sent
            if r.method in SEND_METHODS
            and r.chat_id == chat_id
            and (thread_id is None or r.thread_id == thread_id)
        ]

    def last_to(self, chat_id: int) -> SentRecord | None:
        """The last message the bot sent to a chat, or None."""
        records = self.messages_to(chat_id)
        return records[-1] if records else None

    def calls_of(self, method: str) -> list[CallRecord]:
        """Every recorded call of one method (case-insensitive)."""
        lower = method.lower()
        return [c for c in self.calls if c.method.lower() == lower]

    async def wait_for(
        self, predicate: Callable[[SentRecord], bool], timeout: float = 5.0, *, start: int = 0
    ) -> SentRecord:
        """Wait until a record in ``sent[start:]`` matches; return it or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        index = start
        while True:
            while index < len(self.sent):
                record = self.sent[index]
                index += 1
                if predicate(record):
                    return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = ", ".join(
                    f"{r.method}→{r.chat_id}:{(r.rendered_text or r.text or '')[:40]!r}"
                    for r in self.sent[-5:]
                )
                raise TimeoutError(f"no sent record matched within {timeout}s; last: [{recent}]")
            await self._sent_signal.wait(remaining)

    async def wait_for_call(
        self, predicate: Callable[[CallRecord], bool], timeout: float = 5.0, *, start: int = 0
    ) -> CallRecord:
        """Wait until a record in ``calls[start:]`` matches; return it or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        index = start
        while True:
            while index < len(self.calls):
                record = self.calls[index]
                index += 1
                if predicate(record):
                    return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no call matched within {timeout}s")
            await self._sent_signal.wait(remaining)

    async def wait_updates_confirmed(self, update_id: int | None = None, timeout: float = 5.0) -> None:
        """Wait until ``update_id`` (default: every queued update) is confirmed or delivered."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._queue or (update_id is not None and self._queue[0]["update_id"] > update_id):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"updates still pending after {timeout}s: {len(self._queue)}")
            await self._updates_signal.wait(remaining)

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed (getUpdates) or delivered (webhook)."""
        return copy.deepcopy(list(self._queue))

    def get_update(self, update_id: int) -> JSON | None:
        """An update enqueued earlier (the last 10,000 are kept)."""
        update = self._history.get(update_id)
        return copy.deepcopy(update) if update else None

    def last_message_id(self, chat_id: int) -> int | None:
        """The message_id of the newest message in a chat (by anyone)."""
        chat = self._chats.get(chat_id)
        if not chat or not chat.messages:
            return None
        return next(reversed(chat.messages))

    def file_bytes(self, file_id: str) -> bytes:
        """Content of a stored file (e.g. ``record.file_id`` of a sendDocument)."""
        return self._files[file_id].data

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON] | None:
        """Commands stored by setMyCommands for exactly this scope and language, or None."""
        key = self._scope_key(self._normalise_scope(scope)), language_code or ""
        stored = self._commands.get(key)
        return copy.deepcopy(stored) if stored is not None else None

    def effective_commands(
        self, chat_id: int, user_id: int | None = None, language_code: str = ""
    ) -> list[JSON]:
        """The command list a user sees in a chat, following Telegram's documented scope fallback."""
        chat = self._chats.get(chat_id)
        private = chat.type == "private" if chat else chat_id in self._users
        scopes: list[JSON] = []
        if private:
            scopes = [{"type": "chat", "chat_id": chat_id}, {"type": "all_private_chats"}]
        else:
            is_admin = (
                user_id is not None
                and chat is not None
                and user_id in chat.members
                and chat.members[user_id].status in ("creator", "administrator")
            )
            if user_id is not None:
                scopes.append({"type": "chat_member", "chat_id": chat_id, "user_id": user_id})
            if is_admin:
                scopes.append({"type": "chat_administrators", "chat_id": chat_id})
            scopes.append({"type": "chat", "chat_id": chat_id})
            if is_admin:
                scopes.append({"type": "all_chat_administrators"})
            scopes.append({"type": "all_group_chats"})
        scopes.append({"type": "default"})
        languages = [language_code, ""] if language_code else [""]
        for scope in scopes:
            for language in languages:
                stored = self._commands.get((self._scope_key(scope), language))
                if stored:
                    return copy.deepcopy(stored)
        return []

    def menu_button(self, chat_id: int | None = None) -> JSON:
        """The menu button set for a private chat (or the default one)."""
        if chat_id is not None:
            chat = self._chats.get(chat_id)
            if chat and chat.menu_button is not None:
                return dict(chat.menu_button)
        return dict(self._default_menu_button)

    def clear_records(self) -> None:
        """Forget ``sent``, ``calls``, ``webhook_attempts``, ``callback_answers`` and ``count_429``."""
        self.sent.clear()
        self.calls.clear()
        self.webhook_attempts.clear()
        self.callback_answers.clear()
        self.count_429 = 0

    # ------------------------------------------------------------------ limits and faults

    def enforce_limits(
        self,
        per_chat_per_minute: int | None = 20,
        global_per_second: int | None = 30,
        private_per_second: float | None = 1.0,
        *,
        private_burst: int = 3,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Answer excess sends with 429 and ``retry_after`` like Telegram's flood control.

        Groups and channels: at most ``per_chat_per_minute`` in any 60 s window. Private chats: a token
        bucket of ``private_burst`` refilled at ``private_per_second``. Everything: at most
        ``global_per_second`` in any 1 s window. Retrying before ``retry_after`` has passed gets 429 again.
        ``methods`` defaults to the send and edit methods. None disables one limit.
        """
        self._limits = _Limits(
            per_chat_per_minute=per_chat_per_minute,
            global_per_second=global_per_second,
            private_per_second=private_per_second,
            private_burst=max(private_burst, 1),
            methods=frozenset(m.lower() for m in (methods or RATE_LIMITED_METHODS)),
        )
        self._global_window.clear()
        self._chat_windows.clear()
        self._private_buckets.clear()
        self._penalties.clear()

    def disable_limits(self) -> None:
        """Stop enforcing rate limits."""
        self._limits = None
        self._penalties.clear()

    def fail_next(
        self,
        method: str,
        status: int = 500,
        count: int = 1,
        retry_after: int | None = None,
        *,
        description: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` ("*" for any) with an error ``status``.

        429 carries ``parameters.retry_after`` (default 1); 502/503/504 answer an nginx HTML page as
        Telegram's front end does; others answer the Bot API JSON error with ``description``.
        """
        self._faults.append(
            _Fault(
                "fail",
                _fault_method(method),
                count,
                status=status,
                retry_after=retry_after,
                description=description,
            )
        )

    def fail_all_for(
        self,
        seconds: float,
        status: int = 429,
        *,
        retry_after: int | None = None,
        methods: Iterable[str] | None = None,
        description: str | None = None,
    ) -> None:
        """A storm: every call (or every call of ``methods``) fails with ``status`` for ``seconds``.

        For 429 the default ``retry_after`` is the storm's remaining time, rounded up.
        """
        self._storm = _Storm(
            until=time.monotonic() + seconds,
            status=status,
            retry_after=retry_after,
            methods=frozenset(m.lower() for m in methods) if methods is not None else None,
            description=description,
        )

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` calls of ``method`` for ``seconds`` before processing them.

        The call is still processed afterwards even if the client gave up (like a slow Telegram).
        """
        self._faults.append(_Fault("delay", _fault_method(method), count, seconds=seconds))

    def drop_next_connection(self, method: str, count: int = 1, *, after_processing: bool = False) -> None:
        """Close the TCP connection of the next ``count`` calls of ``method`` without answering.

        With ``after_processing`` the call takes effect first (e.g. the message is sent), then the answer
        is lost: the case that makes naive retries send duplicates.
        """
        self._faults.append(_Fault("drop", _fault_method(method), count, after_processing=after_processing))

    def delay_all_for(
        self,
        seconds: float,
        delay: float,
        *,
        methods: Iterable[str] | None = None,
        process_abandoned: bool = True,
    ) -> None:
        """A slow spell: for ``seconds``, every call (or every call of ``methods``) waits ``delay``.

        A client whose timeout is shorter gives up first. With ``process_abandoned`` (the default)
        the call still takes effect the moment the client gives up (Telegram got it, only the
        answer is lost, so a retry sends a duplicate); without it the call is discarded (it never
        got past Telegram's front end). Either way ``calls`` shows it (``answer_lost``, or status 0).
        ``clear_faults`` ends the spell early.
        """
        self._storm = _Storm(
            until=time.monotonic() + seconds,
            status=200,
            retry_after=None,
            methods=frozenset(m.lower() for m in methods) if methods is not None else None,
            description=None,
            kind="delay",
            delay=delay,
            process_abandoned=process_abandoned,
        )

    def drop_all_for(
        self,
        seconds: float,
        *,
        methods: Iterable[str] | None = None,
        after_processing: bool = False,
    ) -> None:
        """For ``seconds``, close the connection of every call (or of ``methods``) without answering.

        With ``after_processing`` each call takes effect first and only its answer is lost.
        ``clear_faults`` ends it early.
        """
        self._storm = _Storm(
            until=time.monotonic() + seconds,
            status=0,
            retry_after=None,
            methods=frozenset(m.lower() for m in methods) if methods is not None else None,
            description=None,
            kind="drop",
            after_processing=after_processing,
        )

    def hold_next(self, method: str, count: int = 1, *, process_abandoned: bool = False) -> None:
        """Keep the next ``count`` calls of ``method`` unanswered until ``release_held``.

        A held call is not processed while held. If the client gives up first (its read timeout),
        the call is discarded, or with ``process_abandoned`` it takes effect then with its answer
        lost. ``held`` says how many calls are waiting; ``wait_held`` waits for them.
        """
        self._faults.append(
            _Fault("hold", _fault_method(method), count, process_abandoned=process_abandoned)
        )

    @property
    def held(self) -> int:
        """How many calls are being held right now (see ``hold_next``)."""
        return len(self._held)

    async def wait_held(self, count: int, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` calls are held at once."""
        deadline = time.monotonic() + timeout
        while len(self._held) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"only {len(self._held)} of {count} calls held after {timeout}s")
            await self._held_signal.wait(remaining)

    def release_held(self, count: int | None = None, *, answer: bool = False) -> int:
        """End the oldest ``count`` holds (all by default); returns how many were released.

        ``answer=False`` cuts each connection without processing the call (a dropped connection);
        ``answer=True`` processes and answers it normally (a slow answer, if the client still waits).
        """
        released = 0
        for entry in list(self._held):
            if count is not None and released >= count:
                break
            self._held.remove(entry)
            if not entry.released.done():
                entry.released.set_result(answer)
            released += 1
        if released:
            self._held_signal.notify()
        return released

    @property
    def offline(self) -> bool:
        """Whether the server is unreachable (see ``go_offline``)."""
        return self._offline

    async def go_offline(self) -> None:
        """Become unreachable: stop listening (connections are refused) and cut every open one.

        Updates users send meanwhile are queued as usual and fetched once ``go_online`` is called.
        """
        if self._offline or self._runner is None:
            return
        self._offline = True
        for site in list(self._runner.sites):
            await site.stop()
        server = self._runner.server
        for handler in list(server.connections) if server is not None else []:
            transport = handler.transport
            if transport is not None:
                transport.abort()
            handler.force_close()
        self.release_held()

    async def go_online(self) -> None:
        """Listen again on the same port after ``go_offline``."""
        if not self._offline or self._runner is None:
            return
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._offline = False

    def lost_answers(self, method: str | None = None) -> list[CallRecord]:
        """Calls (of ``method``) that took effect but whose answer never reached the client."""
        wanted = method.lower() if method is not None else None
        return [c for c in self.calls if c.answer_lost and (wanted is None or c.method.lower() == wanted)]

    def clear_faults(self) -> None:
        """Remove every pending fault and any storm (held calls stay held: see ``release_held``)."""
        self._faults.clear()
        self._storm = None

    # ------------------------------------------------------------------ HTTP layer

    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
        if self._offline:
            return self._drop(request)
        path = request.path
        if path.startswith("/file/bot"):
            return self._serve_file(path[len("/file/bot") :])
        if not path.startswith("/bot"):
            return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, _, method = path[len("/bot") :].partition("/")
        if token != self.token:
            return _json_response(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if not method or "/" in method:
            return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        started = time.monotonic()
        try:
            raw, files = await _read_params(request)
        except ApiError as exc:
            self._record_call(method, {}, exc.status, exc.description, started)
            return _error_response(exc)
        return await self._process(method, raw, files, request, started)

    async def _process(
        self,
        method: str,
        raw: JSON,
        files: dict[str, _Upload],
        request: web.Request | None,
        started: float,
    ) -> web.StreamResponse:
        entry = self._handlers.get(method.lower())
        name = entry[0] if entry else method
        fault = self._take_fault(name.lower())
        drop_after = fault is not None and fault.kind == "drop" and fault.after_processing
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "hold":
            outcome = await self._hold(name, request)
            if outcome == "dropped":
                self._record_call(name, raw, 0, "connection dropped", started)
                return self._drop(request)
            if outcome == "abandoned" and not fault.process_abandoned:
                self._record_call(name, raw, 0, "no answer: the client gave up", started)
                return self._drop(request)
            fault = None
        if fault is not None and fault.kind == "drop" and not fault.after_processing:
            self._record_call(name, raw, 0, "connection dropped", started)
            return self._drop(request)
        if fault is not None and fault.kind == "fail":
            return self._fault_response(
                name, raw, fault.status, fault.retry_after, fault.description, started
            )
        storm = self._storm
        if storm is not None:
            now = time.monotonic()
            if now >= storm.until:
                self._storm = None
            elif storm.methods is None or name.lower() in storm.methods:
                if storm.kind == "drop":
                    if not storm.after_processing:
                        self._record_call(name, raw, 0, "connection dropped", started)
                        return self._drop(request)
                    drop_after = True
                elif storm.kind == "delay":
                    if await self._wait_or_abandon(request, storm.delay) and not storm.process_abandoned:
                        self._record_call(name, raw, 0, "no answer: the client gave up", started)
                        return self._drop(request)
                else:
                    retry_after = storm.retry_after or max(1, math.ceil(storm.until - now))
                    return self._fault_response(
                        name, raw, storm.status, retry_after, storm.description, started
                    )
        if entry is None:
            self._record_call(name, raw, 404, "Not Found", started)
            return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        params = _Params(raw, files)
        limited = self._limits is not None and name.lower() in self._limits.methods
        chat_key: _Chat | None = None
        try:
            if limited:
                chat_key = self._limit_check(params)
            result = entry[1](params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            if exc.status == 429:
                self.count_429 += 1
            self._record_call(name, raw, exc.status, exc.description, started)
            return _error_response(exc)
        except Exception as exc:  # a bug in the fake: answer like Telegram's 500, keep it for asserts
            self.server_errors.append(exc)
            self._record_call(name, raw, 500, f"fake server error: {exc!r}", started)
            return _error_response(ApiError(500, "Internal Server Error"))
        if limited and chat_key is not None:
            self._limit_consume(chat_key)
        description: str | None = None
        if isinstance(result, _WithDescription):
            description = result.description
            result = result.value
        lost = drop_after or _abandoned(request)
        self._record_call(name, raw, 200, None, started, answer_lost=lost)
        if lost:
            return self._drop(request)
        body: JSON = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return _json_response(200, body)

    async def _wait_or_abandon(self, request: web.Request | None, seconds: float) -> bool:
        """Wait ``seconds`` without answering; True as soon as the client gives up (closes)."""
        deadline = time.monotonic() + seconds
        while not self._stopping:
            if _abandoned(request):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(remaining, _ABANDON_POLL_S))
        return _abandoned(request)

    async def _hold(self, name: str, request: web.Request | None) -> str:
        """Hold a call until released: "answer", "dropped" or "abandoned" (the client gave up)."""
        entry = _Held(name, asyncio.get_running_loop().create_future())
        self._held.append(entry)
        self._held_signal.notify()
        try:
            while not entry.released.done():
                if _abandoned(request) or self._stopping:
                    return "abandoned"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(entry.released), _ABANDON_POLL_S)
            return "answer" if entry.released.result() else "dropped"
        finally:
            if entry in self._held:
                self._held.remove(entry)
                self._held_signal.notify()

    def _drop(self, request: web.Request | None) -> web.StreamResponse:
        if request is not None and request.transport is not None:
            request.transport.abort()
        # aiohttp needs a response object; it is never written because the transport is gone.
        return web.Response(status=500)

    def _fault_response(
        self,
        name: str,
        raw: JSON,
        status: int,
        retry_after: int | None,
        description: str | None,
        started: float,
    ) -> web.StreamResponse:
        if status == 429:
            self.count_429 += 1
            seconds = retry_after if retry_after is not None else 1
            exc = ApiError(
                429, description or f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )
            self._record_call(name, raw, 429, exc.description, started)
            return _error_response(exc)
        phrase = _STATUS_PHRASES.get(status, "Error")
        self._record_call(name, raw, status, description or phrase, started)
        if status in _HTML_ERROR_STATUSES and description is None:
            html = (
                f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
                f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
                "</body>\r\n</html>\r\n"
            )
            return web.Response(status=status, text=html, content_type="text/html")
        parameters = {"retry_after": retry_after} if retry_after else None
        return _error_response(ApiError(status, description or phrase, parameters))

    def _take_fault(self, lower_name: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method is None or fault.method == lower_name:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _record_call(
        self,
        method: str,
        raw: JSON,
        status: int,
        description: str | None,
        started: float,
        *,
        answer_lost: bool = False,
    ) -> None:
        if self.record_calls:
            now = time.monotonic()
            self.calls.append(
                CallRecord(
                    method=method,
                    params=raw,
                    time=time.time(),
                    status=status,
                    description=description,
                    duration=now - started,
                    monotonic=now,
                    answer_lost=answer_lost,
                )
            )
        self._sent_signal.notify()

    def _serve_file(self, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        stored = self._files_by_path.get(file_path)
        if token != self.token or stored is None:
            return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    # ------------------------------------------------------------------ rate limiting

    def _limit_check(self, params: _Params) -> _Chat | None:
        limits = self._limits
        assert limits is not None
        chat = self._lookup_chat(params)
        now = time.monotonic()
        keys: list[int | str] = ["global"] + ([chat.id] if chat else [])
        for key in keys:
            until = self._penalties.get(key, 0.0)
            if until > now:
                raise _too_many(math.ceil(until - now))
        if limits.global_per_second is not None:
            window = self._global_window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limits.global_per_second:
                self._penalise("global", max(1, math.ceil(window[0] + 1.0 - now)), now)
        if chat is None:
            return None
        if chat.type == "private":
            if limits.private_per_second is not None:
                tokens, last = self._private_buckets.get(chat.id, (float(limits.private_burst), now))
                tokens = min(float(limits.private_burst), tokens + (now - last) * limits.private_per_second)
                self._private_buckets[chat.id] = (tokens, now)
                if tokens < 1.0:
                    self._penalise(
                        chat.id, max(1, math.ceil((1.0 - tokens) / limits.private_per_second)), now
                    )
        elif limits.per_chat_per_minute is not None:
            window = self._chat_windows.setdefault(chat.id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= limits.per_chat_per_minute:
                self._penalise(chat.id, max(1, math.ceil(window[0] + 60.0 - now)), now)
        return chat

    def _penalise(self, key: int | str, retry_after: int, now: float) -> None:
        self._penalties[key] = now + retry_after
        raise _too_many(retry_after)

    def _limit_consume(self, chat: _Chat) -> None:
        now = time.monotonic()
        self._global_window.append(now)
        if chat.type == "private":
            tokens, last = self._private_buckets.get(chat.id, (1.0, now))
            self._private_buckets[chat.id] = (tokens - 1.0, last)
        else:
            self._chat_windows.setdefault(chat.id, deque()).append(now)

    def _lookup_chat(self, params: _Params) -> _Chat | None:
        ref = params.raw.get("chat_id")
        if ref is None:
            return None
        try:
            return self._chats.get(int(ref))
        except (TypeError, ValueError):
            return self._chat_by_username(str(ref))

    # ------------------------------------------------------------------ update queue

    def _enqueue(self, update_type: str, payload: JSON) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, update_type: copy.deepcopy(payload)}
        self._queue.append(update)
        self._history[update_id] = update
        if len(self._history) > 10_000:
            del self._history[next(iter(self._history))]
        self._updates_signal.notify()
        return update_id

    def _allowed_types(self) -> frozenset[str]:
        if self._allowed is None:
            return frozenset(ALL_UPDATE_TYPES) - DEFAULT_EXCLUDED_UPDATES
        return self._allowed

    def _set_allowed(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad("can't parse allowed updates list")
        # Unknown names are ignored by Telegram; an empty list means "the default set".
        known = frozenset(v for v in value if v in ALL_UPDATE_TYPES)
        self._allowed = known or None

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        before = len(self._queue)
        if offset < 0:
            while len(self._queue) > -offset:
                self._queue.popleft()
        else:
            while self._queue and self._queue[0]["update_id"] < offset:
                self._queue.popleft()
        if len(self._queue) != before:
            self._updates_signal.notify()

    def _deliverable(self, limit: int) -> list[JSON]:
        allowed = self._allowed_types()
        batch: list[JSON] = []
        for update in self._queue:
            if _update_type(update) in allowed:
                batch.append(update)
                if len(batch) >= limit:
                    break
        return batch

    async def _m_get_updates(self, p: _Params) -> Any:
        if self._webhook_url:
            raise ApiError(
                409,
                WEBHOOK_CONFLICT,
            )
        offset = p.get_int("offset")
        limit = min(max(p.get_int("limit") or 100, 1), 100)
        timeout = max(p.get_float("timeout") or 0.0, 0.0)
        self._set_allowed(p.get_json("allowed_updates", "can't parse allowed updates list"))
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.notify()
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    POLL_CONFLICT,
                )
            if self._webhook_url:
                raise ApiError(
                    409,
                    WEBHOOK_CONFLICT,
                )
            batch = self._deliverable(limit)
            remaining = deadline - time.monotonic()
            if batch or self._stopping or remaining <= 0:
                return batch
            await self._updates_signal.wait(remaining)

    # ------------------------------------------------------------------ webhook delivery

    async def _webhook_loop(self) -> None:
        while self._webhook_url and not self._stopping:
            allowed = self._allowed_types()
            while self._queue and _update_type(self._queue[0]) not in allowed:
                self._queue.popleft()
                self._updates_signal.notify()
            if not self._queue:
                await self._updates_signal.wait(1.0)
                continue
            update = self._queue[0]
            url = self._webhook_url
            headers = {"Content-Type": "application/json"}
            if self._webhook_secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook_secret
            session = self._session
            if session is None:
                return
            status = 0
            body = b""
            error: str | None = None
            content_type = ""
            try:
                async with session.post(
                    url,
                    data=json.dumps(update),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                ) as response:
                    status = response.status
                    body = await response.read()
                    content_type = response.content_type
                    reason = response.reason or ""
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = f"Connection failed: {type(exc).__name__}"
            self.webhook_attempts.append(WebhookAttempt(update["update_id"], status, time.time(), error))
            if 200 <= status < 300:
                if self._queue and self._queue[0] is update:
                    self._queue.popleft()
                self._updates_signal.notify()
                if content_type == "application/json" and body:
                    await self._webhook_reply(body)
                continue
            message = error or f"Wrong response from the webhook: {status} {reason}".rstrip()
            self._webhook_last_error = (int(time.time()), message)
            await asyncio.sleep(self.webhook_retry_delay)

    async def _webhook_reply(self, body: bytes) -> None:
        """Execute a method call returned in the webhook response body, as Telegram does."""
        try:
            data = json.loads(body)
        except ValueError:
            return
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            params = {k: v for k, v in data.items() if k != "method"}
            await self._process(data["method"], params, {}, None, time.monotonic())

    # ------------------------------------------------------------------ helpers: world

    def _method_table(self) -> dict[str, MethodHandler]:
        return {
            "getMe": self._m_get_me,
            "logOut": self._m_true,
            "close": self._m_true,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "sendMessage": self._m_send_message,
            "sendPhoto": self._m_send_photo,
            "sendDocument": self._m_send_document,
            "sendChatAction": self._m_send_chat_action,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "answerCallbackQuery": self._m_answer_callback_query,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "getChat": self._m_get_chat,
            "getChatAdministrators": self._m_get_chat_administrators,
            "getChatMember": self._m_get_chat_member,
            "getChatMemberCount": self._m_get_chat_member_count,
            "approveChatJoinRequest": self._m_approve_join_request,
            "declineChatJoinRequest": self._m_decline_join_request,
            "getFile": self._m_get_file,
            "restrictChatMember": self._m_restrict_chat_member,
            "banChatMember": self._m_ban_chat_member,
            "unbanChatMember": self._m_unban_chat_member,
            "createChatInviteLink": self._m_create_chat_invite_link,
            "leaveChat": self._m_leave_chat,
            "setChatMenuButton": self._m_set_chat_menu_button,
            "getChatMenuButton": self._m_get_chat_menu_button,
            "pinChatMessage": self._m_pin_chat_message,
            "unpinChatMessage": self._m_unpin_chat_message,
            "setMyDescription": self._bot_text_setter("description", "description", 512),
            "getMyDescription": self._bot_text_getter("description", "description"),
            "setMyShortDescription": self._bot_text_setter("short_description", "short_description", 120),
            "getMyShortDescription": self._bot_text_getter("short_description", "short_description"),
            "setMyName": self._bot_text_setter("name", "name", 64),
            "getMyName": self._bot_text_getter("name", "name"),
        }

    def _require_user(self, user_id: int) -> JSON:
        user = self._users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id}; call add_user first")
        return user

    def _require_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id in self._users:
                return self._private_chat(chat_id)
            raise ValueError(f"unknown chat {chat_id}; call add_group first")
        return chat

    def _user_json(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return self.bot_user
        return dict(self._require_user(user_id))

    def _private_chat(self, user_id: int) -> _Chat:
        chat = self._chats.get(user_id)
        if chat is None:
            user = self._require_user(user_id)
            chat = _Chat(
                id=user_id,
                type="private",
                first_name=user["first_name"],
                last_name=user.get("last_name"),
                username=user.get("username"),
            )
            chat.members[user_id] = _Member("member")
            self._chats[user_id] = chat
        return chat

    def _chat_json(self, chat: _Chat) -> JSON:
        data: JSON = {"id": chat.id, "type": chat.type}
        if chat.type == "private":
            data["first_name"] = chat.first_name
            if chat.last_name:
                data["last_name"] = chat.last_name
        else:
            data["title"] = chat.title
        if chat.username:
            data["username"] = chat.username
        if chat.is_forum:
            data["is_forum"] = True
        return data

    def _full_rights(self, chat: _Chat) -> JSON:
        rights = dict.fromkeys(_ADMIN_RIGHTS, True)
        rights["can_promote_members"] = False
        if chat.type == "channel":
            rights.update(dict.fromkeys(_CHANNEL_ADMIN_RIGHTS, True))
        return rights

    def _member_json(self, chat: _Chat, user_id: int) -> JSON:
        member = chat.members.get(user_id)
        user = self._user_json(user_id)
        status = member.status if member else "left"
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if status == "administrator":
            assert member is not None
            data: JSON = {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
            }
            for right in _ADMIN_RIGHTS:
                data[right] = bool(member.rights.get(right, False))
            if chat.type == "channel":
                for right in _CHANNEL_ADMIN_RIGHTS:
                    data[right] = bool(member.rights.get(right, False))
            return data
        if status == "restricted":
            assert member is not None
            perms = member.permissions or {}
            data = {
                "status": "restricted",
                "user": user,
                "is_member": member.is_member,
                "until_date": member.until_date,
            }
            for name in _PERMISSIONS:
                data[name] = bool(perms.get(name, False))
            return data
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": member.until_date if member else 0}
        return {"status": status, "user": user}

    def _member_update(
        self, chat: _Chat, actor: JSON, user_id: int, old_status: str, new_status: str
    ) -> JSON:
        user = self._user_json(user_id)
        return {
            "chat": self._chat_json(chat),
            "from": actor,
            "date": int(time.time()),
            "old_chat_member": {"status": old_status, "user": user}
            | ({"until_date": 0} if old_status == "kicked" else {}),
            "new_chat_member": {"status": new_status, "user": user}
            | ({"until_date": 0} if new_status == "kicked" else {}),
        }

    def _chat_member_payload(self, chat: _Chat, actor: JSON, old: JSON, new: JSON) -> JSON:
        return {
            "chat": self._chat_json(chat),
            "from": actor,
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": new,
        }

    def _join(
        self,
        chat: _Chat,
        user: JSON,
        actor: JSON,
        *,
        invite_link: JSON | None = None,
        via_join_request: bool = False,
    ) -> list[int]:
        if chat.type == "private":
            raise ValueError("users cannot join a private chat")
        user_id = user["id"]
        current = chat.members.get(user_id)
        if current is not None and current.status in _ACTIVE_STATUSES:
            # Lenient for scripts that already made the user a member (e.g. via user_sends).
            old: JSON = {"status": "left", "user": dict(user)}
        else:
            old = self._member_json(chat, user_id)
        chat.members[user_id] = _Member("member")
        chat.join_requests.pop(user_id, None)
        ids: list[int] = []
        if chat.type != "channel" and self._bot_in_chat(chat):
            msg = self._new_message(
                chat,
                actor,
                extra={"new_chat_members": [user], "new_chat_member": user, "new_chat_participant": user},
            )
            ids.append(self._enqueue("message", msg))
        if self._bot_is_admin(chat):
            payload = self._chat_member_payload(chat, actor, old, self._member_json(chat, user_id))
            if invite_link:
                payload["invite_link"] = invite_link
            if via_join_request:
                payload["via_join_request"] = True
            ids.append(self._enqueue("chat_member", payload))
        return ids

    def _prepare_sender(
        self, chat_id: int, user_id: int, anonymous: bool
    ) -> tuple[_Chat, JSON | None, JSON | None]:
        user = self._require_user(user_id)
        chat = self._require_chat(chat_id)
        if chat.type == "private":
            if chat.id != user_id:
                raise ValueError("in a private chat only its user can write (chat id == user id)")
            if user_id in self._blocked:
                self._blocked.discard(user_id)
                self._enqueue(
                    "my_chat_member", self._member_update(chat, user, self.bot_id, "kicked", "member")
                )
            self._started.add(user_id)
            chat.members[self.bot_id] = _Member("member")
            return chat, user, None
        if chat.type == "channel":
            return chat, None, self._chat_json(chat)
        member = chat.members.get(user_id)
        if member is None or member.status == "left":
            chat.members[user_id] = _Member("member")
        elif member.status == "kicked":
            raise ValueError(f"user {user_id} is banned from chat {chat_id}")
        if anonymous:
            anon = {
                "id": ANONYMOUS_ADMIN_ID,
                "is_bot": True,
                "first_name": "Group",
                "username": "GroupAnonymousBot",
            }
            return chat, anon, self._chat_json(chat)
        return chat, user, None

    def _stored(self, chat: _Chat, message_id: int) -> JSON:
        msg = chat.messages.get(message_id)
        if msg is None:
            raise ValueError(f"no message {message_id} in chat {chat.id}")
        return msg

    def _new_message(
        self,
        chat: _Chat,
        sender: JSON | None,
        *,
        text: str | None = None,
        entities: list[JSON] | None = None,
        thread_id: int | None = None,
        reply_to: JSON | None = None,
        sender_chat: JSON | None = None,
        extra: JSON | None = None,
    ) -> JSON:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        msg: JSON = {"message_id": message_id}
        if sender is not None:
            msg["from"] = sender
        if sender_chat is not None:
            msg["sender_chat"] = sender_chat
        msg["chat"] = self._chat_json(chat)
        msg["date"] = int(time.time())
        if thread_id is not None:
            msg["message_thread_id"] = thread_id
            if chat.is_forum:
                msg["is_topic_message"] = True
                chat.topics.add(thread_id)
        if reply_to is not None:
            msg["reply_to_message"] = {
                k: copy.deepcopy(v) for k, v in reply_to.items() if k != "reply_to_message"
            }
        if text is not None:
            msg["text"] = text
            if entities:
                msg["entities"] = entities
        if extra:
            msg.update(extra)
        chat.messages[message_id] = msg
        if len(chat.messages) > self.max_messages_per_chat:
            del chat.messages[next(iter(chat.messages))]
        return msg

    def _bot_in_chat(self, chat: _Chat) -> bool:
        member = chat.members.get(self.bot_id)
        return member is not None and member.status in _ACTIVE_STATUSES

    def _bot_is_admin(self, chat: _Chat, right: str | None = None) -> bool:
        member = chat.members.get(self.bot_id)
        if member is None or member.status not in ("administrator", "creator"):
            return False
        return right is None or bool(member.rights.get(right, False))

    def _bot_sees(self, chat: _Chat, msg: JSON) -> bool:
        """Whether Telegram would deliver this message to the bot (membership and privacy mode)."""
        if chat.type == "private":
            return chat.id not in self._blocked
        if not self._bot_in_chat(chat):
            return False
        if chat.type == "channel":
            return self._bot_is_admin(chat)
        if self.can_read_all_group_messages or self._bot_is_admin(chat):
            return True
        if "text" not in msg and "caption" not in msg and "document" not in msg:
            return True  # service messages always reach the bot
        reply = msg.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot_id:
            return True
        text = msg.get("text") or msg.get("caption") or ""
        for entity in msg.get("entities") or msg.get("caption_entities") or []:
            if entity["type"] != "bot_command":
                continue
            command = text.encode("utf-16-le")[
                entity["offset"] * 2 : (entity["offset"] + entity["length"]) * 2
            ]
            target = command.decode("utf-16-le").partition("@")[2]
            if not target or target.lower() == self.bot_username.lower():
                return True
        return False

    def _chat_by_username(self, ref: str) -> _Chat | None:
        if not ref.startswith("@"):
            return None
        name = ref[1:].lower()
        return next(
            (
                c
                for c in self._chats.values()
                if c.username and c.username.lower() == name and c.type != "private"
            ),
            None,
        )

    def _resolve_chat(self, p: _Params, key: str = "chat_id") -> _Chat:
        """Find the target chat for reading (getChat, getChatMember...)."""
        ref = p.raw.get(key)
        if ref is None or ref == "":
            raise _bad(f"{key} is empty")
        chat: _Chat | None
        if isinstance(ref, str) and ref.startswith("@"):
            chat = self._chat_by_username(ref)
        else:
            try:
                chat = self._chats.get(int(ref))
            except (TypeError, ValueError):
                chat = None
        if chat is None:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise _bad(
                "group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to}
            )
        if chat.type == "private":
            if chat.id not in self._started and not self._dm_granted(chat.id):
                raise _bad("chat not found")
            return chat
        self._require_bot_presence(chat)
        return chat

    def _require_bot_presence(self, chat: _Chat) -> None:
        member = chat.members.get(self.bot_id)
        kind = {"group": "group", "supergroup": "supergroup", "channel": "channel"}[chat.type]
        if member is None or member.status == "left":
            raise _forbidden(f"bot is not a member of the {kind} chat")
        if member.status == "kicked":
            raise _forbidden(f"bot was kicked from the {kind} chat")

    def _chat_for_send(self, p: _Params) -> _Chat:
        """Find the target chat for sending, with Telegram's 400/403 answers."""
        ref = p.raw.get("chat_id")
        if ref is None or ref == "":
            raise _bad("chat_id is empty")
        chat: _Chat | None
        if isinstance(ref, str) and ref.startswith("@"):
            chat = self._chat_by_username(ref)
        else:
            try:
                chat_id = int(ref)
            except (TypeError, ValueError):
                raise _bad("chat not found") from None
            chat = self._chats.get(chat_id)
            if chat is None and chat_id in self._users:
                raise _forbidden("bot can't initiate conversation with a user")
        if chat is None:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise _bad(
                "group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to}
            )
        if chat.type == "private":
            if chat.id in self._blocked:
                raise _forbidden("bot was blocked by the user")
            if chat.id not in self._started and not self._dm_granted(chat.id):
                raise _forbidden("bot can't initiate conversation with a user")
            return chat
        self._require_bot_presence(chat)
        if chat.type == "channel" and not self._bot_is_admin(chat, "can_post_messages"):
            raise _bad("need administrator rights in the channel chat")
        return chat

    def _dm_granted(self, user_id: int) -> bool:
        until = self._dm_grants.get(user_id)
        if until is None:
            return False
        if until < time.monotonic():
            del self._dm_grants[user_id]
            return False
        return any(user_id in c.join_requests for c in self._chats.values())

    def _target_user(self, p: _Params) -> int:
        user_id = p.get_int("user_id")
        if user_id is None:
            raise _bad("user_id is empty")
        if user_id not in self._users and user_id != self.bot_id:
            raise _bad("user not found")
        return user_id

    def _store_file(
        self, data: bytes, file_name: str | None, mime_type: str | None, folder: str, prefix: str
    ) -> StoredFile:
        self._file_seq += 1
        seq = self._file_seq
        ext = ""
        if file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        elif folder == "photos":
            ext = "jpg"
        path = f"{folder}/file_{seq}{'.' + ext if ext else ''}"
        stored = StoredFile(
            file_id=f"{prefix}AAx{seq:08d}{secrets.token_hex(6)}",
            file_unique_id=f"AgAD{seq:06d}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            file_path=path,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def _document_json(self, stored: StoredFile) -> JSON:
        data: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.file_name:
            data["file_name"] = stored.file_name
        if stored.mime_type:
            data["mime_type"] = stored.mime_type
        return data

    # ------------------------------------------------------------------ method helpers

    def _text_and_entities(self, p: _Params, key: str, entities_key: str) -> tuple[str | None, list[JSON]]:
        raw_text = p.get_str(key)
        if raw_text is None:
            return None, []
        explicit = p.get_json(entities_key, f"can't parse {entities_key} JSON object")
        parse_mode = p.get_str("parse_mode")
        if explicit:
            if not isinstance(explicit, list):
                raise _bad(f"can't parse {entities_key} JSON object")
            rendered, entities = raw_text, [dict(e) for e in explicit if isinstance(e, dict)]
        else:
            rendered, entities = render_text(raw_text, parse_mode)
        rendered, entities = _trim(rendered, entities)
        for entity in entities:
            if entity.get("type") == "text_mention" and isinstance(entity.get("user"), dict):
                uid = entity["user"].get("id")
                if uid in self._users:
                    entity["user"] = dict(self._users[uid])
                else:
                    entity["user"] = {"id": uid, "is_bot": False, "first_name": "Unknown"}
        return rendered, merge_auto_entities(rendered, entities)

    def _reply_markup(self, p: _Params) -> JSON | None:
        markup = p.get_json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad(
                    'can\'t parse inline keyboard markup: field "inline_keyboard" must be an Array of Arrays'
                )
            for row in rows:
                for button in row:
                    _check_inline_button(button)
            return markup
        if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    def _thread_id(self, chat: _Chat, p: _Params) -> int | None:
        thread_id = p.get_int("message_thread_id")
        if thread_id is None:
            return None
        if chat.is_forum and thread_id not in chat.topics and thread_id != 1:
            raise _bad("message thread not found")
        return thread_id

    def _reply_target(self, chat: _Chat, p: _Params) -> JSON | None:
        parameters = p.get_json("reply_parameters", "can't parse reply parameters JSON object")
        allow_without = p.get_bool("allow_sending_without_reply")
        message_id: int | None = None
        if isinstance(parameters, dict):
            if parameters.get("message_id") is not None:
                message_id = int(parameters["message_id"])
            allow_without = allow_without or bool(parameters.get("allow_sending_without_reply"))
        elif parameters is not None:
            raise _bad("can't parse reply parameters JSON object")
        if message_id is None:
            message_id = p.get_int("reply_to_message_id")
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None and not allow_without:
            raise _bad("message to be replied not found")
        return target

    def _record_sent(
        self,
        method: str,
        p: _Params,
        chat: _Chat | None,
        *,
        text: str | None,
        rendered: str | None = None,
        entities: list[JSON] | None = None,
        reply_markup: JSON | None = None,
        thread_id: int | None = None,
        message_id: int | None = None,
        stored: StoredFile | None = None,
        callback_query_id: str | None = None,
    ) -> SentRecord:
        record = SentRecord(
            method=method,
            chat_id=chat.id if chat else None,
            text=text,
            reply_markup=reply_markup,
            thread_id=thread_id,
            parse_mode=p.get_str("parse_mode"),
            message_id=message_id,
            timestamp=time.time(),
            monotonic=time.monotonic(),
            rendered_text=rendered,
            entities=entities or [],
            file_id=stored.file_id if stored else None,
            file_name=stored.file_name if stored else None,
            file_size=len(stored.data) if stored else None,
            callback_query_id=callback_query_id,
            params=dict(p.raw),
        )
        self.sent.append(record)
        self._sent_signal.notify()
        return record

    def _editable(self, p: _Params) -> tuple[_Chat, JSON]:
        if p.has("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat_for_send(p)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        msg = chat.messages.get(message_id)
        if msg is None:
            raise _bad("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited")
        return chat, msg

    # ------------------------------------------------------------------ methods

    def _m_true(self, p: _Params) -> bool:
        return True

    def _m_get_me(self, p: _Params) -> JSON:
        me = self.bot_user
        me.update(
            {
                "can_join_groups": self.can_join_groups,
                "can_read_all_group_messages": self.can_read_all_group_messages,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
                "has_topics_enabled": False,
                "allows_users_to_create_topics": False,
            }
        )
        return me

    def _m_set_webhook(self, p: _Params) -> _WithDescription:
        url = p.get_str("url") or ""
        if not url:
            return self._m_delete_webhook(p)
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in ("http", "https") or len(url) <= len(scheme) + 3:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get_str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = p.get_int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed(p.get_json("allowed_updates", "can't parse allowed updates list"))
        if p.get_bool("drop_pending_updates"):
            self._queue.clear()
        same = self._webhook_url == url and self._webhook_secret == secret
        self._webhook_url = url
        self._webhook_secret = secret
        self._webhook_max_connections = max_connections
        self._webhook_last_error = None
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())
        self._updates_signal.notify()
        return _WithDescription(True, "Webhook is already set" if same else "Webhook was set")

    def _m_delete_webhook(self, p: _Params) -> _WithDescription:
        if p.get_bool("drop_pending_updates"):
            self._queue.clear()
        was_set = self._webhook_url is not None
        self._webhook_url = None
        self._webhook_secret = None
        self._webhook_last_error = None
        self._updates_signal.notify()
        return _WithDescription(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _m_get_webhook_info(self, p: _Params) -> JSON:
        info: JSON = {
            "url": self._webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self._webhook_url:
            info["ip_address"] = "127.0.0.1"
            info["max_connections"] = self._webhook_max_connections
            if self._allowed is not None:
                info["allowed_updates"] = sorted(self._allowed)
            if self._webhook_last_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    def _m_send_message(self, p: _Params) -> JSON:
        rendered, entities = self._text_and_entities(p, "text", "entities")
        if not rendered:
            raise _bad("message text is empty")
        if len(rendered) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        chat = self._chat_for_send(p)
        thread_id = self._thread_id(chat, p)
        reply = self._reply_target(chat, p)
        markup = self._reply_markup(p)
        msg = self._new_message(
            chat, self.bot_user, text=rendered, entities=entities, thread_id=thread_id, reply_to=reply
        )
        if markup is not None and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        self._record_sent(
            "sendMessage",
            p,
            chat,
            text=p.get_str("text"),
            rendered=rendered,
            entities=entities,
            reply_markup=markup,
            thread_id=thread_id,
            message_id=msg["message_id"],
        )
        return copy.deepcopy(msg)

    def _input_file(self, p: _Params, key: str, folder: str, prefix: str) -> StoredFile:
        upload = p.files.get(key)
        ref = p.get_str(key)
        if upload is None and ref and ref.startswith("attach://"):
            upload = p.files.get(ref[len("attach://") :])
        if upload is not None:
            if not upload.data:
                raise _bad("file must be non-empty")
            if len(upload.data) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            mime = (
                upload.content_type if upload.content_type not in (None, "application/octet-stream") else None
            )
            return self._store_file(
                upload.data, upload.filename, mime or _guess_mime(upload.filename), folder, prefix
            )
        if not ref:
            raise _bad(f"there is no {key} in the request")
        if ref in self._files:
            return self._files[ref]
        if ref.startswith(("http://", "https://")):
            name = ref.rstrip("/").rsplit("/", 1)[-1] or None
            return self._store_file(b"", name, _guess_mime(name or ""), folder, prefix)
        raise _bad("wrong file identifier/HTTP URL specified")

    def _send_media(self, p: _Params, method: str, key: str) -> JSON:
        caption, caption_entities = self._text_and_entities(p, "caption", "caption_entities")
        if caption is not None and len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        chat = self._chat_for_send(p)
        thread_id = self._thread_id(chat, p)
        reply = self._reply_target(chat, p)
        markup = self._reply_markup(p)
        if key == "photo":
            stored = self._input_file(p, key, "photos", "AgACAgQ")
            width, height = _image_size(stored.data)
            media: JSON = {
                "photo": [
                    {
                        "file_id": stored.file_id,
                        "file_unique_id": stored.file_unique_id,
                        "file_size": len(stored.data),
                        "width": width,
                        "height": height,
                    }
                ]
            }
        else:
            stored = self._input_file(p, key, "documents", "BQACAgQ")
            media = {"document": self._document_json(stored)}
        if caption:
            media["caption"] = caption
            if caption_entities:
                media["caption_entities"] = caption_entities
        msg = self._new_message(chat, self.bot_user, thread_id=thread_id, reply_to=reply, extra=media)
        if markup is not None and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        self._record_sent(
            method,
            p,
            chat,
            text=p.get_str("caption"),
            rendered=caption,
            entities=caption_entities,
            reply_markup=markup,
            thread_id=thread_id,
            message_id=msg["message_id"],
            stored=stored,
        )
        return copy.deepcopy(msg)

    def _m_send_photo(self, p: _Params) -> JSON:
        return self._send_media(p, "sendPhoto", "photo")

    def _m_send_document(self, p: _Params) -> JSON:
        return self._send_media(p, "sendDocument", "document")

    def _m_send_chat_action(self, p: _Params) -> bool:
        action = p.get_str("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        chat = self._chat_for_send(p)
        self._thread_id(chat, p)
        return True

    def _m_edit_message_text(self, p: _Params) -> JSON:
        rendered, entities = self._text_and_entities(p, "text", "entities")
        if not rendered:
            raise _bad("message text is empty")
        if len(rendered) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        chat, msg = self._editable(p)
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        markup = self._reply_markup(p)
        inline = markup if markup is not None and "inline_keyboard" in markup else None
        if (
            msg["text"] == rendered
            and msg.get("entities", []) == entities
            and msg.get("reply_markup") == inline
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        msg["text"] = rendered
        _set_or_pop(msg, "entities", entities)
        _set_or_pop(msg, "reply_markup", inline)
        msg["edit_date"] = int(time.time())
        self._record_sent(
            "editMessageText",
            p,
            chat,
            text=p.get_str("text"),
            rendered=rendered,
            entities=entities,
            reply_markup=inline,
            thread_id=msg.get("message_thread_id"),
            message_id=msg["message_id"],
        )
        return copy.deepcopy(msg)

    def _m_edit_message_caption(self, p: _Params) -> JSON:
        caption, entities = self._text_and_entities(p, "caption", "caption_entities")
        if caption is not None and len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        chat, msg = self._editable(p)
        if "text" in msg:
            raise _bad("there is no caption in the message to edit")
        markup = self._reply_markup(p)
        inline = markup if markup is not None and "inline_keyboard" in markup else None
        if (
            msg.get("caption") == (caption or None)
            and msg.get("caption_entities", []) == entities
            and msg.get("reply_markup") == inline
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        _set_or_pop(msg, "caption", caption)
        _set_or_pop(msg, "caption_entities", entities)
        _set_or_pop(msg, "reply_markup", inline)
        msg["edit_date"] = int(time.time())
        self._record_sent(
            "editMessageCaption",
            p,
            chat,
            text=p.get_str("caption"),
            rendered=caption,
            entities=entities,
            reply_markup=inline,
            thread_id=msg.get("message_thread_id"),
            message_id=msg["message_id"],
        )
        return copy.deepcopy(msg)

    def _m_edit_message_reply_markup(self, p: _Params) -> JSON:
        chat, msg = self._editable(p)
        markup = self._reply_markup(p)
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad("inline keyboard expected")
        if msg.get("reply_markup") == markup:
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        _set_or_pop(msg, "reply_markup", markup)
        msg["edit_date"] = int(time.time())
        self._record_sent(
            "editMessageReplyMarkup",
            p,
            chat,
            text=None,
            reply_markup=markup,
            thread_id=msg.get("message_thread_id"),
            message_id=msg["message_id"],
        )
        return copy.deepcopy(msg)

    def _m_delete_message(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        msg = chat.messages.get(message_id)
        if msg is None:
            raise _bad("message to delete not found")
        own = msg.get("from", {}).get("id") == self.bot_id
        if chat.type != "private" and not own and not self._bot_is_admin(chat, "can_delete_messages"):
            raise _bad("message can't be deleted")
        del chat.messages[message_id]
        self._record_sent(
            "deleteMessage", p, chat, text=None, thread_id=msg.get("message_thread_id"), message_id=message_id
        )
        return True

    def _m_answer_callback_query(self, p: _Params) -> bool:
        query_id = p.get_str("callback_query_id")
        if not query_id:
            raise _bad("QUERY_ID_INVALID")
        callback = self._callbacks.get(query_id)
        if (
            callback is None
            or callback.answered
            or time.monotonic() - callback.created > self.callback_query_ttl
        ):
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = p.get_str("text")
        if text is not None and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        callback.answered = True
        self.callback_answers[query_id] = {
            "text": text,
            "show_alert": p.get_bool("show_alert"),
            "url": p.get_str("url"),
            "cache_time": p.get_int("cache_time") or 0,
        }
        chat = self._chats.get(callback.chat_id) if callback.chat_id is not None else None
        self._record_sent(
            "answerCallbackQuery", p, chat, text=text, rendered=text, callback_query_id=query_id
        )
        return True

    def _normalise_scope(self, scope: Any) -> JSON:
        if scope is None:
            return {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _bad("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        result: JSON = {"type": kind}
        if kind in ("chat", "chat_administrators", "chat_member"):
            ref = scope.get("chat_id")
            chat = self._chat_by_username(ref) if isinstance(ref, str) and ref.startswith("@") else None
            if chat is None:
                try:
                    chat = self._chats.get(int(ref)) if ref is not None else None
                except (TypeError, ValueError):
                    chat = None
            if chat is None:
                raise _bad("chat not found")
            if kind != "chat" and chat.type == "private":
                raise _bad("can't use this scope in private chats")
            result["chat_id"] = chat.id
            if kind == "chat_member":
                user_id = scope.get("user_id")
                if user_id is None or int(user_id) not in self._users:
                    raise _bad("user not found")
                result["user_id"] = int(user_id)
        return result

    @staticmethod
    def _scope_key(scope: JSON) -> str:
        return json.dumps(scope, sort_keys=True)

    def _command_key(self, p: _Params) -> tuple[str, str]:
        scope = self._normalise_scope(p.get_json("scope", "can't parse BotCommandScope JSON object"))
        language = p.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("LANG_CODE_INVALID")
        return self._scope_key(scope), language

    def _m_set_my_commands(self, p: _Params) -> bool:
        commands = p.get_json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        cleaned: list[JSON] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._command_key(p)
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    def _m_get_my_commands(self, p: _Params) -> list[JSON]:
        return copy.deepcopy(self._commands.get(self._command_key(p), []))

    def _m_delete_my_commands(self, p: _Params) -> bool:
        self._commands.pop(self._command_key(p), None)
        return True

    def _m_get_chat(self, p: _Params) -> JSON:
        chat = self._resolve_chat(p)
        info = self._chat_json(chat)
        info.update(
            {
                "accent_color_id": abs(chat.id) % 7,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": True,
                    "limited_gifts": True,
                    "unique_gifts": True,
                    "premium_subscription": True,
                    "gifts_from_channels": True,
                },
            }
        )
        if chat.type == "private":
            user = self._users.get(chat.id, {})
            if user.get("username"):
                info["active_usernames"] = [user["username"]]
        else:
            if chat.description:
                info["description"] = chat.description
            if chat.type != "channel":
                info["permissions"] = {name: bool(chat.permissions.get(name, False)) for name in _PERMISSIONS}
            if chat.username:
                info["active_usernames"] = [chat.username]
            if chat.pinned and chat.pinned[-1] in chat.messages:
                info["pinned_message"] = copy.deepcopy(chat.messages[chat.pinned[-1]])
        return info

    def _m_get_chat_administrators(self, p: _Params) -> list[JSON]:
        chat = self._resolve_chat(p)
        if chat.type == "private":
            raise _bad("there are no administrators in the private chat")
        order = sorted(chat.members.items(), key=lambda item: item[1].status != "creator")
        return [
            self._member_json(chat, uid)
            for uid, member in order
            if member.status in ("creator", "administrator")
        ]

    def _m_get_chat_member(self, p: _Params) -> JSON:
        chat = self._resolve_chat(p)
        user_id = self._target_user(p)
        return self._member_json(chat, user_id)

    def _m_get_chat_member_count(self, p: _Params) -> int:
        chat = self._resolve_chat(p)
        if chat.type == "private":
            return 2
        return sum(
            1
            for member in chat.members.values()
            if member.status in ("creator", "administrator", "member")
            or (member.status == "restricted" and member.is_member)
        )

    def _join_request_chat(self, p: _Params) -> tuple[_Chat, int]:
        chat = self._resolve_chat(p)
        user_id = self._target_user(p)
        if not self._bot_is_admin(chat, "can_invite_users"):
            raise _bad("CHAT_ADMIN_REQUIRED")
        return chat, user_id

    def _m_approve_join_request(self, p: _Params) -> bool:
        chat, user_id = self._join_request_chat(p)
        member = chat.members.get(user_id)
        if member is not None and member.status in _ACTIVE_STATUSES:
            raise _bad("USER_ALREADY_PARTICIPANT")
        if user_id not in chat.join_requests:
            raise _bad("HIDE_REQUESTER_MISSING")
        self._dm_grants.pop(user_id, None)
        self._join(chat, self._users[user_id], self.bot_user, via_join_request=True)
        return True

    def _m_decline_join_request(self, p: _Params) -> bool:
        chat, user_id = self._join_request_chat(p)
        if chat.join_requests.pop(user_id, None) is None:
            raise _bad("HIDE_REQUESTER_MISSING")
        self._dm_grants.pop(user_id, None)
        return True

    def _m_get_file(self, p: _Params) -> JSON:
        file_id = p.get_str("file_id")
        if not file_id:
            raise _bad("file_id is empty")
        stored = self._files.get(file_id)
        if stored is None:
            raise _bad("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def _moderation_target(self, p: _Params, *, supergroup_only: bool) -> tuple[_Chat, int]:
        chat = self._resolve_chat(p)
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        if supergroup_only and chat.type != "supergroup":
            raise _bad("method is available only for supergroups")
        user_id = self._target_user(p)
        if not self._bot_is_admin(chat, "can_restrict_members"):
            raise _bad("not enough rights to restrict/unrestrict chat member")
        if user_id == self.bot_id:
            raise _bad("can't restrict self")
        member = chat.members.get(user_id)
        if member is not None and member.status == "creator":
            raise _bad("can't remove chat owner")
        if member is not None and member.status == "administrator":
            raise _bad("user is an administrator of the chat")
        return chat, user_id

    def _status_change(self, chat: _Chat, user_id: int, new: _Member) -> None:
        old = self._member_json(chat, user_id)
        chat.members[user_id] = new
        updated = self._member_json(chat, user_id)
        if old != updated and self._bot_is_admin(chat):
            self._enqueue("chat_member", self._chat_member_payload(chat, self.bot_user, old, updated))

    def _m_restrict_chat_member(self, p: _Params) -> bool:
        chat, user_id = self._moderation_target(p, supergroup_only=True)
        permissions = p.get_json("permissions", "can't parse ChatPermissions JSON object")
        if not isinstance(permissions, dict):
            raise _bad("can't parse ChatPermissions JSON object")
        perms = {name: bool(permissions.get(name, False)) for name in _PERMISSIONS}
        current = chat.members.get(user_id)
        is_member = current is not None and (
            current.status in ("member", "administrator", "creator")
            or (current.status == "restricted" and current.is_member)
        )
        until = p.get_int("until_date") or 0
        if all(perms.values()):
            new = _Member("member" if is_member else "left")
        else:
            new = _Member("restricted", permissions=perms, until_date=until, is_member=is_member)
        self._status_change(chat, user_id, new)
        return True

    def _m_ban_chat_member(self, p: _Params) -> bool:
        chat, user_id = self._moderation_target(p, supergroup_only=False)
        self._status_change(chat, user_id, _Member("kicked", until_date=p.get_int("until_date") or 0))
        return True

    def _m_unban_chat_member(self, p: _Params) -> bool:
        chat, user_id = self._moderation_target(p, supergroup_only=False)
        member = chat.members.get(user_id)
        status = member.status if member else "left"
        if status == "kicked" or (status in ("member", "restricted") and not p.get_bool("only_if_banned")):
            self._status_change(chat, user_id, _Member("left"))
        return True

    def _m_create_chat_invite_link(self, p: _Params) -> JSON:
        chat = self._resolve_chat(p)
        if chat.type == "private":
            raise _bad("chat not found")
        if not self._bot_is_admin(chat, "can_invite_users"):
            raise _bad("not enough rights to manage chat invite links")
        creates_join_request = p.get_bool("creates_join_request")
        member_limit = p.get_int("member_limit")
        if creates_join_request and member_limit:
            raise _bad("member limit can't be specified for links requiring administrator approval")
        if member_limit is not None and not 1 <= member_limit <= 99999:
            raise _bad("invalid member limit specified")
        name = p.get_str("name")
        if name is not None and len(name) > 32:
            raise _bad("invite link name is too long")
        self._invite_seq += 1
        link: JSON = {
            "invite_link": f"https://t.me/+Fk{self._invite_seq:04d}{secrets.token_urlsafe(9)}",
            "creator": self.bot_user,
            "creates_join_request": creates_join_request,
            "is_primary": False,
            "is_revoked": False,
        }
        if name:
            link["name"] = name
        expire = p.get_int("expire_date")
        if expire:
            link["expire_date"] = expire
        if member_limit:
            link["member_limit"] = member_limit
        chat.invite_links.append(link)
        return dict(link)

    def _m_leave_chat(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        old = self._member_json(chat, self.bot_id)
        chat.members[self.bot_id] = _Member("left")
        self._enqueue(
            "my_chat_member",
            self._chat_member_payload(chat, self.bot_user, old, self._member_json(chat, self.bot_id)),
        )
        return True

    def _m_set_chat_menu_button(self, p: _Params) -> bool:
        button = p.get_json("menu_button", "can't parse MenuButton JSON object")
        if button is None:
            button = {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise _bad("can't parse MenuButton JSON object")
        if button["type"] == "web_app" and not (
            button.get("text") and isinstance(button.get("web_app"), dict)
        ):
            raise _bad("can't parse MenuButton JSON object")
        if p.has("chat_id"):
            chat = self._resolve_chat(p)
            if chat.type != "private":
                raise _bad("chat_id must be a private chat")
            chat.menu_button = None if button["type"] == "default" else dict(button)
        else:
            self._default_menu_button = {"type": "commands"} if button["type"] == "default" else dict(button)
        return True

    def _m_get_chat_menu_button(self, p: _Params) -> JSON:
        if p.has("chat_id"):
            chat = self._resolve_chat(p)
            return self.menu_button(chat.id)
        return self.menu_button()

    def _m_pin_chat_message(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        message_id = p.get_int("message_id")
        if message_id is None or message_id not in chat.messages:
            raise _bad("message to pin not found")
        if chat.type != "private" and not self._bot_is_admin(chat, "can_pin_messages"):
            raise _bad("not enough rights to manage pinned messages in the chat")
        chat.pinned.append(message_id)
        return True

    def _m_unpin_chat_message(self, p: _Params) -> bool:
        chat = self._resolve_chat(p)
        if chat.type != "private" and not self._bot_is_admin(chat, "can_pin_messages"):
            raise _bad("not enough rights to manage pinned messages in the chat")
        message_id = p.get_int("message_id")
        if message_id is None:
            if chat.pinned:
                chat.pinned.pop()
        elif message_id in chat.pinned:
            chat.pinned.remove(message_id)
        else:
            raise _bad("message to unpin not found")
        return True

    def _bot_text_setter(self, kind: str, key: str, limit: int) -> MethodHandler:
        def handler(p: _Params) -> bool:
            value = p.get_str(key) or ""
            if len(value) > limit:
                raise _bad(f"bot {kind.replace('_', ' ')} is too long")
            self._bot_texts[(kind, p.get_str("language_code") or "")] = value
            return True

        return handler

    def _bot_text_getter(self, kind: str, key: str) -> MethodHandler:
        def handler(p: _Params) -> JSON:
            language = p.get_str("language_code") or ""
            value = self._bot_texts.get((kind, language), self._bot_texts.get((kind, ""), ""))
            if kind == "name" and not value:
                value = self.bot_name
            return {key: value}

        return handler


@dataclass
class _WithDescription:
    value: Any
    description: str


def _set_or_pop(msg: JSON, key: str, value: Any) -> None:
    if value:
        msg[key] = value
    else:
        msg.pop(key, None)


def _fault_method(method: str) -> str | None:
    return None if method in ("*", "") else method.lower()


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _update_type(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


def _guess_mime(filename: str | None) -> str | None:
    if not filename or "." not in filename:
        return None
    ext = filename.rsplit(".", 1)[1].lower()
    return {
        "csv": "text/csv",
        "txt": "text/plain",
        "pdf": "application/pdf",
        "json": "application/json",
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "gif": "image/gif",
        "zip": "application/zip",
        "jsonl": "application/jsonl",
    }.get(ext, "application/octet-stream")


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not text.strip():
        raise _bad("BUTTON_TEXT_INVALID")
    kinds = [
        k
        for k in (
            "callback_data",
            "url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "web_app",
            "login_url",
            "callback_game",
            "pay",
            "copy_text",
        )
        if k in button
    ]
    if not kinds:
        raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            raise _bad("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or (not url.lower().startswith("tg://") and check_url(url) is None):
            raise _bad("BUTTON_URL_INVALID")


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, _Upload]]:
    params: JSON = dict(request.query)
    files: dict[str, _Upload] = {}
    if not request.can_read_body:
        return params, files
    content_type = request.content_type
    if content_type == "application/json":
        body = await request.read()
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise _bad("can't parse JSON encoded request parameters") from None
            if not isinstance(data, dict):
                raise _bad("JSON object expected as request parameters")
            params.update(data)
    elif content_type.startswith("multipart/"):
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename is not None:
                data_bytes = await part.read(decode=False)
                files[part.name] = _Upload(
                    part.name, part.filename, bytes(data_bytes), part.headers.get("Content-Type")
                )
            else:
                params[part.name] = await part.text()
    else:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
    return params, files


def _abandoned(request: web.Request | None) -> bool:
    """Whether the client closed the connection of ``request`` (it gave up waiting)."""
    if request is None:
        return False
    transport = request.transport
    return transport is None or transport.is_closing()


def _json_response(status: int, body: JSON) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
    )


def _error_response(exc: ApiError) -> web.Response:
    body: JSON = {"ok": False, "error_code": exc.status, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return _json_response(exc.status, body)
