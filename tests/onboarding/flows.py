"""Console helpers shared by the onboarding, check-in and privacy scenarios."""

from __future__ import annotations

import re
from datetime import datetime

from tests.harness import ConsoleBot

BUTTON = re.compile(r"\[(b\d+) ([^\]]+)\]")


def button(out: str, label: str) -> str:
    """The id of the last button labelled `label` (or starting with it) in `out`."""
    found = [bid for bid, text in BUTTON.findall(out) if text == label or text.startswith(label)]
    assert found, f"no button {label!r} in:\n{out}"
    return found[-1]


async def join_and_agree(bot: ConsoleBot, name: str, *, agree: str | None = None,
                         zone: str | None = None, language: str = "English",
                         private_at: str | None = None) -> str:
    """`name` joins, presses Agree and answers the three questions; returns the Agree button id.

    Joins within a minute share one welcome, so the caller passes the Agree button it already has.
    """
    out = await bot.say(f".join {name}")
    agree = button(out, "I agree") if "I agree" in out else agree
    assert agree is not None, out
    out = await bot.say(f".press {name} {agree}")
    assert "What time zone are you in?" in out, out
    zone_button = button(out, zone) if zone else BUTTON.findall(out.split("time zone")[-1])[0][0]
    out = await bot.say(f".press {name} {zone_button}")
    out = await bot.say(f".press {name} {button(out, language)}")
    yes, no = (bid for bid, _ in BUTTON.findall(out)[-2:])  # "Yes, privately", "No, thanks"
    if private_at is None:
        out = await bot.say(f".press {name} {no}")
    else:
        out = await bot.say(f".press {name} {yes}", f"{name} -> bot: {private_at}")
    assert "✨" in out, out
    return agree


async def sweep(bot: ConsoleBot, at: datetime | None = None) -> str:
    """Run the check-in sweep (at `at`, if given) and return what was sent."""
    if at is not None:
        bot.clock.current = at
    await bot.app.checkins.prompt_sweep()
    await bot.app.settle()
    return bot.new_output()
