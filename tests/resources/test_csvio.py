"""CSV import (validation, line numbers, 211-style exports) and export round trip."""

from datetime import date

from bot.resources import (
    COLUMNS,
    AgeRange,
    Resource,
    load_shipped_resources,
    read_resources_csv,
    write_resources_csv,
)

HEADER = ",".join(COLUMNS)


def row(**values: str) -> str:
    base = {
        "id": "",
        "name": "Example Service",
        "categories": "food",
        "country": "US",
        "url": "https://example.org/",
    }
    base.update(values)
    cells = []
    for column in COLUMNS:
        cell = base.get(column, "")
        cells.append(f'"{cell}"' if ("," in cell or "\n" in cell or '"' in cell) else cell)
    return ",".join(cells)


def test_shipped_directory_round_trips() -> None:
    shipped = load_shipped_resources()
    again = read_resources_csv(write_resources_csv(shipped))
    assert again.errors == ()
    assert again.resources == shipped


def test_every_field_round_trips() -> None:
    full = Resource(
        id="full-1",
        name='Family "Hub", Austin',
        description="Line one\nline two, with a comma",
        categories=("respite_childcare", "disability"),
        service_area="city",
        country="US",
        region="Texas",
        city="Austin",
        phone="+1 (512) 555-0100 ext 12",
        text_line="Text HUB to 55555",
        url="https://example.org/hub?x=1",
        email="hello@example.org",
        hours="Mon-Fri 9-5",
        languages=("en", "es", "vi"),
        ages_served=AgeRange(3, None),
        cost="sliding_scale",
        payment_notes="Medicaid waiver accepted",
        assured_date=date(2026, 1, 31),
        group_id="g-austin",
        is_emergency=False,
        verification="Phoned them",
    )
    minimal = Resource(
        id="min-1",
        name="Online Guide",
        categories=("education",),
        service_area="online",
        url="https://example.org/guide",
    )
    report = read_resources_csv(write_resources_csv([full, minimal]))
    assert report.errors == ()
    assert report.resources == (full, minimal)


def test_bad_rows_are_reported_by_line_and_good_rows_imported() -> None:
    lines = [
        HEADER,  # 1
        row(id="good-1", name="Good One"),  # 2
        row(id="bad-phone", phone="call now"),  # 3
        row(id="bad-url", url="ftp://example.org"),  # 4
        row(id="bad-category", categories="snacks"),  # 5
        row(id="bad-date", assured_date="31/12/2025"),  # 6
        row(id="bad-ages", minimum_age="12", maximum_age="5"),  # 7
        row(id="no-name", name=""),  # 8
        "",  # 9: blank lines are skipped
        row(id="good-2", name="Good Two", description="two\nlines"),  # 10-11
        row(id="good-1", name="Duplicate"),  # 12
        row(id="bad-emergency", is_emergency="maybe"),  # 13
        row(id="bad-country", country="Atlantis"),  # 14
        row(id="good-3", name="Good Three"),  # 15
    ]
    report = read_resources_csv("\n".join(lines) + "\n")
    assert [r.id for r in report.resources] == ["good-1", "good-2", "good-3"]
    errors = dict(report.errors)
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 12, 13, 14]
    assert "phone" in errors[3]
    assert "http" in errors[4]
    assert "snacks" in errors[5]
    assert "2026-11-25" in errors[6]  # tells the expected format
    assert "minimum_age" in errors[7]
    assert "name" in errors[8]
    assert "duplicate id" in errors[12]
    assert "is_emergency" in errors[13]
    assert "Atlantis" in errors[14]
    assert not report.ok


def test_a_row_with_several_problems_lists_them_all_and_imports_nothing() -> None:
    report = read_resources_csv(
        HEADER + "\n" + row(id="x", phone="??", url="nope", languages="klingon") + "\n"
    )
    assert report.resources == ()
    [(line, message)] = report.errors
    assert line == 2
    assert "phone" in message and "url" in message and "klingon" in message


def test_future_verification_date_is_refused_when_today_is_given() -> None:
    text = HEADER + "\n" + row(id="x", assured_date="2030-01-01") + "\n"
    assert read_resources_csv(text).ok
    report = read_resources_csv(text, today=date(2026, 11, 25))
    assert "future" in report.errors[0][1]


def test_211_style_export_with_other_column_names_and_extra_columns() -> None:
    text = (
        "Service Name;Service Description;Taxonomy Terms;Phone Number;Website;State/Province;City;"
        "Languages;Last Verified;Fees;Eligibility;Agency Internal Code\n"
        "Eastside Pantry;Weekly groceries;Food Pantries | Holiday Gifts;(512) 555-0101;eastside.example.org;"
        "TX;Austin;English, Spanish;2025-03-01T00:00:00Z;None;Residents;A-17\n"
        "Rent Relief;One-time rent help;Rent Payment Assistance;512-555-0102 | 512-555-0103;"
        "https://rent.example.org;Texas;;English;2025-02-01;Free;All;A-18\n"
        "Mystery;?;Holiday Gifts;512-555-0104;https://m.example.org;Texas;Austin;English;;;;A-19\n"
    )
    report = read_resources_csv(text, default_country="US")
    assert set(report.ignored_columns) == {"Eligibility", "Agency Internal Code"}
    pantry, rent = report.resources
    assert pantry.categories == ("food",)
    assert pantry.service_area == "city" and pantry.city == "Austin" and pantry.region == "TX"
    assert pantry.url == "https://eastside.example.org"
    assert pantry.languages == ("en", "es")
    assert pantry.assured_date == date(2025, 3, 1)
    assert pantry.country == "US"
    assert pantry.id.startswith("eastside-pantry-")
    assert rent.categories == ("housing",)
    assert rent.service_area == "region"
    assert rent.phone == "512-555-0102"
    assert rent.payment_notes == "Free"
    assert report.errors == ((4, "no known category in 'Holiday Gifts'"),)
    warnings = dict(report.warnings)
    assert "Holiday Gifts" in warnings[2]
    assert "kept the first" in warnings[3]


def test_generated_ids_are_stable() -> None:
    text = "name,categories,country,url\nA Place,food,US,https://a.example.org\n"
    assert read_resources_csv(text).resources[0].id == read_resources_csv(text).resources[0].id


def test_facilitator_upload_becomes_the_groups_local_entries() -> None:
    text = HEADER + "\n" + row(id="x") + "\n" + row(id="y", group_id="someone-else") + "\n"
    report = read_resources_csv(text, group_id="g1")
    assert [r.group_id for r in report.resources] == ["g1", "g1"]


def test_country_names_are_accepted() -> None:
    text = "name,categories,country,url\nUno,comida,España,https://a.example.org\nDos,food,usa,https://b.example.org\n"
    report = read_resources_csv(text)
    assert [r.country for r in report.resources] == ["ES", "US"]
    assert report.resources[0].categories == ("food",)


def test_header_problems_are_reported_on_line_one() -> None:
    assert read_resources_csv("").errors == ((1, "the file is empty"),)
    assert read_resources_csv("title,url\nx,https://a.example.org\n").errors[0][0] == 1
    no_categories = read_resources_csv("name,url\nx,https://a.example.org\n")
    assert "categories" in no_categories.errors[0][1]


def test_row_with_too_many_fields_is_refused() -> None:
    text = "name,categories,country,url\nA,food,US,https://a.example.org,surprise\n"
    report = read_resources_csv(text)
    assert report.resources == ()
    assert report.errors[0][0] == 2


def test_byte_order_mark_and_crlf_are_fine() -> None:
    text = "\ufeffname,categories,country,url\r\nA,food,US,https://a.example.org\r\n"
    assert [r.name for r in read_resources_csv(text).resources] == ["A"]
