"""The words and buttons of check-ins."""

from __future__ import annotations

from bot.core.actions import Button
from bot.core.i18n import N_, Translator

Buttons = tuple[tuple[Button, ...], ...]

FACES = {1: "😣", 2: "😕", 3: "😐", 4: "🙂", 5: "😊"}
MOODS = {1: N_("very hard"), 2: N_("hard"), 3: N_("so-so"), 4: N_("okay"), 5: N_("good")}


def scale(tr: Translator, lang: str) -> str:
    """"1 😣 very hard · … · 5 😊 good"."""
    return " · ".join(f"{n} {FACES[n]} {tr.tr(lang, MOODS[n])}" for n in range(1, 6))


def mood_buttons(tr: Translator, lang: str, prefix: str) -> Buttons:
    """Five mood buttons and Skip; payloads are `prefix` + ":" + the mood (0 for Skip)."""
    return (tuple(Button(label=f"{n} {FACES[n]}", payload=f"{prefix}:{n}") for n in range(1, 6)),
            (Button(label=tr.tr(lang, "Skip"), payload=f"{prefix}:0"),))


def group_prompt(tr: Translator, lang: str, count: int) -> str:
    """The group's prompt, with how many have checked in (never who or how)."""
    counted = tr.tr(lang, "No one has checked in yet.") if count == 0 else tr.trn(
        lang, "{n} person has checked in.", "{n} people have checked in.", count)
    return "\n".join([
        tr.tr(lang, "🌤 Daily check-in: how are you today?"),
        scale(tr, lang),
        tr.tr(lang, "Your answer is private: the group only sees how many checked in."),
        counted,
    ])


def private_prompt(tr: Translator, lang: str) -> str:
    """The private prompt."""
    return "\n".join([
        tr.tr(lang, "🌤 Your daily check-in: how are you today?"),
        scale(tr, lang),
        tr.tr(lang, "Only the number is kept. /pause stops these for a while."),
    ])


def acknowledgement(tr: Translator, lang: str, mood: int | None) -> str:
    """The private thanks for an answer."""
    if mood is None:
        return tr.tr(lang, "No problem, skipped for today.")
    said = tr.tr(lang, "Thank you for checking in: {n} ({mood}).", n=mood,
                 mood=tr.tr(lang, MOODS[mood]))
    if mood <= 2:
        return said + " " + tr.tr(lang, "I'm sorry today is hard. You are not alone: if you need "
                                        "someone now, /sos tells a facilitator at once.")
    return said
