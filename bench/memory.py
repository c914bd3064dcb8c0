"""Benchmark: resident memory with 10,000 groups and 100,000 members, and start-up to ready.

Memory: a SQLite database is filled with 10,000 groups and 100,000 members (people and
memberships); a fresh process starts the application on it and screens 20,000 ordinary messages
spread over every group, 64 at a time (adapters bound the events in flight), then reports its
resident set size.
Start-up: wall time from launching `python -m bot` (the console) to its first line of output,
which it prints once migrations ran and every platform started; on an existing database.

Run: `.venv/bin/python bench/memory.py [--quick]`; the last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GROUPS = 10_000
MEMBERS = 100_000


async def fill(url: str, groups: int, members: int) -> None:
    from sqlalchemy import insert

    from storage import migrate
    from storage.db import Database
    from storage.tables import GroupRow, MembershipRow, PersonRow

    database = Database(url)
    await migrate.upgrade(database)
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:
        await connection.execute(insert(GroupRow), [
            {"key": f"bench:g{n}", "platform": "bench", "home_chat_id": f"g{n}",
             "title": f"Group {n}", "language": "en", "timezone": "UTC", "region": "US",
             "rules": "", "welcome": "", "hold_new_members": False, "checkin_days": "0123456",
             "created_at": now} for n in range(groups)])
        await connection.execute(insert(PersonRow), [
            {"user_key": f"bench:u{n}", "display_name": f"Parent {n}", "private_checkins": False,
             "can_message": n % 10 == 0, "consented_at": now} for n in range(members)])
        await connection.execute(insert(MembershipRow), [
            {"group_id": 1 + n % groups, "user_key": f"bench:u{n}", "display_name": "",
             "granted_role": "facilitator" if n < groups else "member",
             "is_platform_admin": False, "on_call": False} for n in range(members)])
    await database.dispose()


CHILD = r"""
import asyncio, json, random, sys
sys.path.insert(0, sys.argv[2])
import psutil
from bench.detector import generated_messages
from bench.harness import RecordingPlatform, message
from bot.bootstrap import build_application
from bot.settings import Settings

async def main():
    platform = RecordingPlatform()
    app = build_application(Settings.from_env({"DATABASE_URL": sys.argv[1], "LOG_LEVEL": "WARNING"}),
                            platforms={"bench": platform})
    await app.start()
    app.scheduler.stop()
    texts = generated_messages(1000)
    rng = random.Random(1)
    groups = int(sys.argv[3])
    total = int(sys.argv[4])
    # 64 events in flight at once, as adapters bound them; not one waiting task per message.
    numbers = iter(range(total))
    async def worker():
        for n in numbers:
            await app.runtime.handle(message(n % groups, rng.randrange(100000), rng.choice(texts), n))
    await asyncio.gather(*(worker() for _ in range(64)))
    assert app.runtime.handled == total
    await app.settle()
    rss = psutil.Process().memory_info().rss / 2**20
    await app.stop()
    print(json.dumps({"rss_mb": rss}))

asyncio.run(main())
"""


def startup_seconds(url: str, tmp: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update({"DATABASE_URL": url, "LOG_LEVEL": "WARNING",
                "KINDRED_ENV_FILE": str(tmp / "none.env")})
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdin is not None
    process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.stdin.close()
    process.wait(timeout=60)
    return elapsed


def run(quick: bool = False) -> dict[str, float]:
    groups, members = (GROUPS, MEMBERS) if not quick else (2_000, 20_000)
    messages = 20_000 if not quick else 4_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'memory.db'}"
        asyncio.run(fill(url, groups, members))
        child = subprocess.run([sys.executable, "-c", CHILD, url, str(ROOT), str(groups),
                                str(messages)], capture_output=True, text=True, timeout=600,
                               check=True)
        rss = json.loads(child.stdout.strip().splitlines()[-1])["rss_mb"]
        startup_seconds(url, Path(tmp))  # the first start compiles bytecode
        startups = sorted(startup_seconds(url, Path(tmp)) for _ in range(3))
    suffix = "" if not quick else "_quick"
    return {f"rss_mb_10k_groups{suffix}": round(rss, 1), "startup_s": round(startups[1], 2)}


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
