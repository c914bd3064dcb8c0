"""How directory entries look in a chat: short cards that fit a phone screen, and their labels."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from bot.core.i18n import N_, Translator
from bot.resources.model import CATEGORIES, Resource, category_names

DESCRIPTION_CHARS: Final = 110
_SENTENCE_END: Final = re.compile(r"(?<=[.!?])\s")

LANGUAGE_LABELS: Final[dict[str, str]] = {
    "en": N_("English"),
    "es": N_("Spanish"),
    "fr": N_("French"),
    "ca": N_("Catalan"),
    "eu": N_("Basque"),
    "gl": N_("Galician"),
    "cy": N_("Welsh"),
    "pt": N_("Portuguese"),
    "zh": N_("Chinese"),
    "vi": N_("Vietnamese"),
    "ar": N_("Arabic"),
    "ru": N_("Russian"),
    "pl": N_("Polish"),
    "ht": N_("Haitian Creole"),
    "ko": N_("Korean"),
    "tl": N_("Tagalog"),
    "de": N_("German"),
    "it": N_("Italian"),
    "uk": N_("Ukrainian"),
    "ro": N_("Romanian"),
}
"""Names of the languages entries are most often offered in; other codes show as the code."""

COST_LABELS: Final[dict[str, str]] = {
    "free": N_("free"),
    "low_cost": N_("low cost"),
    "sliding_scale": N_("sliding scale"),
    "medicaid": N_("Medicaid"),
    "insurance": N_("insurance"),
    "fee": N_("fee"),
}


def category_label(code: str, lang: str) -> str:
    """The display name of a category in `lang` (from the shipped category names)."""
    return category_names()[code].display(lang)


def category_index(code: str) -> int:
    """The position of a category code in CATEGORIES (compact button payloads)."""
    return CATEGORIES.index(code)


def languages_label(tr: Translator, lang: str, codes: Sequence[str]) -> str:
    """"English, Spanish" for ("en", "es"), in `lang`."""
    return ", ".join(tr.tr(lang, LANGUAGE_LABELS[c]) if c in LANGUAGE_LABELS else c.upper()
                     for c in codes)


def one_line(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    """The first sentence of `text`, on one line, cut at a word to at most `limit` characters."""
    flat = " ".join(text.split())
    first = _SENTENCE_END.split(flat, maxsplit=1)[0]
    return _cut(first, limit)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def where_label(resource: Resource) -> str:
    """Where a local entry serves ("Austin", "Comunidad de Madrid"); "" for national or online."""
    if resource.service_area == "city" and resource.city:
        return resource.city
    if resource.service_area == "region" and resource.region:
        return resource.region
    return ""


def card(tr: Translator, lang: str, resource: Resource, number: int | None = None) -> str:
    """One entry in at most five short lines: name, what it is, how to reach it, when and how much.

    Args:
        tr: Translator.
        lang: Reader's language.
        resource: The entry.
        number: Position in the list ("2."), or None for no number.
    """
    head = f"{number}. " if number is not None else ""
    title = resource.name
    place = where_label(resource)
    if place:
        title += f" — {place}"
    if resource.group_id is not None:
        title += " " + tr.tr(lang, "(your group)")
    lines = [head + title]
    pad = " " * len(head)
    if resource.description:
        lines.append(pad + one_line(resource.description))
    reach = []
    if resource.phone:
        reach.append("📞 " + resource.phone)
    if resource.text_line:
        reach.append("💬 " + resource.text_line)
    if reach:
        lines.append(pad + " · ".join(reach))
    if resource.url:
        lines.append(pad + "🌐 " + resource.url)
    elif resource.email:
        lines.append(pad + "✉️ " + resource.email)
    facts = []
    if resource.hours:
        facts.append(_cut(" ".join(resource.hours.split()), 50))
    if resource.languages:
        facts.append(languages_label(tr, lang, resource.languages))
    if resource.ages_served is not None:
        low, high = resource.ages_served
        if high is None:
            facts.append(tr.tr(lang, "ages {low}+", low=low or 0))
        else:
            facts.append(tr.tr(lang, "ages {low}–{high}", low=low or 0, high=high))
    if resource.cost:
        facts.append(tr.tr(lang, COST_LABELS.get(resource.cost, resource.cost)))
    if resource.assured_date is not None:
        facts.append(tr.tr(lang, "verified {date}", date=resource.assured_date.isoformat()))
    if facts:
        lines.append(pad + " · ".join(facts))
    return "\n".join(lines)


def list_line(tr: Translator, lang: str, number: int, resource: Resource) -> str:
    """One line for a facilitator's list: "#12 Name · Food · Austin · verified 2026-03-02"."""
    parts = [f"#{number} {resource.name}", category_label(resource.categories[0], lang)]
    place = where_label(resource)
    if place:
        parts.append(place)
    if resource.assured_date is not None:
        parts.append(tr.tr(lang, "verified {date}", date=resource.assured_date.isoformat()))
    return " · ".join(parts)
