"""Actions to and from plain JSON-able dicts, so the outbox can store them before sending."""

from __future__ import annotations

import base64
import json
from dataclasses import fields
from typing import Any

from bot.core.actions import (
    Action,
    ApproveJoin,
    Button,
    EditMessage,
    FormField,
    Image,
    Priority,
    SendDirect,
    SendMessage,
    SendPrivateReply,
    ShowForm,
)
from bot.core.identity import ChatRef, MessageRef, UserRef

_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    SendMessage, SendDirect, SendPrivateReply, EditMessage, ShowForm, ApproveJoin)}


def _encode(value: Any) -> Any:
    if isinstance(value, UserRef):
        return {"$user": [value.platform, value.id]}
    if isinstance(value, ChatRef):
        return {"$chat": [value.platform, value.id, value.kind, value.thread]}
    if isinstance(value, MessageRef):
        return {"$message": [_encode(value.chat), value.id, value.link]}
    if isinstance(value, Button):
        return {"$button": [value.label, value.payload, value.private_start]}
    if isinstance(value, Image):
        return {"$image": [value.filename, base64.b64encode(value.content).decode()]}
    if isinstance(value, FormField):
        return {"$field": [value.name, value.label, value.long, value.value]}
    if isinstance(value, Priority):
        return int(value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "$user" in value:
        return UserRef(*value["$user"])
    if "$chat" in value:
        platform, ident, kind, thread = value["$chat"]
        return ChatRef(platform, ident, kind, thread)
    if "$message" in value:
        chat, ident, link = value["$message"]
        return MessageRef(_decode(chat), ident, link)
    if "$button" in value:
        label, payload, *rest = value["$button"]
        return Button(label=label, payload=payload, private_start=rest[0] if rest else None)
    if "$image" in value:
        name, data = value["$image"]
        return Image(filename=name, content=base64.b64decode(data))
    if "$field" in value:
        name, label, long, default = value["$field"]
        return FormField(name=name, label=label, long=long, value=default)
    raise ValueError("unknown encoded value")


def action_to_json(action: Action) -> str:
    """Encode an action (its text included: callers seal it before storing)."""
    body = {f.name: _encode(getattr(action, f.name)) for f in fields(action)}
    return json.dumps({"type": type(action).__name__, "fields": body}, ensure_ascii=False)


def action_from_json(data: str) -> Action:
    """Decode an action encoded by action_to_json."""
    raw = json.loads(data)
    cls = _TYPES[raw["type"]]
    values = {name: _decode(value) for name, value in raw["fields"].items()}
    if "priority" in values:
        values["priority"] = Priority(values["priority"])
    action: Action = cls(**values)
    return action
