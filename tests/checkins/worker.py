"""One bot process for the two-process test: a real Application on a shared database.

Run as `python -m tests.checkins.worker DATABASE_URL ISO-TIME`. It starts, prints "ready",
waits for "go" on stdin so two processes sweep at the same moment, runs the check-in sweep a
few times, delivers what it claimed, and prints the group chats it posted a prompt to as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from bot.bootstrap import build_application
from bot.core.actions import Action, Delivered, SendMessage
from bot.core.identity import MessageRef, UserRef
from bot.core.ports import Capabilities, Inbox, VisibilityReport
from bot.settings import Settings

ROUNDS = 5


class RecordingPlatform:
    """A platform called "fake" that records the prompts it was asked to post."""

    name = "fake"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def start(self, inbox: Inbox) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def perform(self, action: Action) -> Delivered:
        if isinstance(action, SendMessage):
            self.prompts.append(action.to.id)
            return Delivered(message=MessageRef(action.to, str(len(self.prompts))))
        return Delivered()

    async def group_admins(self, group: str) -> list[UserRef]:
        return []

    async def check_visibility(self, group: str | None) -> VisibilityReport:
        return VisibilityReport(can_read_all_messages=True)

    def reserve(self, action: Action) -> float:
        return 0.0


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def main(url: str, at: datetime) -> None:
    platform = RecordingPlatform()
    app = build_application(Settings.from_env({"DATABASE_URL": url}), clock=FixedClock(at),
                            platforms={"fake": platform})
    await app.start()
    app.scheduler.stop()  # the test decides when sweeps run
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for _ in range(ROUNDS):
        await app.checkins.prompt_sweep()
    await app.settle()
    await app.stop()
    print(json.dumps(sorted(platform.prompts)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], datetime.fromisoformat(sys.argv[2])))
