"""Everyday words, typos and Spanish mapped to categories; words that must not be."""

import pytest

from bot.resources import ResourceIndex, Vocabulary, load_shipped_resources, load_vocabulary


@pytest.fixture(scope="module")
def index() -> ResourceIndex:
    return ResourceIndex(load_shipped_resources())


@pytest.mark.parametrize(
    ("query", "category"),
    [
        ("rent help", "housing"),
        ("food bank", "food"),
        ("babysitter", "respite_childcare"),
        ("IEP meeting", "education"),
        ("respiro", "respite_childcare"),
        ("comida", "food"),
        ("therapist", "mental_health"),
        ("wheelchair", "disability"),
        ("lawyer", "legal"),
        ("bus pass", "transport"),
        ("meltdown help", "mental_health"),
        ("sucidal", "crisis"),
        ("theripist", "mental_health"),
        ("babysiter", "respite_childcare"),
        ("wheelchiar", "disability"),
        ("comdia", "food"),
        ("lawer", "legal"),
        ("necesito un abogado", "legal"),
        ("guardería para mi hijo", "respite_childcare"),
        ("ayuda para pagar la renta", "housing"),
        ("terapia ocupacional", "disability"),
        ("banco de alimentos", "food"),
        ("EHCP", "education"),
        ("food stamps", "food"),
        ("disabled parking", "transport"),
        ("Self-harm", "crisis"),
        ("no quiero vivir", "crisis"),
        ("my son wants to die", "crisis"),
        ("kms", "crisis"),
        ("custody", "legal"),
        ("apoyo psicológico", "mental_health"),
    ],
)
def test_everyday_words_and_typos_map_to_categories(index: ResourceIndex, query: str, category: str) -> None:
    result = index.search(query, country="US", group_id=None)
    assert category in result.categories


@pytest.mark.parametrize(
    "query",
    [
        "my sister",  # one letter from "sitter"
        "counting the days",  # two letters from "cutting"
        "standing frame",  # two letters from "stalking"
        "anger",  # one letter from "danger"
        "feeling tired",
        "pasar la tarde",  # one letter from "pagar"
        "camino al cole",
        "breaking news",
    ],
)
def test_real_words_are_not_taken_for_typos(index: ResourceIndex, query: str) -> None:
    result = index.search(query, country="US", group_id=None)
    assert not result.is_crisis
    assert "respite_childcare" not in result.categories
    assert "money" not in result.categories


@pytest.mark.parametrize(
    ("query", "crisis"),
    [
        ("I'm not suicidal, just need respite", False),
        ("he is not in danger", False),
        ("im not going to kill myself but I need a therapist", False),
        ("my son is not eating and wants to die", True),
        ("no quiero vivir", True),
        ("mi hija no quiere vivir", True),
        ("no está en peligro", False),
    ],
)
def test_negated_crisis_terms(index: ResourceIndex, query: str, crisis: bool) -> None:
    assert index.search(query, country="US", group_id=None).is_crisis is crisis


def test_crisis_de_ansiedad_is_anxiety_not_a_crisis_line(index: ResourceIndex) -> None:
    result = index.search("crisis de ansiedad", country="ES", group_id=None)
    assert not result.is_crisis
    assert "mental_health" in result.categories


def test_emergency_housing_is_housing_not_a_crisis(index: ResourceIndex) -> None:
    result = index.search("emergency housing", country="US", group_id=None)
    assert not result.is_crisis
    assert result.categories == ("housing",)


def test_query_language_is_detected(index: ResourceIndex) -> None:
    assert index.search("no quiero vivir", country="US", group_id=None, language="en").language == "es"
    assert index.search("food bank", country="ES", group_id=None, language="es").language == "en"
    assert index.search("911", country="US", group_id=None, language="es").language == "es"


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Food Pantries", ("food",)),
        ("Rent Payment Assistance", ("housing",)),
        ("mental_health", ("mental_health",)),
        ("Mental Health", ("mental_health",)),
        ("Respite Care", ("respite_childcare",)),
        ("Holiday Gifts", ()),
    ],
)
def test_taxonomy_terms_map_to_categories(term: str, expected: tuple[str, ...]) -> None:
    assert set(expected) <= set(load_vocabulary().categories_of(term))
    if not expected:
        assert load_vocabulary().categories_of(term) == ()


def test_vocabulary_file_mistakes_fail_loudly() -> None:
    with pytest.raises(ValueError, match="not language codes"):
        Vocabulary.from_toml('[topics.food]\ncategories = ["food"]\nen = ["food"]\nnot_typos = ["x"]\n')
    with pytest.raises(ValueError, match="CATEGORIES"):
        Vocabulary.from_toml('[topics.snacks]\ncategories = ["snacks"]\nen = ["crisps"]\n')
    with pytest.raises(ValueError, match="unknown sections"):
        Vocabulary.from_toml('[topic.food]\ncategories = ["food"]\n')
