"""The `kindred` command line: run the bot, migrate the database, evaluate the detector, load resources."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kindred", description=(
        "Kindred: a peer-support group bot. With no arguments, starts every platform whose "
        "token is set, or the console when none is."))
    commands = parser.add_subparsers(dest="command")
    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every migration")
    db_commands.add_parser("check", help="fail if the tables changed without a migration")
    revision = db_commands.add_parser("revision", help="generate a migration (developers)")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--id", help="the revision id, e.g. 0004 (default: random)")
    revision.add_argument("--head", default="head", help="the branch head to follow")
    detector = commands.add_parser("detector", help="the crisis detector")
    detector_commands = detector.add_subparsers(dest="detector_command", required=True)
    evaluate = detector_commands.add_parser("eval", help="score the detector on a labelled file")
    evaluate.add_argument("file")
    resources = commands.add_parser("resources", help="the resource directory")
    resources_commands = resources.add_subparsers(dest="resources_command", required=True)
    load = resources_commands.add_parser(
        "import", help="load entries from a CSV file, deployment-wide (a group_id column names a "
        "group's own entries); bad rows are reported by line number, good ones imported")
    load.add_argument("file")
    load.add_argument("--country", help="country for rows that name none, e.g. US")
    resources_commands.add_parser("export", help="print every entry as CSV")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `kindred` and `python -m bot`."""
    args = _parser().parse_args(argv)
    from dotenv import load_dotenv

    load_dotenv(os.environ.get("KINDRED_ENV_FILE", ".env"), override=False)
    if args.command == "detector":
        from pathlib import Path

        from bot.crisis.evaluation import run_eval

        return int(run_eval(Path(args.file), sys.stdout))
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as problem:
        print(f"kindred: configuration error: {problem}", file=sys.stderr)
        return 2
    from bot.observability import configure_logging

    configure_logging(settings.log_level, settings.log_format, settings.secrets)
    if args.command == "db":
        return asyncio.run(_db(settings, args))
    if args.command == "resources":
        return _resources(settings, args)
    try:
        return asyncio.run(_run(settings))
    except SettingsError as problem:  # e.g. a platform refused the token at start
        print(f"kindred: configuration error: {problem}", file=sys.stderr)
        return 2


async def _db(settings: Settings, args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import Database

    database = Database(settings.database_url)
    try:
        if args.db_command == "upgrade":
            await migrate.upgrade(database)
            print(f"database is at revision {await migrate.current_revision(database)}")
        elif args.db_command == "check":
            await migrate.check(database)
            print("the tables match the migrations")
        else:
            await migrate.revision(database, args.message, revision_id=args.id, head=args.head)
    finally:
        await database.dispose()
    return 0


def _resources(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.resources.search import country_code

    if args.resources_command == "export":
        return asyncio.run(_resources_async(settings, None, None))
    country = None
    if args.country:
        country = country_code(args.country)
        if country is None:
            print(f"kindred: unknown country {args.country!r}; use a code such as US",
                  file=sys.stderr)
            return 2
    try:
        raw = Path(args.file).read_bytes()
    except OSError as error:
        print(f"kindred: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    text = next(iter(_decodings(raw)), raw.decode("latin-1"))
    return asyncio.run(_resources_async(settings, text, country))


async def _resources_async(settings: Settings, text: str | None, country: str | None) -> int:
    """Export (text None) or import `text` deployment-wide."""
    from datetime import UTC, datetime

    from bot.resources.admin import export_directory, import_directory
    from bot.resources.csvio import load_shipped_resources
    from storage import migrate
    from storage.db import Database
    from storage.unit_of_work import UnitOfWorkFactory

    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        store = UnitOfWorkFactory(database)
        now = datetime.now(UTC)
        if text is None:
            sys.stdout.write(await export_directory(store, shipped=load_shipped_resources(), now=now))
            return 0
        outcome = await import_directory(store, text, shipped=load_shipped_resources(), now=now,
                                         default_country=country)
    finally:
        await database.dispose()
    for line, problem in outcome.errors:
        print(f"line {line}: {problem}" if line else problem, file=sys.stderr)
    print(f"imported {outcome.imported} entries ({outcome.added} new, {outcome.updated} updated); "
          f"{len(outcome.errors)} rows not imported")
    return 1 if outcome.errors else 0


def _decodings(raw: bytes) -> list[str]:
    out = []
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            out.append(raw.decode(encoding))
        except UnicodeDecodeError:
            continue
    return out


async def _run(settings: Settings) -> int:
    from bot.bootstrap import build_application

    app = build_application(settings)
    await app.run()
    return 0
