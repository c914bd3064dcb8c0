"""Every action survives the outbox's encoding unchanged."""

from __future__ import annotations

from bot.core.actions import (
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
from bot.core.serialize import action_from_json, action_to_json

CHAT = ChatRef("telegram", "-100", "group", "7")
USER = UserRef("telegram", "42")


def test_round_trip_of_every_action_type() -> None:
    actions = [
        SendMessage(to=CHAT, text="hé <b>", buttons=((Button(label="OK", payload="a:1"),),),
                    reply_to=MessageRef(CHAT, "5", "https://t.me/c/1/5"),
                    image=Image(filename="c.png", content=b"\x89PNG"), priority=Priority.ALERT),
        SendDirect(to=USER, text="x", fallback=CHAT, fallback_text="y",
                   priority=Priority.SAFETY_REPLY),
        SendPrivateReply(to=USER, chat=CHAT, text="t", interaction="cb1"),
        EditMessage(message=MessageRef(CHAT, "9"), text="e"),
        ShowForm(to=USER, chat=CHAT, form="f", title="T",
                 fields=(FormField(name="a", label="A", long=True),)),
        ApproveJoin(group="telegram:-100", user=USER),
    ]
    for action in actions:
        assert action_from_json(action_to_json(action)) == action
