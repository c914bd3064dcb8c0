"""/mydata and /forgetme (SPEC.md "Privacy").

Guarantees:
    * `/mydata` sends the member, privately, everything kept about them, as JSON.
    * `/forgetme` erases nothing until the member presses the confirm button, which only they can
      use and only for half an hour; then every table is erased or anonymised in one transaction.
    * What remains is counts with no identity: rows kept for accountability (escalations, audit
      entries) or statistics (check-ins) carry a random placeholder, never the person's id or name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from bot.core.actions import Action, Button, SendDirect
from bot.core.commands import CommandSpec
from bot.core.context import ButtonContext, CommandContext
from bot.core.i18n import N_
from bot.core.identity import UserRef
from bot.core.roles import Role
from bot.privacy.ports import PrivacyStore

log = logging.getLogger(__name__)

StoreFactory = Callable[[], AbstractAsyncContextManager[PrivacyStore]]

CONFIRM_MINUTES = 30


def _fingerprint(user: UserRef) -> str:
    """A short, non-reversible tag so a confirm button works only for the person who asked."""
    return hashlib.sha256(user.key.encode()).hexdigest()[:12]


def _minute(now: datetime) -> int:
    return int(now.timestamp() // 60)


class PrivacyService:
    """Sends members their data and erases it on request."""

    def __init__(self, *, store: StoreFactory) -> None:
        self._store = store

    def commands(self) -> list[CommandSpec]:
        """The commands this capability owns."""
        return [
            CommandSpec(name="mydata", role=Role.MEMBER, usage=N_("/mydata"),
                        summary=N_("everything I keep about you, sent privately"),
                        handler=self.mydata),
            CommandSpec(name="forgetme", role=Role.MEMBER, usage=N_("/forgetme"),
                        summary=N_("erase everything I keep about you"), handler=self.forgetme),
        ]

    async def mydata(self, ctx: CommandContext) -> Sequence[Action]:
        """Send the member everything kept about them, privately."""
        user = ctx.meta.sender
        async with self._store() as store:
            data = await store.personal_data.export(user)
        document = json.dumps({"person": user.key, "exported_at": ctx.now.isoformat(),
                               "data": data}, ensure_ascii=False, indent=1, default=str)
        text = ctx.t("Everything I keep about you, as JSON:") + "\n" + document
        if not ctx.in_group:
            return [ctx.reply(text)]
        return [
            ctx.private(ctx.t("I'm sending you your data in our private chat."),
                        interaction=ctx.event.interaction),
            SendDirect(to=user, text=text, fallback=ctx.meta.chat, fallback_text=ctx.t(
                "{name}, I can't write to you privately yet: open a private chat with me and "
                "send /mydata there.", name=ctx.meta.sender_name)),
        ]

    async def forgetme(self, ctx: CommandContext) -> Sequence[Action]:
        """Ask for confirmation with a button only the caller can use."""
        payload = f"priv:forget:{_fingerprint(ctx.meta.sender)}:{_minute(ctx.now)}"
        return [ctx.private(
            ctx.t("This erases everything I keep about you, in every group: your settings, "
                  "agreements and check-ins, and your name in alerts and summaries (those stay "
                  "only as anonymous counts). It cannot be undone. You can use Kindred again "
                  "later; you would be asked to agree again."),
            ((Button(label=ctx.t("Yes, erase everything"), payload=payload),
              Button(label=ctx.t("Cancel"), payload="priv:cancel")),),
            interaction=ctx.event.interaction)]

    async def on_button(self, ctx: ButtonContext) -> Sequence[Action]:
        """The confirm and cancel buttons of /forgetme."""
        parts = ctx.parts
        if parts == ("cancel",):
            return [ctx.toast(ctx.t("Cancelled. Nothing was erased."))]
        if len(parts) != 3 or parts[0] != "forget" or not parts[2].isdigit():
            return [ctx.toast(ctx.t("That button is no longer active."))]
        if parts[1] != _fingerprint(ctx.meta.sender):
            return [ctx.toast(ctx.t("This button is for the person who asked to be forgotten. "
                                    "Send /forgetme yourself if you want that too."))]
        if _minute(ctx.now) - int(parts[2]) > CONFIRM_MINUTES:
            return [ctx.toast(ctx.t("That confirmation has expired. Send /forgetme again."))]
        placeholder = f"erased:{secrets.token_hex(6)}"
        async with self._store() as store:
            counts = await store.personal_data.erase(ctx.meta.sender, placeholder)
            # Accountability without identity: that an erasure happened, and how much.
            await store.audit.record(at=ctx.now, actor=None, action="person.erased",
                                     subject="person:erased",
                                     detail=f"rows={sum(counts.values())}")
            await store.commit()
        log.info("person erased", extra={"rows": sum(counts.values())})
        return [ctx.toast(ctx.t("Done. I have erased everything I kept about you. Take good care "
                                "of yourself."))]
