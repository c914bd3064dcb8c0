"""The words of the crisis capability: alerts for staff, and the member's warm, private reply.

Wording follows safe-messaging guidance: warm, non-judgmental, no method details, help-seeking.
Changes here need a facilitator's review (CONTRIBUTING.md "Safety review").
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.actions import Button
from bot.core.i18n import N_, Translator
from bot.crisis.model import Escalation
from bot.resources.model import Resource

EXCERPT_CHARS = 280

REASONS: dict[str, str] = {
    "none": N_("no specific reason"),
    "suicidal_ideation": N_("thoughts of suicide"),
    "passive_death_wish": N_("wishing to be dead"),
    "burden": N_("feeling like a burden"),
    "self_harm": N_("self-harm"),
    "plan_or_means": N_("a plan or the means at hand"),
    "preparatory_acts": N_("preparing (goodbyes, giving things away)"),
    "goodbye": N_("saying goodbye"),
    "attempt": N_("an attempt in progress or just made"),
    "overdose": N_("an overdose"),
    "child_missing": N_("a child missing"),
    "child_danger": N_("a child in danger"),
    "abuse": N_("abuse"),
    "violence": N_("violence"),
    "harm_to_others": N_("a threat to harm others"),
    "sextortion": N_("sextortion"),
    "grooming": N_("grooming"),
    "psychosis": N_("signs of psychosis"),
    "medical_emergency": N_("a medical emergency"),
    "warning_signs": N_("warning signs"),
    "distress": N_("distress"),
    "hopelessness": N_("hopelessness"),
    "isolation": N_("isolation"),
    "withdrawal": N_("withdrawal"),
    "substance_use": N_("substance use"),
    "intrusive_thoughts": N_("intrusive thoughts"),
    "aggression": N_("aggression"),
    "group_term": N_("a term this group watches for"),
    "sos": N_("asked for help with /sos"),
    "low_moods": N_("three hard check-ins in a row"),
}
ABOUT: dict[str, str] = {
    "self": N_("the writer"),
    "child": N_("their child"),
    "other": N_("someone else"),
    "none": N_("not clear"),
}


def excerpt_of(text: str) -> str:
    """At most 280 characters, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def format_lines(tr: Translator, lang: str, lines: Sequence[Resource]) -> str:
    """Crisis lines as short bullet lines that fit a phone screen."""
    out = []
    for line in lines:
        ways = []
        if line.phone:
            ways.append(tr.tr(lang, "call {number}", number=line.phone))
        if line.text_line:
            ways.append(line.text_line)
        if not ways and line.url:
            ways.append(line.url)
        hours = f" ({line.hours})" if line.hours else ""
        out.append(f"• {line.name}: {' · '.join(ways)}{hours}")
    return "\n".join(out)


def emergency_number(lines: Sequence[Resource]) -> str:
    """The emergency number among the lines (911, 999, 112), or a safe default."""
    return next((r.phone for r in lines if r.is_emergency and r.phone), "112")


def member_reply(
    tr: Translator, lang: str, *, name: str, severity: int, lines: Sequence[Resource], staff_told: bool
) -> str:
    """The private reply to a member whose message raised an escalation."""
    first = name or tr.tr(lang, "Friend")
    if severity >= 3:
        parts = [
            tr.tr(
                lang,
                "{name}, I'm so sorry things are this hard right now. You are not "
                "alone, and reaching out matters.",
                name=first,
            ),
            tr.tr(
                lang,
                "If you or your child are in danger right now, call {number} now.",
                number=emergency_number(lines),
            ),
        ]
    else:
        parts = [
            tr.tr(
                lang,
                "{name}, thank you for sharing this. It sounds really hard, and you "
                "don't have to carry it alone.",
                name=first,
            )
        ]
    parts.append(tr.tr(lang, "You can talk to someone at any hour:") + "\n" + format_lines(tr, lang, lines))
    if staff_told:
        parts.append(
            tr.tr(lang, "I've told your group's facilitators, and someone will reach out to you soon.")
        )
    else:
        parts.append(
            tr.tr(lang, "I can't reach a facilitator of your group right now, so please use the lines above.")
        )
    return "\n\n".join(parts)


def member_fallback(tr: Translator, lang: str, *, name: str, lines: Sequence[Resource]) -> str:
    """The brief group message when the member cannot be written to privately."""
    top = next((r for r in lines if not r.is_emergency), None)
    first = name or tr.tr(lang, "Friend")
    text = tr.tr(
        lang,
        "{name}, you're not alone. If you are in danger now, call {number}.",
        name=first,
        number=emergency_number(lines),
    )
    if top is not None:
        text += " " + tr.tr(
            lang, "You can also reach {line}.", line=format_lines(tr, lang, [top]).removeprefix("• ")
        )
    return text + " " + tr.tr(lang, "Please send me a private message so I can help more.")


def member_unanswered(tr: Translator, lang: str, *, name: str, lines: Sequence[Resource]) -> str:
    """The honest message when nobody has acknowledged the alert after every reminder."""
    first = name or tr.tr(lang, "Friend")
    return "\n\n".join(
        [
            tr.tr(
                lang,
                "{name}, I'm sorry: your group's facilitators haven't answered yet. I'm still "
                "trying to reach them.",
                name=first,
            ),
            tr.tr(lang, "Please don't wait for them if you need help now:")
            + "\n"
            + format_lines(tr, lang, lines),
        ]
    )


def alert_text(
    tr: Translator,
    lang: str,
    escalation: Escalation,
    *,
    group_title: str,
    reminder: int = 0,
    raised: bool = False,
) -> str:
    """The alert staff receive."""
    if escalation.severity >= 3:
        head = tr.tr(lang, "🚨 URGENT: possible immediate danger (severity 3)")
    else:
        head = tr.tr(lang, "⚠️ Crisis alert (severity 2)")
    lines = []
    if reminder:
        lines.append(tr.tr(lang, "Reminder {n} of 6: nobody has acknowledged this alert yet.", n=reminder))
    if raised:
        lines.append(tr.tr(lang, "Update: a new message raised this alert to severity 3."))
    lines += [
        head,
        tr.tr(lang, "Group: {group}", group=group_title or "—"),
        tr.tr(lang, "Member: {name}", name=escalation.subject_name or escalation.subject.id),
        tr.tr(lang, "At risk: {who}", who=tr.tr(lang, ABOUT.get(escalation.about, ABOUT["none"]))),
        tr.tr(lang, "Why: {reason}", reason=tr.tr(lang, REASONS.get(escalation.reason, REASONS["none"]))),
    ]
    if escalation.excerpt:
        lines.append(tr.tr(lang, "Message: “{excerpt}”", excerpt=escalation.excerpt))
    if escalation.message_link:
        lines.append(tr.tr(lang, "Link: {link}", link=escalation.message_link))
    if escalation.late:
        lines.append(tr.tr(lang, "Posted while I was offline: seen late."))
    lines.append(tr.tr(lang, "Alert #{id}. Press Acknowledge when you are on it.", id=escalation.id))
    return "\n".join(lines)


def alert_buttons(tr: Translator, lang: str, escalation_id: int) -> tuple[tuple[Button, ...], ...]:
    """Acknowledge / Resolve / False alarm."""
    return (
        (
            Button(label=tr.tr(lang, "Acknowledge"), payload=f"crisis:ack:{escalation_id}"),
            Button(label=tr.tr(lang, "Resolve"), payload=f"crisis:resolve:{escalation_id}"),
            Button(label=tr.tr(lang, "False alarm"), payload=f"crisis:false:{escalation_id}"),
        ),
    )
