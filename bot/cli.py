"""The `kindred` command line: run the bot, migrate the database, evaluate the detector."""

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


async def _run(settings: Settings) -> int:
    from bot.bootstrap import build_application

    app = build_application(settings)
    await app.run()
    return 0
