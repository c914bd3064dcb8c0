"""Splitting and escaping text, Telegram's flood limits, and the command menus."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.telegram.limits import FloodLimits
from adapters.telegram.menus import build_menus
from adapters.telegram.render import escape, split_text, telegram_length, truncate
from bot.core.commands import CommandInfo
from bot.core.roles import Role


# -- render --------------------------------------------------------------------------------------
def test_escape_leaves_nothing_telegram_would_parse() -> None:
    assert escape("<b>bold</b> & \"quotes\"") == "&lt;b&gt;bold&lt;/b&gt; &amp; \"quotes\""


def test_split_prefers_line_boundaries() -> None:
    lines = [f"{n:04d} " + "y" * 45 for n in range(100)]
    text = "\n".join(lines)
    parts = split_text(text)
    assert len(parts) == 2 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    assert parts[1].startswith(lines[len(parts[0].split("\n"))])


def test_split_a_single_long_line_at_spaces_then_anywhere() -> None:
    words = "word " * 2000
    parts = split_text(words.strip())
    assert all(len(p) <= 4096 for p in parts)
    assert " ".join(parts) == words.strip()
    solid = "z" * 9000
    assert split_text(solid) == ["z" * 4096, "z" * 4096, "z" * 808]


def test_emoji_count_twice() -> None:
    text = "😀" * 3000  # 6000 UTF-16 units
    parts = split_text(text)
    assert [telegram_length(p) for p in parts] == [4096, 1904]
    assert truncate("😀" * 200, 200) == "😀" * 99 + "…"
    assert truncate("short", 200) == "short"


@given(st.text(alphabet=st.sampled_from("ab \n😀é"), max_size=600),
       st.integers(min_value=2, max_value=80))
def test_split_never_exceeds_the_limit_and_keeps_every_character(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert parts and all(telegram_length(p) <= limit for p in parts)
    kept = "".join(parts).replace(" ", "").replace("\n", "")
    assert kept == text.replace(" ", "").replace("\n", "")


# -- limits --------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_twenty_a_minute_in_a_group_in_a_sliding_window() -> None:
    clock = Clock()
    limits = FloodLimits(clock=clock)
    for _ in range(20):
        assert limits.reserve(-100, private=False) == 0
        limits.done()
        clock.now += 0.04  # the overall pace (28 a second), not the group's limit
    wait = limits.reserve(-100, private=False)
    assert 58 < wait <= 60
    assert limits.reserve(-200, private=False) == 0  # other groups are not held up
    clock.now += 30
    assert 28 < limits.reserve(-100, private=False) <= 30  # a refilling bucket would allow 10
    clock.now += 30.01
    assert limits.reserve(-100, private=False) == 0


def test_about_one_a_second_in_a_private_chat_with_a_short_burst() -> None:
    clock = Clock()
    limits = FloodLimits(clock=clock)
    assert [limits.reserve(7, private=True, urgent=True) for _ in range(3)] == [0, 0, 0]
    assert limits.reserve(7, private=True, urgent=True) == 1.0
    clock.now += 1.0
    assert limits.reserve(7, private=True) == 0


def test_thirty_a_second_overall_paced_and_alerts_first() -> None:
    clock = Clock()
    limits = FloodLimits(clock=clock)
    bulk = [limits.reserve(-1000 - n, private=False) for n in range(3)]
    assert bulk[0] == 0 and all(0 < wait <= 1 / 30 for wait in bulk[1:])  # evenly paced
    sent = 1
    limits.done()
    for step in range(1, 80):  # a second more, asking every 12.5 ms, each answered at once
        clock.now += 0.0125
        if limits.reserve(-1100 - step, private=False) == 0:
            sent += 1
            limits.done()
    assert 29 <= sent <= 30  # 30 a second at most: the window never allows more
    assert limits.reserve(-2000, private=False, urgent=True) > 0  # the second is full
    clock.now += 0.0125
    assert limits.reserve(-1200, private=False) > 0  # a waiting alert has the next slot
    clock.now += 1.0
    assert limits.reserve(-2000, private=False, urgent=True) == 0  # never paced
    assert limits.reserve(-2001, private=False, urgent=True) == 0
    assert limits.reserve(-1200, private=False) == 0  # the alerts are through: the wave goes on


def test_a_call_holds_its_place_until_a_second_after_its_answer() -> None:
    clock = Clock()
    limits = FloodLimits(clock=clock)
    for n in range(30):
        assert limits.reserve(-1000 - n, private=False, urgent=True) == 0
    clock.now += 5.0  # answers are slow: Telegram may count all 30 in one late second
    assert 0 < limits.reserve(-2000, private=False, urgent=True) < 0.1  # waits for answers
    limits.done(30)
    assert 0.9 < limits.reserve(-2000, private=False, urgent=True) <= 1.0
    clock.now += 1.0
    assert limits.reserve(-2000, private=False, urgent=True) == 0


def test_a_429_holds_the_chat_and_many_parts_still_fit() -> None:
    clock = Clock()
    limits = FloodLimits(clock=clock)
    limits.penalise(-100, 5)
    assert limits.reserve(-100, private=False) == 5
    assert limits.reserve(-101, private=False) == 0
    clock.now += 5
    assert limits.reserve(-100, private=False, count=50) == 0  # clamped, never waits forever


# -- menus ---------------------------------------------------------------------------------------
def info(name: str, role: Role, where: str = "any", en: str = "", es: str = "") -> CommandInfo:
    return CommandInfo(name=name, role=role, where=where,  # type: ignore[arg-type]
                       summaries={"en": en, "es": es}, usages={"en": f"/{name}", "es": f"/{name}"})


def test_menus_per_scope_and_language() -> None:
    catalogue = (
        info("help", Role.MEMBER, en="what I can do", es="lo que puedo hacer"),
        info("rules", Role.MEMBER, "group", en="the rules", es="las normas"),
        info("mydata", Role.MEMBER, "direct", en="your data", es="tus datos"),
        info("setup", Role.FACILITATOR, en="set up", es="configurar"),
        info("alerts", Role.MODERATOR, en="alerts", es=""),
        info("Bad-Name", Role.MEMBER, en="never listed"),
    )
    menus = build_menus(catalogue, "es")
    table = {(m.scope.type, m.language_code): m.commands for m in menus}
    assert set(table) == {(scope, code) for scope in (
        "all_group_chats", "all_private_chats", "all_chat_administrators") for code in ("", "en")}
    assert [c.command for c in table["all_group_chats", ""]] == ["help", "rules"]
    assert [c.command for c in table["all_private_chats", ""]] == ["help", "mydata"]
    assert [c.command for c in table["all_chat_administrators", "en"]] == [
        "help", "rules", "setup", "alerts"]
    assert table["all_group_chats", ""][1].description == "las normas"
    assert table["all_group_chats", "en"][1].description == "the rules"
    alerts = table["all_chat_administrators", ""][3]
    assert alerts.description == "alerts"  # no Spanish summary: the other language, not nothing
