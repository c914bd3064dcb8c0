"""Typed answers to entry fields, and the cards members see."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.i18n import Translator
from bot.resources import AgeRange, Resource, ResourceIndex, load_shipped_resources
from bot.resources.cards import card, one_line
from bot.resources.fields import FieldProblem, field_spec, parse_field

INDEX = ResourceIndex(load_shipped_resources())
TODAY = date(2026, 3, 2)


def parse(name: str, text: str, country: str = "US") -> dict[str, object]:
    return parse_field(name, text, index=INDEX, country=country, today=TODAY)


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("categories", "8", {"categories": ("food",)}),
    ("categories", "comida y vivienda", {"categories": ("food", "housing")}),
    ("categories", "Respite and childcare, 4", {"categories": ("respite_childcare", "disability")}),
    ("url", "example.org/help", {"url": "https://example.org/help"}),
    ("languages", "English y español", {"languages": ("en", "es")}),
    ("languages", "es, en", {"languages": ("es", "en")}),
    ("cost", "según ingresos", {"cost": "sliding_scale"}),
    ("cost", "Medicaid", {"cost": "medicaid"}),
    ("ages", "3-17", {"ages_served": AgeRange(3, 17)}),
    ("ages", "5+", {"ages_served": AgeRange(5, None)}),
    ("verified", "hoy", {"assured_date": TODAY}),
    ("verified", "2026-01-15", {"assured_date": date(2026, 1, 15)}),
    ("where", "online", {"service_area": "online", "country": "US", "region": None, "city": None}),
    ("where", "Texas", {"service_area": "region", "country": "US", "region": "Texas", "city": None}),
    ("where", "Round Rock, Texas",
     {"service_area": "city", "country": "US", "region": "Texas", "city": "Round Rock"}),
])
def test_typed_answers_become_entry_values(name: str, text: str, expected: dict[str, object]) -> None:
    assert parse(name, text) == expected


@pytest.mark.parametrize(("name", "text"), [
    ("categories", "bananas"), ("phone", "call us"), ("url", "not a site"), ("email", "dana@"),
    ("languages", "Klingon"), ("cost", "cheap-ish"), ("ages", "old"), ("verified", "2030-01-01"),
    ("where", "Atlantis"), ("name", "x" * 201),
])
def test_values_that_do_not_fit_are_refused_with_a_reason(name: str, text: str) -> None:
    with pytest.raises(FieldProblem) as problem:
        parse(name, text)
    assert Translator().has("es", problem.value.msgid)


def test_field_names_in_english_and_spanish() -> None:
    assert field_spec("telefono") == field_spec("phone") == field_spec("Teléfono")
    assert field_spec("website") == field_spec("url")
    assert field_spec("colour") is None


def test_a_card_is_at_most_five_short_lines() -> None:
    tr = Translator()
    for resource in load_shipped_resources():
        for lang in ("en", "es"):
            lines = card(tr, lang, resource, 1).splitlines()
            assert 1 <= len(lines) <= 5
            assert all(len(line) <= 125 for line in lines), lines
    everything = Resource(id="x", name="Respite Night", description="One. Two.", categories=("food",),
                          country="US", service_area="city", region="Texas", city="Austin",
                          phone="512-555-0100", text_line="Text HI to 55555",
                          url="https://example.org", hours="Mon-Fri", languages=("en", "zz"),
                          ages_served=AgeRange(3, None), cost="sliding_scale",
                          assured_date=TODAY, group_id="g")
    assert card(tr, "es", everything, 2).splitlines() == [
        "2. Respite Night — Austin (tu grupo)",
        "   One.",
        "   📞 512-555-0100 · 💬 Text HI to 55555",
        "   🌐 https://example.org",
        "   Mon-Fri · inglés, ZZ · edades 3+ · según ingresos · verificado 2026-03-02",
    ]


def test_one_line_keeps_the_first_sentence_and_cuts_at_a_word() -> None:
    assert one_line("Short. Then more.") == "Short."
    cut = one_line("word " * 60)
    assert cut.endswith("…") and len(cut) <= 110 and not cut.endswith(" …")


def test_a_huge_number_as_a_category_is_a_problem_not_a_crash() -> None:
    """Found by the hostile-input benchmark: 5,000 zeros passed isdigit() and broke int()."""
    from bot.resources.fields import parse_categories

    for text in ("0" * 5000, "99999999999999999999"):
        with pytest.raises(FieldProblem):
            parse_categories(text)
