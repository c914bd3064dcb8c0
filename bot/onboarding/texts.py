"""The words of onboarding: the group's welcome, the privacy notice and the private questions."""

from __future__ import annotations

from datetime import datetime

from bot.core.actions import Button
from bot.core.i18n import LANGUAGE_NAMES, N_, SUPPORTED_LANGUAGES, Translator
from bot.core.models import Group, Person
from bot.onboarding.model import LANGUAGE, PRIVATE_CHECKINS, PRIVATE_TIME, TIMEZONE
from bot.onboarding.zones import city_of

Buttons = tuple[tuple[Button, ...], ...]

TIME_CHOICES = ("08:00", "12:00", "18:00", "20:00", "21:30")
PAUSED_FOREVER_YEAR = 9000  # `/pause` with no number pauses until /resume (stored as year 9999)

PRIVACY_NOTICE = N_(
    "What I keep about you, in plain words:\n"
    "• that you agreed to your group's rules and this notice, and when;\n"
    "• your settings: time zone, language, whether you want private check-ins and at what time, "
    "and a pause if you set one;\n"
    "• your check-in answers: a number from 1 to 5 (or a skip) per day, encrypted when the "
    "operator has set a key. Notes you add to /checkin are never kept;\n"
    "• if a message of yours raised a crisis alert: when, why, and a short excerpt (at most 280 "
    "characters), deleted 30 days after the alert is closed;\n"
    "• quiet concerns for your facilitators' daily summary (a reason, never your words), such as "
    "three hard check-ins in a row;\n"
    "• that I can write to you privately.\n"
    "I never keep the text of your messages otherwise. Your group sees how many people checked "
    "in, never who or how.\n"
    "/mydata sends you everything I keep about you; /forgetme erases it.")


def group_name(tr: Translator, lang: str, group: Group) -> str:
    """The group's title, or a plain name when it has none."""
    return group.title or tr.tr(lang, "your group")


def rules_block(tr: Translator, lang: str, group: Group) -> str:
    """The group's own text and rules, or kind defaults."""
    welcome = group.welcome or tr.tr(
        lang, "This is a peer support group for parents. Read along, and share when you are "
              "ready.")
    rules = group.rules or tr.tr(
        lang, "Be kind, keep what others share private, and look after yourself.")
    return f"{welcome}\n\n{tr.tr(lang, 'The rules of this group:')}\n{rules}"


def agree_buttons(tr: Translator, lang: str, group_id: int, *, in_group: bool = False) -> Buttons:
    """The Agree button of a welcome.

    In a group, platforms with deep links open the private chat instead, where agreeing records
    consent (SPEC "Onboarding"); elsewhere the press itself agrees.
    """
    return ((Button(label=tr.tr(lang, "I agree"), payload=f"onb:agree:{group_id}",
                    private_start=f"onb-{group_id}" if in_group else None),),)


def group_welcome(tr: Translator, group: Group) -> str:
    """The one short welcome a group gets for everyone who joined within a minute."""
    lang = group.language
    return "\n".join([
        tr.tr(lang, "👋 Welcome to {group}!", group=group_name(tr, lang, group)),
        rules_block(tr, lang, group),
        "",
        tr.tr(lang, "New here? Please press “I agree” to accept the rules and how I handle your "
                    "data (/privacy). Then I'll ask you three quick questions privately."),
    ])


def held_welcome(tr: Translator, lang: str, group: Group) -> str:
    """The private message to someone who asked to join a group that holds new members."""
    return "\n".join([
        tr.tr(lang, "👋 You asked to join {group}.", group=group_name(tr, lang, group)),
        rules_block(tr, lang, group),
        "",
        tr.tr(lang, "Please press “I agree” to accept the rules and how I handle your data "
                    "(/privacy); then I'll let you in."),
    ])


def question(tr: Translator, lang: str, step: str, *, zones: list[str],
             intro: str = "") -> tuple[str, Buttons]:
    """The text and buttons that ask one onboarding question."""
    if step == TIMEZONE:
        rows: list[tuple[Button, ...]] = []
        zone_buttons = [Button(label=city_of(z), payload=f"onb:tz:{z}") for z in zones]
        for start in range(0, len(zone_buttons), 3):
            rows.append(tuple(zone_buttons[start:start + 3]))
        rows.append((Button(label=tr.tr(lang, "Another city…"), payload="onb:city"),))
        text = tr.tr(lang, "What time zone are you in? Pick a city below, or type the name of "
                           "your city or country.")
        return (intro + text, tuple(rows))
    if step == LANGUAGE:
        buttons = tuple(Button(label=LANGUAGE_NAMES[code], payload=f"onb:lang:{code}")
                        for code in SUPPORTED_LANGUAGES)
        return (intro + tr.tr(lang, "Which language should I use with you?"), (buttons,))
    if step == PRIVATE_CHECKINS:
        return (intro + tr.tr(lang, "Would you like a check-in here, in our private chat, each "
                                    "day at a time you choose? Your group also has its own "
                                    "check-in."),
                ((Button(label=tr.tr(lang, "Yes, privately"), payload="onb:ci:yes"),
                  Button(label=tr.tr(lang, "No, thanks"), payload="onb:ci:no")),))
    assert step == PRIVATE_TIME
    return (intro + tr.tr(lang, "At what time? Pick one, or type a time such as 20:30."),
            (tuple(Button(label=t, payload=f"onb:at:{t.replace(':', '')}")
                   for t in TIME_CHOICES),))


def settings_summary(tr: Translator, lang: str, person: Person, default_zone: str,
                     now: datetime) -> str:
    """A person's own settings, one per line."""
    if person.private_checkins and person.private_checkin_time is not None:
        checkins = tr.tr(lang, "at {time}", time=person.private_checkin_time.strftime("%H:%M"))
    else:
        checkins = tr.tr(lang, "off")
    lines = [
        tr.tr(lang, "• time zone: {zone}", zone=person.timezone or default_zone),
        tr.tr(lang, "• language: {language}",
              language=LANGUAGE_NAMES.get(person.language or lang, lang)),
        tr.tr(lang, "• private check-ins: {checkins}", checkins=checkins),
    ]
    paused = person.paused_until if person.paused_until and person.paused_until > now else None
    if paused is not None and paused.year >= PAUSED_FOREVER_YEAR:
        lines.append(tr.tr(lang, "• check-ins paused until you send /resume"))
    elif paused is not None:
        lines.append(tr.tr(lang, "• check-ins paused until {date}",
                           date=paused.date().isoformat()))
    return "\n".join(lines)


def settings_buttons(tr: Translator, lang: str) -> Buttons:
    """The buttons of /settings."""
    return ((Button(label=tr.tr(lang, "Time zone"), payload="onb:set:tz"),
             Button(label=tr.tr(lang, "Language"), payload="onb:set:lang"),
             Button(label=tr.tr(lang, "Private check-ins"), payload="onb:set:ci")),)
