"""Resource model validation, category names and the shipped directory data."""

from datetime import date

import pytest

from bot.resources import CATEGORIES, AgeRange, Resource, category_names, load_shipped_resources


def make(**overrides: object) -> Resource:
    fields: dict[str, object] = {
        "id": "x",
        "name": "Example",
        "categories": ("food",),
        "country": "US",
        "url": "https://example.org/",
    }
    fields.update(overrides)
    return Resource(**fields)  # type: ignore[arg-type]


def test_valid_entry_builds() -> None:
    entry = make(phone="1-800-555-0100", languages=("en", "es"), ages_served=AgeRange(0, 17))
    assert entry.visible_to(None)
    assert entry.visible_to("any-group")
    assert not entry.is_crisis_line


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"categories": ("snacks",)}, "unknown categories"),
        ({"categories": ()}, "no category"),
        ({"categories": ("food", "food")}, "repeated"),
        ({"country": "USA"}, "ISO 3166"),
        ({"country": None}, "country is required"),
        ({"service_area": "city", "region": "Texas"}, "needs a city"),
        ({"service_area": "region"}, "needs a region"),
        ({"url": "example.org"}, "http"),
        ({"url": None}, "at least one of"),
        ({"phone": "call us!"}, "phone"),
        ({"phone": "12"}, "between 3 and 15 digits"),
        ({"email": "nobody"}, "e-mail"),
        ({"languages": ("english",)}, "ISO 639-1"),
        ({"ages_served": AgeRange(10, 5)}, "above maximum_age"),
        ({"cost": "cheap"}, "cost must be one of"),
        ({"is_emergency": True}, "crisis category"),
        ({"name": " "}, "name is empty"),
    ],
)
def test_invalid_entries_are_refused_with_a_reason(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        make(**overrides)


def test_group_local_entry_is_visible_only_to_its_group() -> None:
    entry = make(group_id="g1")
    assert entry.visible_to("g1")
    assert not entry.visible_to("g2")
    assert not entry.visible_to(None)


def test_age_range_bounds() -> None:
    assert AgeRange(0, 5).contains(5)
    assert not AgeRange(0, 5).contains(6)
    assert AgeRange(None, 17).contains(0)
    assert AgeRange(6, None).contains(40)
    assert not AgeRange(6, None).contains(5)


def test_every_category_has_english_and_spanish_names() -> None:
    names = category_names()
    assert list(names) == list(CATEGORIES)
    for code, name in names.items():
        assert name.key == f"resources.category.{code}"
        assert name.display("en") and name.display("es")
        assert name.display("fr") == name.display("en")
    assert names["food"].display("es") == "Alimentación"


def test_shipped_directory_is_valid_and_verified() -> None:
    shipped = load_shipped_resources()
    ids = [r.id for r in shipped]
    assert len(ids) == len(set(ids))
    for entry in shipped:
        assert entry.assured_date == date(2026, 11, 25), entry.id
        assert entry.verification, entry.id
        assert entry.group_id is None
        assert entry.phone or entry.text_line or entry.url


@pytest.mark.parametrize(
    ("country", "emergency", "lines"),
    [
        ("US", "911", {"988", "1-800-662-4357", "1-800-950-6264", "1-800-422-4453", "1-800-799-7233", "211"}),
        ("GB", "999", {"111", "116 123", "0808 800 5000"}),
        ("ES", "112", {"024", "717 003 717", "900 20 20 10"}),
        ("MX", "911", {"800 911 2000"}),
    ],
)
def test_shipped_lines_per_country(country: str, emergency: str, lines: set[str]) -> None:
    shipped = [r for r in load_shipped_resources() if r.country == country]
    emergencies = [r for r in shipped if r.is_emergency]
    assert [r.phone for r in emergencies] == [emergency]
    assert lines <= {r.phone for r in shipped}
    texts = {r.text_line for r in shipped if r.text_line}
    if country == "US":
        assert "Text HOME to 741741" in texts
    if country == "GB":
        assert "Text SHOUT to 85258" in texts
