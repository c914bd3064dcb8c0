"""Search: place detection and filtering, group visibility, crisis-first ordering, paging."""

import pytest

from bot.resources import DetectedPlace, Resource, ResourceIndex, load_shipped_resources


def local(
    id: str,
    name: str,
    categories: tuple[str, ...],
    country: str,
    region: str,
    city: str | None = None,
    **extra: object,
) -> Resource:
    fields: dict[str, object] = {
        "id": id,
        "name": name,
        "description": extra.pop("description", ""),
        "categories": categories,
        "service_area": "city" if city else "region",
        "country": country,
        "region": region,
        "city": city,
        "url": f"https://example.org/{id}",
    }
    fields.update(extra)
    return Resource(**fields)  # type: ignore[arg-type]


LOCAL = (
    local("austin-pantry", "Eastside Food Pantry", ("food",), "US", "TX", "Austin", languages=("en",)),
    local("chicago-pantry", "Lakeview Food Pantry", ("food",), "US", "Illinois", "Chicago"),
    local("texas-food", "Texas Food Network", ("food",), "US", "Texas"),
    local(
        "madrid-respiro",
        "Respiro Familiar Madrid",
        ("respite_childcare",),
        "ES",
        "Comunidad de Madrid",
        "Madrid",
        languages=("es",),
    ),
    local("leon-es-food", "Banco de Alimentos de León", ("food",), "ES", "Castilla y León", "León"),
    local("leon-mx-food", "Banco de Alimentos León", ("food",), "MX", "Guanajuato", "León"),
    local("nm-food", "Roadrunner Food Bank", ("food",), "US", "New Mexico", "Albuquerque"),
    local(
        "group-therapist",
        "Dr. Ana Ruiz, child therapist",
        ("mental_health",),
        "US",
        "Texas",
        "Austin",
        group_id="g-austin",
    ),
    local(
        "other-group-therapist",
        "Dr. Bo Chen, child therapist",
        ("mental_health",),
        "US",
        "Texas",
        "Austin",
        group_id="g-other",
    ),
    local(
        "austin-crisis-team",
        "Travis County Mobile Crisis Team",
        ("crisis", "mental_health"),
        "US",
        "Texas",
        "Austin",
        group_id="g-austin",
        hours="24/7",
    ),
)


@pytest.fixture(scope="module")
def index() -> ResourceIndex:
    return ResourceIndex([*load_shipped_resources(), *LOCAL])


def ids(index: ResourceIndex, query: str, **kwargs: object) -> list[str]:
    options: dict[str, object] = {"country": "US", "group_id": None, "limit": 50}
    options.update(kwargs)
    return [e.id for e in index.search(query, **options).entries]  # type: ignore[arg-type]


def test_city_in_query_filters_to_that_city_its_region_and_the_country(index: ResourceIndex) -> None:
    result = index.search("food bank austin", country="US", group_id=None, limit=50)
    assert result.place == DetectedPlace("city", "US", region="Texas", city="Austin")
    found = [e.id for e in result.entries]
    assert found[0] == "austin-pantry"
    assert "texas-food" in found  # the region's services serve the city
    assert "us-feeding-america" in found  # and the national ones
    assert "chicago-pantry" not in found
    assert found.index("texas-food") < found.index("us-wic")  # region before national, words equal


def test_region_code_in_capitals_is_a_place_but_not_in_lower_case(index: ResourceIndex) -> None:
    result = index.search("food bank TX", country="US", group_id=None, limit=50)
    assert result.place == DetectedPlace("region", "US", region="Texas")
    assert {"austin-pantry", "texas-food"} <= {e.id for e in result.entries}
    assert "chicago-pantry" not in {e.id for e in result.entries}
    assert index.search("help us", country="US", group_id=None).place is None
    assert index.search("food IN chicago", country="US", group_id=None).place == DetectedPlace(
        "city", "US", region="Illinois", city="Chicago"
    )
    assert index.search("FOOD BANK IN CHICAGO", country="US", group_id=None).place == DetectedPlace(
        "city", "US", region="Illinois", city="Chicago"
    )


def test_place_in_another_country_overrides_the_groups_country(index: ResourceIndex) -> None:
    result = index.search("respiro madrid", country="US", group_id=None)
    assert result.place is not None and result.place.country == "ES"
    assert result.entries[0].id == "madrid-respiro"
    assert all(e.country in ("ES", None) for e in result.entries)


def test_typo_in_a_place_name(index: ResourceIndex) -> None:
    result = index.search("respiro madird", country="ES", group_id=None)
    assert result.place == DetectedPlace("city", "ES", region="Comunidad de Madrid", city="Madrid")


def test_same_city_name_in_two_countries_follows_the_group_or_the_query(index: ResourceIndex) -> None:
    assert ids(index, "banco de alimentos leon", country="MX")[0] == "leon-mx-food"
    assert ids(index, "banco de alimentos leon", country="ES")[0] == "leon-es-food"
    assert ids(index, "banco de alimentos leon mexico", country="ES")[0] == "leon-mx-food"


def test_longest_place_name_wins(index: ResourceIndex) -> None:
    result = index.search("new mexico food", country="MX", group_id=None)
    assert result.place == DetectedPlace("region", "US", region="New Mexico")
    assert result.entries[0].id == "nm-food"
    assert index.search("comida ciudad de méxico", country="US", group_id=None).place == DetectedPlace(
        "city", "MX", region="Ciudad de México", city="Ciudad de México"
    )


def test_group_local_entries_are_seen_only_by_their_group(index: ResourceIndex) -> None:
    mine = ids(index, "therapist", group_id="g-austin")
    assert mine[0] == "group-therapist"
    assert "other-group-therapist" not in mine
    assert "group-therapist" not in ids(index, "therapist", group_id="g-other")
    nobody = ids(index, "therapist", group_id=None)
    assert "group-therapist" not in nobody and "other-group-therapist" not in nobody


def test_crisis_query_puts_emergency_number_then_crisis_lines_first(index: ResourceIndex) -> None:
    for query in ("suicide", "sucidal", "my son wants to die", "emergency", "crisis"):
        result = index.search(query, country="US", group_id=None, limit=50)
        assert result.is_crisis, query
        entries = list(result.entries)
        assert entries[0].id == "us-911", query
        crisis_flags = [e.is_crisis_line for e in entries]
        assert crisis_flags == sorted(crisis_flags, reverse=True), query  # crisis lines, then the rest
    assert ids(index, "suicide")[:2] == ["us-911", "us-988"]
    assert ids(index, "no quiero vivir", country="ES")[:2] == ["es-112", "es-024"]
    assert ids(index, "child abuse")[:2] == ["us-911", "us-childhelp"]


def test_group_crisis_team_comes_with_the_national_lines(index: ResourceIndex) -> None:
    found = ids(index, "my son wants to die", group_id="g-austin")
    assert found[0] == "us-911"
    assert "austin-crisis-team" in found[:4]
    assert "austin-crisis-team" not in ids(index, "my son wants to die", group_id="g-other")


def test_ordinary_queries_never_show_the_emergency_number(index: ResourceIndex) -> None:
    for query in ("food bank", "babysitter", "lawyer", "IEP meeting", "emergency room"):
        result = index.search(query, country="US", group_id=None, limit=100)
        assert not any(e.is_emergency for e in result.entries), query


def test_language_preference_orders_equivalent_entries() -> None:
    twins = [
        local(f"line-{lang}", "Parent Helpline", ("parenting_support",), "US", "Texas", languages=(lang,))
        for lang in ("en", "es")
    ]
    for order in (twins, twins[::-1]):
        twin_index = ResourceIndex(order)
        assert ids(twin_index, "parenting", language="es")[0] == "line-es"
        assert ids(twin_index, "parenting", language="en")[0] == "line-en"
    # A Spanish query from an English-speaking member also leans to Spanish entries.
    assert ids(ResourceIndex(twins), "crianza", language="en") == ["line-en", "line-es"]
    assert ids(ResourceIndex(twins[::-1]), "crianza", language="fr") == ["line-es", "line-en"]


def test_spanish_speakers_get_spanish_crisis_lines_before_english_only_ones(index: ResourceIndex) -> None:
    found = ids(index, "mi hijo quiere morir", language="es")
    assert found[:2] == ["us-911", "us-988"]


def test_paging_is_consistent(index: ResourceIndex) -> None:
    whole = index.search("food", country=None, group_id=None, limit=100)
    assert whole.total == len(whole.entries)
    pages = [
        index.search("food", country=None, group_id=None, limit=3, offset=start).entries
        for start in range(0, whole.total, 3)
    ]
    assert [e for page in pages for e in page] == list(whole.entries)
    assert index.search("food", country=None, group_id=None, offset=whole.total).entries == ()


def test_category_filter_and_empty_queries(index: ResourceIndex) -> None:
    result = index.search("", country="US", group_id=None, category="food", limit=100)
    assert result.entries and all("food" in e.categories for e in result.entries)
    assert result.categories == ("food",)
    with pytest.raises(ValueError, match="unknown category"):
        index.search("", country="US", group_id=None, category="snacks")
    assert index.search("", country="US", group_id=None).total == 0
    assert index.search("help please", country="US", group_id=None).total == 0
    madrid = index.search("madrid", country="US", group_id=None, limit=100)
    assert madrid.total > 0 and all(e.country in ("ES", None) for e in madrid.entries)


def test_unknown_words_find_nothing(index: ResourceIndex) -> None:
    assert index.search("xqzzy blorp", country="US", group_id=None).total == 0


def test_entry_names_are_found_with_typos(index: ResourceIndex) -> None:
    assert ids(index, "samaritns", country="GB")[0] == "gb-samaritans"
    assert ids(index, "childline", country="GB")[0] == "gb-childline"
    assert ids(index, "lawhelp")[0] == "us-lawhelp"  # LawHelp.org: joined words are split


def test_category_counts(index: ResourceIndex) -> None:
    counts = index.category_counts(country="US", group_id="g-austin")
    assert counts["food"] >= 5
    assert counts["mental_health"] > index.category_counts(country="US", group_id=None)["mental_health"]
