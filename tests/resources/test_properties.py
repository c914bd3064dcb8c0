"""Property tests: no query text or CSV text makes search or import raise."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.resources import ResourceIndex, load_shipped_resources, read_resources_csv

INDEX = ResourceIndex(load_shipped_resources())
WORDS = st.sampled_from(
    [
        "food",
        "bank",
        "Austin",
        "TX",
        "no",
        "quiero",
        "vivir",
        "not",
        "suicidal",
        "madrid",
        "IN",
        "US",
        "ciudad",
        "de",
        "méxico",
        "crisis",
        "🙂",
        "'",
        "-",
        "ÆØÅ",
        "ß",
        "0808",
        "911",
        "",
        " ",
    ]
)
QUERIES = st.one_of(st.text(max_size=400), st.lists(WORDS, max_size=30).map(" ".join))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    query=QUERIES,
    country=st.sampled_from([None, "US", "GB", "ES", "MX", "FR"]),
    group=st.sampled_from([None, "g1"]),
    language=st.sampled_from(["en", "es", "fr", ""]),
    limit=st.integers(min_value=-1, max_value=10),
    offset=st.integers(min_value=-5, max_value=50),
)
def test_any_query_text_is_answered(
    query: str, country: str | None, group: str | None, language: str, limit: int, offset: int
) -> None:
    result = INDEX.search(
        query, country=country, group_id=group, language=language, limit=limit, offset=offset
    )
    assert len(result.entries) <= max(0, limit)
    assert result.total >= len(result.entries)
    assert len({e.id for e in result.entries}) == len(result.entries)
    if result.is_crisis and offset <= 0:
        flags = [e.is_crisis_line for e in result.entries]
        assert flags == sorted(flags, reverse=True)  # crisis lines before anything else
        emergency = [e.is_emergency for e in result.entries]
        assert emergency == sorted(emergency, reverse=True)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_any_csv_text_is_read_without_raising(text: str) -> None:
    report = read_resources_csv(text)
    assert all(line >= 1 for line, _ in report.errors)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.text(max_size=30), max_size=25), max_size=20))
def test_any_rows_under_a_real_header_are_read_without_raising(rows: list[list[str]]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "name",
            "categories",
            "country",
            "phone",
            "url",
            "languages",
            "assured_date",
            "minimum_age",
            "maximum_age",
            "cost",
            "is_emergency",
            "service_area",
        ]
    )
    writer.writerows(rows)
    report = read_resources_csv(out.getvalue())
    assert len(report.resources) + len(report.errors) <= len(rows) + 1
