"""crisis_lines: the single source of crisis lines for the crisis capability."""

import pytest

from bot.resources import Resource, crisis_lines, load_shipped_resources


def lines(country: str, language: str, imminent: bool, extra: tuple[Resource, ...] = ()) -> list[str]:
    found = crisis_lines(
        [*load_shipped_resources(), *extra], country=country, language=language, imminent=imminent
    )
    return [r.id for r in found]


@pytest.mark.parametrize(
    ("country", "language", "first_three"),
    [
        ("US", "en", ["us-911", "us-988", "us-crisis-text-line"]),
        ("US", "es", ["us-911", "us-988", "us-childhelp"]),
        ("GB", "en", ["gb-999", "gb-samaritans", "gb-shout"]),
        ("ES", "es", ["es-112", "es-024", "es-telefono-esperanza"]),
        ("MX", "es", ["mx-911", "mx-linea-de-la-vida", "mx-saptel"]),
    ],
)
def test_imminent_danger_puts_the_emergency_number_first(
    country: str, language: str, first_three: list[str]
) -> None:
    assert lines(country, language, imminent=True)[:3] == first_three


def test_only_crisis_lines_of_the_country() -> None:
    found = crisis_lines(load_shipped_resources(), country="GB", language="en", imminent=True)
    assert found and all(r.country == "GB" and r.is_crisis_line for r in found)


def test_without_imminent_danger_the_emergency_number_comes_last() -> None:
    found = lines("US", "en", imminent=False)
    assert found[0] == "us-988"
    assert found[-1] == "us-911"


def test_lines_in_the_members_language_come_before_others() -> None:
    found = crisis_lines(load_shipped_resources(), country="US", language="es", imminent=False)
    spoken = [("es" in r.languages) for r in found if not r.is_emergency]
    assert spoken == sorted(spoken, reverse=True)


def test_group_local_crisis_line_follows_the_national_ones() -> None:
    team = Resource(
        id="team",
        name="Mobile Crisis Team",
        categories=("crisis",),
        service_area="city",
        country="US",
        region="Texas",
        city="Austin",
        phone="512-555-0100",
        languages=("en",),
        group_id="g1",
    )
    found = lines("US", "en", imminent=True, extra=(team,))
    assert "team" in found
    assert found.index("team") > found.index("us-988")


def test_country_without_lines_falls_back_to_international_directory() -> None:
    assert lines("FR", "fr", imminent=True) == ["intl-find-a-helpline"]
    assert "intl-find-a-helpline" not in lines("US", "en", imminent=True)


def test_limit() -> None:
    found = crisis_lines(load_shipped_resources(), country="ES", language="es", imminent=True, limit=2)
    assert [r.id for r in found] == ["es-112", "es-024"]
