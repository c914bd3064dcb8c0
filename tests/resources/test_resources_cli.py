"""`kindred resources import FILE.csv` and `kindred resources export`, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.identity import ChatRef
from bot.core.models import Group
from bot.resources import load_shipped_resources, read_resources_csv
from storage import migrate
from storage.db import Database
from storage.unit_of_work import UnitOfWorkFactory

IMPORT = """service_name,taxonomy_terms,phone,website,city,state_province,group_id,languages
Austin Parent Line,parenting support,512-555-0150,,Austin,Texas,,English;Spanish
Eastside Pantry,food pantry,,eastside.example.org,Austin,TX,console:group,
Broken Row,,512-555-0151,,,,,
Nowhere Group Line,crisis,512-555-0152,,,,console:gone,
"""


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """`kindred` pointed at the test database, with the process's logging put back afterwards."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_ENV_FILE", str(tmp_path / "no.env"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield database_url
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def add_group(database_url: str, key: str) -> None:
    async def run() -> None:
        database = Database(database_url)
        await migrate.upgrade(database)
        async with UnitOfWorkFactory(database)() as store:
            await store.groups.add(Group(key=key, platform="console",
                                         home_chat=ChatRef("console", "group", "group")))
            await store.commit()
        await database.dispose()

    asyncio.run(run())


def export(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["resources", "export"]) == 0
    return capsys.readouterr().out


def test_import_reports_bad_rows_and_export_gives_it_all_back(
        cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_group(cli_env, "console:group")
    source = tmp_path / "211.csv"
    source.write_text(IMPORT, encoding="utf-8")
    assert main(["resources", "import", str(source), "--country", "US"]) == 1
    out, err = capsys.readouterr()
    assert "imported 2 entries (2 new, 0 updated); 2 rows not imported" in out
    assert "line 4: no category" in err
    assert "group 'console:gone' is not set up" in err
    dump = export(capsys)
    rows = list(csv.DictReader(io.StringIO(dump)))
    by_name = {row["name"]: row for row in rows}
    assert len(rows) == len(load_shipped_resources()) + 2
    assert by_name["Austin Parent Line"]["categories"] == "parenting_support"
    assert by_name["Austin Parent Line"]["languages"] == "en;es"
    assert by_name["Eastside Pantry"]["group_id"] == "console:group"
    assert by_name["Eastside Pantry"]["url"] == "https://eastside.example.org"
    # The export reads back whole, and importing it again changes nothing but replaces in place.
    report = read_resources_csv(dump)
    assert report.ok and len(report.resources) == len(rows)
    again = tmp_path / "again.csv"
    again.write_text(dump, encoding="utf-8")
    assert main(["resources", "import", str(again)]) == 0
    assert f"({0} new, {len(rows)} updated)" in capsys.readouterr().out
    assert export(capsys) == dump


def test_an_imported_shipped_line_is_kept_over_the_shipped_one(
        cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = list(csv.DictReader(io.StringIO(export(capsys))))
    samaritans = next(row for row in rows if row["id"] == "gb-samaritans")
    samaritans["hours"] = "24/7, checked by our operator"
    edited = tmp_path / "edit.csv"
    with edited.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(samaritans))
        writer.writeheader()
        writer.writerow(samaritans)
    assert main(["resources", "import", str(edited)]) == 0
    assert "(0 new, 1 updated)" in capsys.readouterr().out
    # Every start seeds the shipped file again; the operator's row stays as imported.
    after = {row["id"]: row for row in csv.DictReader(io.StringIO(export(capsys)))}
    assert after["gb-samaritans"]["hours"] == "24/7, checked by our operator"
    assert [row["id"] for row in rows] == list(after)  # same entries, same order


def test_unreadable_input_is_refused_in_one_line(
        cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resources", "import", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    source = tmp_path / "x.csv"
    source.write_text("name,categories,phone\nA,food,911\n", encoding="utf-8")
    assert main(["resources", "import", str(source), "--country", "Atlantis"]) == 2
    assert "unknown country 'Atlantis'" in capsys.readouterr().err
