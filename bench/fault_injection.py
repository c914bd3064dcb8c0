"""Fault injection: three real bot processes on one PostgreSQL database, SIGKILLed at random under traffic.

Run as ``.venv/bin/python bench/fault_injection.py [--kills N] [--quick] [--wave-size N]``.
The fake Telegram Bot API server and a small round-robin load balancer run in this script's event
loop; the fake delivers every update by webhook to the balancer, which forwards it to a live
``python -m bot`` process. While member chatter and crisis messages (each from a different member)
flow, a random process is killed with SIGKILL and restarted, again and again. Meanwhile daily
check-in waves fall due: hundreds of groups, set up with `/setup`, get their check-in time moved to
successive minutes of the run, a few dozen groups each minute. At the end the script reports
escalations lost, duplicate alerts and prompts, the longest kill-to-stuck-alert time, the
crisis-to-alert latency, check-in prompts due, sent, missing and duplicated, and double check-ins,
and prints one JSON line of figures last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import create_pg_database, drop_pg_database  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram, SentRecord  # noqa: E402

GROUP = -1001234567890
FACILITATOR = 1002
CRISIS_BASE = 100_000  # crisis members: ids CRISIS_BASE + n, first name "M<n>"
CHATTER_BASE = 200_000  # ordinary members: ids CHATTER_BASE + n, first name "P<n>"
CHATTERERS = 40
PATH = "/telegram"
SECRET = "fault-injection-secret-7f3a"
PROCESSES = 3
CRISIS = "i cant do this anymore, i have the pills ready and tonight is the night"
ORDINARY = (
    "thanks everyone for the tips yesterday",
    "we had a calmer morning today, small wins",
    "does anyone know a good OT near the north side?",
    "school meeting went ok, they agreed to the plan",
    "sending hugs to all of you tonight",
    "therapy was hard this week but he tried",
    "what do you pack for a long waiting-room day?",
    "slept a bit better, coffee helps",
)
MEMBER_RE = re.compile(r"Member: (M\d+)\b")
# Check-in waves: groups WAVE_GROUP_BASE - n, all run by a facilitator who never opens a private chat
# with the bot (so the weekly-report sweep has nobody to write to and stays out of the figures).
WAVE_GROUP_BASE = -1002000000000
WAVE_FACILITATOR = 1003
WAVE_SIZE = 50  # groups falling due in each minute of the run
WAVE_LEAD_S = 12.0  # a wave's check-in time is set at least this long before it falls due
SECONDS_PER_KILL = 7.0  # rough pace of the chaos loop, to set up enough groups for its waves
SWEEP_EVERY_S = 30.0  # the `checkins-prompts` sweep's interval (bot/bootstrap.py)
SWEEP_EARLY_S = 0.3  # a scheduler starts about this long before /healthz is seen answering
# A request a process wrote just before its SIGKILL can still reach the fake (which runs in this
# script's event loop) a little after the kill was recorded: such a send counts as before the kill.
KILL_SLACK_S = 1.0
# Odd offsets and both sides of the date line: a prompt's local date is not always UTC's date.
WAVE_ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu",
              "Australia/Sydney", "Pacific/Chatham", "America/St_Johns", "Pacific/Honolulu")
PROMPT_MARK = "Daily check-in: how are you today?"
PROMPT_DATA_RE = re.compile(r"^ci:m:(\d+):")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BotProcess:
    """One `python -m bot` process slot: its port, the running process and its log file."""

    index: int
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    ready_at: float | None = None  # wall time /healthz first answered (its scheduler starts then)

    @property
    def alive(self) -> bool:
        """Whether the process runs (it may not answer yet)."""
        return self.process is not None and self.process.returncode is None


@dataclass
class Run:
    """Everything the run records for the report."""

    crisis_sent: dict[str, float] = field(default_factory=dict)  # member name -> send time
    crisis_updates: list[int] = field(default_factory=list)  # update_ids, in sending order
    targeted_kills: int = 0
    new_crisis: asyncio.Event = field(default_factory=asyncio.Event)
    kills: list[float] = field(default_factory=list)
    kill_notes: dict[float, str] = field(default_factory=dict)  # kill time -> "process 1, wave"
    ordinary_sent: int = 0
    restart_waits: list[float] = field(default_factory=list)
    restarts_not_ready: int = 0
    waves: list[Wave] = field(default_factory=list)
    wave_groups: dict[int, WaveGroup] = field(default_factory=dict)  # chat id -> its schedule
    wave_kills: int = 0  # kills aimed at the process predicted to run a wave's sweep
    chaos_done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Wave:
    """Groups whose check-in falls due at the same UTC minute."""

    due: float  # wall time (a whole UTC minute)
    chats: list[int]
    aimed_kill: float | None = None  # when a kill aimed at its sweep landed
    swept: bool = False  # some of its prompts were seen: too late to aim at its sweep
    aimed_predicted: float | None = None  # the sweep time that kill was aimed at


@dataclass(frozen=True)
class WaveGroup:
    """One wave group's schedule: due instant, zone, local check-in time and local date."""

    due: float
    zone: str
    local_time: str
    local_date: str


class Balancer:
    """A round-robin HTTP balancer on 127.0.0.1: forwards each POST to the next process that answers.

    A connection refused or dropped mid-request moves on to the next process (the update may then be
    handled twice, as Telegram itself would redeliver it); 502 when none answers, so the fake retries.
    """

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._next = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = free_port()
        self.forwarded = 0
        self.failovers = 0
        self.timeouts = 0  # failovers because a process took over 9 s to answer
        self.status_502 = 0
        self.statuses: dict[int, int] = {}
        self.routes: dict[int, int] = {}  # update_id -> port of the latest attempt
        self.watched: dict[int, asyncio.Event] = {}  # update_id -> set once it is forwarded

    async def start(self) -> None:
        """Start listening."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Stop listening and close the client session."""
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
        update_id = -1
        with contextlib.suppress(ValueError, AttributeError):
            update_id = int(json.loads(body).get("update_id", -1))
        start = self._next
        self._next = (self._next + 1) % len(self._ports)
        for step in range(len(self._ports)):
            port = self._ports[(start + step) % len(self._ports)]
            self.routes[update_id] = port
            if update_id in self.watched:
                self.watched.pop(update_id).set()
            try:
                async with self._session.post(
                        f"http://127.0.0.1:{port}{request.path}", data=body, headers=headers,
                        timeout=aiohttp.ClientTimeout(total=9.0, sock_connect=1.0)) as answer:
                    payload = await answer.read()
                    self.forwarded += 1
                    self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
                    return web.Response(status=answer.status, body=payload,
                                        content_type=answer.content_type or "text/plain")
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                self.failovers += 1
                self.timeouts += isinstance(error, TimeoutError)
        self.status_502 += 1
        return web.Response(status=502)


async def start_process(slot: BotProcess, fake: FakeTelegram, database_url: str, webhook: str,
                        env_file: Path) -> None:
    """Start (or restart) the bot process of `slot` on its port."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update({
        "DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url, "TELEGRAM_WEBHOOK_URL": webhook,
        "TELEGRAM_WEBHOOK_SECRET": SECRET, "PORT": str(slot.port), "LOG_LEVEL": "WARNING",
        "KINDRED_ENV_FILE": str(env_file), "ESCALATION_RENOTIFY_MINUTES": "60",
    })
    env.pop("METRICS_PORT", None)
    handle = slot.log.open("ab")
    handle.write(f"\n===== start {slot.starts + 1} at {time.time():.3f}\n".encode())
    handle.flush()
    slot.process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=str(ROOT), env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=handle, stderr=handle)
    handle.close()
    slot.starts += 1


async def wait_ready(slot: BotProcess, session: aiohttp.ClientSession, timeout: float) -> bool:
    """Poll GET /healthz until the process answers; False after `timeout` or if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not slot.alive:
            return False
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            async with session.get(f"http://127.0.0.1:{slot.port}/healthz",
                                   timeout=aiohttp.ClientTimeout(total=1.0)) as answer:
                if answer.status == 200:
                    slot.ready_at = time.time()
                    return True
        await asyncio.sleep(0.1)
    return False


async def kill(slot: BotProcess) -> None:
    """SIGKILL the process of `slot` and reap it."""
    if slot.process is not None and slot.process.returncode is None:
        slot.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(slot.process.wait(), timeout=10)
    slot.ready_at = None


def wave_chat(n: int) -> int:
    """The Telegram chat id of wave group `n`."""
    return WAVE_GROUP_BASE - n


def build_fake(crisis_members: int, wave_groups: int) -> FakeTelegram:
    """The fake server: the crisis group, its facilitator, crisis and chatty members; wave groups."""
    fake = FakeTelegram(record_calls=False)
    fake.add_user(FACILITATOR, "Dana", "dana_fac", "en", last_name="Reyes")
    fake.add_user(WAVE_FACILITATOR, "Sam", "sam_fac", "en", last_name="Okafor")
    for n in range(wave_groups):
        fake.add_group(wave_chat(n), f"Wave group {n}")
        fake.set_admins(wave_chat(n), [WAVE_FACILITATOR])
    fake.add_group(GROUP, "Parents Circle")
    fake.set_admins(GROUP, [FACILITATOR])
    for n in range(crisis_members):
        fake.add_user(CRISIS_BASE + n, f"M{n}", None, "en")
        fake.add_member(GROUP, CRISIS_BASE + n)
    for n in range(CHATTERERS):
        fake.add_user(CHATTER_BASE + n, f"P{n}", None, "en")
        fake.add_member(GROUP, CHATTER_BASE + n)
    return fake


def alerts(fake: FakeTelegram) -> list[tuple[str, SentRecord]]:
    """(member name, record) of every first-time alert sent to the facilitator's private chat."""
    found = []
    for record in list(fake.sent):
        if record.chat_id != FACILITATOR or record.method not in ("sendMessage", "sendPhoto"):
            continue
        text = record.rendered_text or record.text or ""
        match = MEMBER_RE.search(text)
        if match and "Reminder" not in text:
            found.append((match.group(1), record))
    return found


def prompts(fake: FakeTelegram, chats: set[int] | dict[int, WaveGroup]) -> list[tuple[int, int, float]]:
    """(chat id, prompt id, send time) of every group check-in prompt sent to one of `chats`."""
    found = []
    for record in list(fake.sent):
        if record.method != "sendMessage" or record.chat_id is None or record.chat_id not in chats:
            continue
        if PROMPT_MARK not in (record.rendered_text or record.text or ""):
            continue
        ids = {int(m.group(1)) for d in record.button_data() if (m := PROMPT_DATA_RE.match(d))}
        found.append((record.chat_id, ids.pop() if len(ids) == 1 else -1, record.timestamp))
    return found


async def setup_wave_groups(fake: FakeTelegram, count: int, timeout: float) -> float:
    """`/setup` in every wave group by its facilitator; returns the seconds until all answered."""
    began = time.monotonic()
    wanted = {wave_chat(n) for n in range(count)}
    for chat in sorted(wanted, reverse=True):
        fake.user_sends(chat, WAVE_FACILITATOR, "/setup")
    while True:
        answered = {r.chat_id for r in list(fake.sent)
                    if r.chat_id in wanted and "set up" in (r.text or "")}
        if answered >= wanted:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"only {len(answered)} of {count} wave groups answered /setup")
        await asyncio.sleep(0.25)


async def set_checkin_times(database_url: str, run: Run, chats: list[int], due: float) -> None:
    """Move the daily check-in of `chats` to the local minute that is UTC `due` in each one's zone.

    Written straight to the groups table (as `/checkins at HH:MM` and `/group timezone` would store
    it): every day of the week, zones taken in turn from WAVE_ZONES.
    """
    import asyncpg

    rows = []
    instant = datetime.fromtimestamp(due, UTC)
    for chat in chats:
        zone = WAVE_ZONES[(WAVE_GROUP_BASE - chat) % len(WAVE_ZONES)]
        local = instant.astimezone(ZoneInfo(zone))
        group = WaveGroup(due=due, zone=zone, local_time=local.strftime("%H:%M"),
                          local_date=local.date().isoformat())
        run.wave_groups[chat] = group
        rows.append((group.local_time, zone, f"telegram:{chat}"))
    connection = await asyncpg.connect(database_url)
    try:
        await connection.executemany(
            "UPDATE groups SET checkin_time = $1, timezone = $2, checkin_days = '0123456' "
            "WHERE key = $3", rows)
    finally:
        await connection.close()


async def waves(database_url: str, run: Run, groups: int, size: int) -> None:
    """Until the chaos ends: a wave of `size` groups falls due at each whole UTC minute.

    Each wave's time is set WAVE_LEAD_S or more before its minute; the last wave may fall due
    shortly after the last kill (the run waits for it to drain).
    """
    pending = [wave_chat(n) for n in range(groups)]
    due = math.ceil((time.time() + WAVE_LEAD_S) / 60.0) * 60.0
    while pending and not run.chaos_done.is_set():
        batch, pending = pending[:size], pending[size:]
        await set_checkin_times(database_url, run, batch, due)
        run.waves.append(Wave(due=due, chats=batch))
        due += 60.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.chaos_done.wait(),
                                   timeout=max(0.0, due - WAVE_LEAD_S - time.time()))


def next_sweep(slot: BotProcess, after: float) -> float | None:
    """When `slot` will next run the check-in sweep at or after `after` (None when it is down).

    APScheduler's interval job first runs one interval after the scheduler starts, which is when
    the process starts answering /healthz, and every interval from then on.
    """
    if not slot.alive or slot.ready_at is None:
        return None
    periods = max(1, math.ceil((after - slot.ready_at) / SWEEP_EVERY_S))
    return slot.ready_at + periods * SWEEP_EVERY_S


def wave_target(fake: FakeTelegram, slots: list[BotProcess], run: Run, within: float
                ) -> tuple[Wave, BotProcess, float] | None:
    """The next unaimed, unswept wave, the process predicted to sweep it first and when, if that
    is within `within` s."""
    now = time.time()
    for wave in run.waves:
        if wave.aimed_kill is not None or wave.swept:
            continue
        if wave.due <= now and prompts(fake, set(wave.chats)):
            wave.swept = True
            continue
        predicted = [(at, slot.index, slot) for slot in slots
                     if (at := next_sweep(slot, wave.due)) is not None]
        if not predicted:
            return None
        at, _, slot = min(predicted)
        if now < at <= now + within:
            return wave, slot, at
        if at > now:
            return None  # a later wave cannot be swept before this one
    return None


async def chatter(fake: FakeTelegram, run: Run, stop: asyncio.Event, rate: float) -> None:
    """Ordinary member messages at about `rate` per second until `stop`."""
    rng = random.Random(7)
    while not stop.is_set():
        fake.user_sends(GROUP, CHATTER_BASE + rng.randrange(CHATTERERS), rng.choice(ORDINARY))
        run.ordinary_sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(0.5, 1.5) / rate)


async def crises(fake: FakeTelegram, run: Run, stop: asyncio.Event, limit: int) -> None:
    """A crisis message every 1-2 s, each from a member who has not written one yet."""
    rng = random.Random(11)
    for n in range(limit):
        if stop.is_set():
            return
        run.crisis_updates.append(fake.user_sends(GROUP, CRISIS_BASE + n, CRISIS))
        run.crisis_sent[f"M{n}"] = time.time()
        run.new_crisis.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(1.0, 2.0))


async def crisis_target(slots: list[BotProcess], run: Run, balancer: Balancer,
                        rng: random.Random) -> BotProcess | None:
    """The process a fresh crisis update was just forwarded to, after a random 0-300 ms.

    Killing it lands inside the window between the update's arrival and the alert's send (the
    escalation may be committed and unsent), which random kills almost never hit.
    """
    run.new_crisis.clear()
    try:
        await asyncio.wait_for(run.new_crisis.wait(), timeout=5.0)
        update_id = run.crisis_updates[-1]
        if update_id not in balancer.routes:
            routed = balancer.watched.setdefault(update_id, asyncio.Event())
            await asyncio.wait_for(routed.wait(), timeout=5.0)
    except TimeoutError:
        return None
    port = balancer.routes.get(update_id)
    await asyncio.sleep(rng.uniform(0.0, 0.3))
    return next((slot for slot in slots if slot.port == port and slot.alive), None)


async def chaos(fake: FakeTelegram, slots: list[BotProcess], run: Run, kills: int,
                restart: object, session: aiohttp.ClientSession, balancer: Balancer,
                log: bool) -> None:
    """`kills` times: SIGKILL a process, restart it on its port, wait until it answers.

    A kill comes 1-2 s after the last restart answered. When a check-in wave's sweep is
    predicted within that pause and 4 s more, the kill waits for it and is aimed at the process
    predicted to run it, from just before to 0.6 s after its sweep starts (so it dies before,
    while or just after claiming the wave, or while sending its prompts). Otherwise every other
    kill is aimed at the process handling a crisis message that just arrived, and the others pick
    a random process at a random moment.
    """
    rng = random.Random(3)
    try:
        for n in range(kills):
            pause = rng.uniform(1.0, 2.0)
            slot = None
            # Worth a longer pause than usual: a wave's sweep is a moment of a second or two.
            aimed = wave_target(fake, slots, run, within=pause + 4.0)
            kind = "random"
            if aimed is not None:
                wave, target, at = aimed
                await asyncio.sleep(max(0.0, at - SWEEP_EARLY_S - time.time()
                                        + rng.uniform(0.0, 0.9)))
                wave.aimed_kill, wave.aimed_predicted = time.time(), at
                if target.alive:
                    slot, kind = target, "wave"
                    run.wave_kills += 1
            else:
                await asyncio.sleep(pause)
                if n % 2 == 1:
                    slot = await crisis_target(slots, run, balancer, rng)
                    run.targeted_kills += slot is not None
                    kind = "crisis" if slot is not None else kind
            slot = slot or rng.choice(slots)
            run.kills.append(time.time())
            run.kill_notes[run.kills[-1]] = f"process {slot.index}, {kind}"
            await kill(slot)
            began = time.monotonic()
            await restart(slot)  # type: ignore[operator]
            if await wait_ready(slot, session, timeout=30.0):
                run.restart_waits.append(time.monotonic() - began)
            else:
                run.restarts_not_ready += 1
            if log:
                print(f"  kill {n + 1}/{kills} ({kind}): process {slot.index} restarted in "
                      f"{time.monotonic() - began:.1f} s", flush=True)
    finally:
        run.chaos_done.set()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def database_facts(database_url: str) -> dict[str, Any]:
    """What the database recorded: every claimed group prompt, and the prompts' outbox states."""
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        claimed = await connection.fetch(
            "SELECT g.key, p.id, p.local_date, p.kind, p.claimed_at FROM checkin_prompts p "
            "JOIN groups g ON g.id = p.group_id")
        statuses = await connection.fetch(
            "SELECT status, count(*) AS n FROM deliveries WHERE dedupe_key LIKE 'ci:prompt:%' "
            "GROUP BY status")
    finally:
        await connection.close()
    return {
        "prompts": [(int(r["key"].rpartition(":")[2]), int(r["id"]), str(r["local_date"]),
                     str(r["kind"]), r["claimed_at"].timestamp()) for r in claimed],
        "statuses": {str(r["status"]): int(r["n"]) for r in statuses},
    }


@dataclass(frozen=True)
class Repeat:
    """A send repeated: the item, its first send, this repeat, and the kill charged with it."""

    item: str
    first: float
    at: float
    cause: float | None


def repeats(sends: dict[str, list[float]], kills: list[float]) -> list[Repeat]:
    """Each repeated send, charged to the first kill after the item's first send (None: no kill).

    A repeat is expected only when a process dies between sending and recording the send; a kill
    up to KILL_SLACK_S before the first send counts (the fake may see a dying process's last
    request after the kill).
    """
    found = []
    for item, times in sends.items():
        ordered = sorted(times)
        for again in ordered[1:]:
            cause = next((k for k in kills if ordered[0] - KILL_SLACK_S <= k <= again), None)
            found.append(Repeat(item, ordered[0], again, cause))
    return sorted(found, key=lambda r: r.at)


def clock(at: float) -> str:
    """HH:MM:SS UTC of a wall time."""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def report(fake: FakeTelegram, run: Run, balancer: Balancer, facts: dict[str, Any],
           setup_seconds: float) -> dict[str, float | int]:
    """Compute the figures, print the human summary, return the JSON figures."""
    firsts: dict[str, SentRecord] = {}
    counts: dict[str, int] = {}
    alert_sends: dict[str, list[float]] = {}
    for name, record in alerts(fake):
        counts[name] = counts.get(name, 0) + 1
        firsts.setdefault(name, record)
        alert_sends.setdefault(name, []).append(record.timestamp)
    lost = sorted((name for name in run.crisis_sent if name not in firsts),
                  key=lambda name: int(name[1:]))
    duplicates = sum(count - 1 for name, count in counts.items() if name in run.crisis_sent)
    latencies = [firsts[name].timestamp - sent for name, sent in run.crisis_sent.items()
                 if name in firsts]
    stuck: list[tuple[float, str]] = []
    for name, sent in run.crisis_sent.items():
        if name not in firsts:
            continue
        at = firsts[name].timestamp
        between = [k for k in run.kills if sent < k < at]
        if between:
            latest = max(k for k in run.kills if k < at)
            stuck.append((at - latest, name))

    # Check-in waves: what reached the groups, checked against what the database claimed.
    now = time.time()
    prompt_sends: dict[int, list[tuple[int, float]]] = {}
    for chat, prompt_id, at in prompts(fake, run.wave_groups):
        prompt_sends.setdefault(chat, []).append((prompt_id, at))
    due = {chat for chat, group in run.wave_groups.items() if group.due <= now}
    missing = sorted(due - set(prompt_sends), reverse=True)
    duplicate_prompts = sum(len(sends) - 1 for sends in prompt_sends.values())
    claims: dict[int, list[tuple[int, str, str, float]]] = {}
    for chat, prompt_id, local_date, kind, claimed_at in facts["prompts"]:
        if chat in run.wave_groups:
            claims.setdefault(chat, []).append((prompt_id, local_date, kind, claimed_at))
    double = sorted({chat for chat, sends in prompt_sends.items()
                     if len({prompt_id for prompt_id, _ in sends}) > 1}
                    | {chat for chat, rows in claims.items() if len(rows) > 1}, reverse=True)
    wrong_day = sorted(chat for chat, rows in claims.items()
                       if any(local_date != run.wave_groups[chat].local_date or kind != "scheduled"
                              for _, local_date, kind, _ in rows))
    claimed_ids = {row[0] for rows in claims.values() for row in rows}
    unrecorded = sorted({prompt_id for sends in prompt_sends.values() for prompt_id, _ in sends}
                        - claimed_ids)
    first_prompt = {chat: min(at for _, at in sends) for chat, sends in prompt_sends.items()}
    lateness = [first_prompt[chat] - run.wave_groups[chat].due for chat in due
                if chat in first_prompt]
    amid = sum(1 for k in run.kills if any(
        group.due <= k and first_prompt.get(chat, math.inf) > k
        for chat, group in run.wave_groups.items()))

    sends = {f"alert:{name}": times for name, times in alert_sends.items()
             if name in run.crisis_sent}
    sends.update({f"prompt:{chat}": [at for _, at in chat_sends]
                  for chat, chat_sends in prompt_sends.items()})
    repeated = repeats(sends, run.kills)
    causes: dict[float | None, int] = {}
    for repeat in repeated:
        causes[repeat.cause] = causes.get(repeat.cause, 0) + 1
    all_duplicates = duplicates + duplicate_prompts
    kills = len(run.kills)
    figures: dict[str, float | int] = {
        "fault_kills": kills,
        "fault_crisis_messages": len(run.crisis_sent),
        "fault_escalations_lost": len(lost),
        "fault_duplicate_alerts": duplicates,
        "fault_duplicates": all_duplicates,
        "fault_duplicates_per_kill": round(all_duplicates / kills, 3) if kills else 0.0,
        "fault_max_duplicates_one_kill": max(
            (n for cause, n in causes.items() if cause is not None), default=0),
        "fault_duplicates_without_kill": causes.get(None, 0),
        "fault_max_kill_to_alert_s": round(max((s for s, _ in stuck), default=0.0), 3),
        "fault_alert_p50_s": round(percentile(latencies, 50), 3),
        "fault_alert_p99_s": round(percentile(latencies, 99), 3),
        "fault_checkin_waves": len(run.waves),
        "fault_checkin_prompts_due": len(due),
        "fault_checkin_prompts_sent": len(prompt_sends),
        "fault_checkin_prompts_missing": len(missing),
        "fault_checkin_duplicate_prompts": duplicate_prompts,
        "fault_checkin_double_checkins": len(double),
        "fault_checkin_wrong_day": len(wrong_day),
        "fault_checkin_prompt_late_p50_s": round(percentile(lateness, 50), 3),
        "fault_checkin_prompt_late_max_s": round(max(lateness, default=0.0), 3),
        "fault_kills_aimed_at_waves": run.wave_kills,
        "fault_kills_amid_waves": amid,
    }
    print()
    print("Fault injection: 3 bot processes on PostgreSQL, Telegram webhooks behind a balancer")
    print(f"  kills (SIGKILL + restart):     {kills}  (restarts not ready in 30 s: "
          f"{run.restarts_not_ready}; aimed at a crisis in flight: {run.targeted_kills}; "
          f"at a wave's sweep: {run.wave_kills}; restart-to-healthy p50 "
          f"{percentile(run.restart_waits, 50):.2f} s, max {max(run.restart_waits, default=0):.2f} s)")
    print(f"  ordinary messages sent:        {run.ordinary_sent}")
    print(f"  crisis messages sent:          {len(run.crisis_sent)}")
    print(f"  escalations lost:              {len(lost)}" + (f"  {lost}" if lost else ""))
    print(f"  duplicate alerts:              {duplicates}")
    if duplicates:
        print(f"    members alerted twice+:      {sorted(n for n, c in counts.items() if c > 1)}")
    print(f"  stuck alerts (kill between crisis and alert): {len(stuck)}; longest kill-to-alert "
          f"{figures['fault_max_kill_to_alert_s']} s"
          + (f" ({max(stuck)[1]})" if stuck else ""))
    print(f"  crisis-to-alert latency:       p50 {figures['fault_alert_p50_s']} s, "
          f"p99 {figures['fault_alert_p99_s']} s, max {max(latencies, default=0):.3f} s")
    print(f"  check-in waves:                {len(run.waves)} waves, {len(run.wave_groups)} groups "
          f"scheduled ({len(run.wave_groups) and len(run.wave_groups) // max(1, len(run.waves))} "
          f"a minute; {setup_seconds:.1f} s to /setup the groups)")
    for number, wave in enumerate(run.waves, 1):
        wave_claims = [row[3] for chat in wave.chats for row in claims.get(chat, [])]
        wave_firsts = [first_prompt[chat] for chat in wave.chats if chat in first_prompt]
        line = (f"    wave {number} due {clock(wave.due)}: {len(wave_firsts)}/{len(wave.chats)} "
                "prompted")
        if wave_claims:
            line += (f", claimed +{min(wave_claims) - wave.due:.1f}"
                     + (f"..+{max(wave_claims) - wave.due:.1f}"
                        if max(wave_claims) - min(wave_claims) > 0.05 else "") + " s")
        if wave_firsts:
            line += (f", prompts out +{min(wave_firsts) - wave.due:.1f}.."
                     f"+{max(wave_firsts) - wave.due:.1f} s")
        if wave.aimed_kill is not None and wave.aimed_predicted is not None:
            line += (f"; kill aimed at the sweep predicted +{wave.aimed_predicted - wave.due:.1f} s"
                     f" landed +{wave.aimed_kill - wave.due:.1f} s")
        print(line)
    print(f"  check-in prompts:              due {len(due)}, sent {len(prompt_sends)}, missing "
          f"{len(missing)}" + (f" {missing[:10]}" if missing else "")
          + f"; due-to-prompt p50 {figures['fault_checkin_prompt_late_p50_s']} s, "
          f"max {figures['fault_checkin_prompt_late_max_s']} s")
    print(f"  duplicate prompts:             {duplicate_prompts} (groups prompted twice+: "
          f"{sum(1 for v in prompt_sends.values() if len(v) > 1)})")
    print(f"  double check-ins (two prompts for one group and day): {len(double)}"
          + (f" {double[:10]}" if double else "")
          + f"; wrong local day or kind: {len(wrong_day)}; prompts sent but never claimed: "
          f"{len(unrecorded)}")
    print(f"  prompt deliveries in the outbox at the end: {facts['statuses']}")
    print(f"  kills while a due prompt was still unsent: {amid}")
    print(f"  duplicates (alerts + prompts): {all_duplicates}  "
          f"({figures['fault_duplicates_per_kill']} per kill; at most "
          f"{figures['fault_max_duplicates_one_kill']} after one kill; "
          f"{figures['fault_duplicates_without_kill']} with no kill before them)")
    for repeat in repeated[:30]:
        nearest = min(run.kills, key=lambda k: abs(k - repeat.first), default=None)
        cause = f"kill {repeat.cause - repeat.first:+.2f} s ({run.kill_notes[repeat.cause]})" \
            if repeat.cause is not None else "no kill" + (
                f" (nearest {nearest - repeat.first:+.2f} s, {run.kill_notes[nearest]})"
                if nearest is not None else "")
        crisis = run.crisis_sent.get(repeat.item.removeprefix("alert:"))
        print(f"    {repeat.item}: first {clock(repeat.first)}"
              + (f" ({repeat.first - crisis:.2f} s after the crisis)" if crisis else "")
              + f", again +{repeat.at - repeat.first:.2f} s; charged to {cause}")
    print(f"  balancer: {balancer.forwarded} forwarded, statuses {balancer.statuses}, "
          f"{balancer.failovers} failovers ({balancer.timeouts} timeouts), "
          f"{balancer.status_502} x 502")
    print(f"  updates still pending at the fake: {len(fake.pending_updates)}")
    return figures


async def main(kills: int, wave_size: int, tmp: Path) -> dict[str, float | int]:
    """Run the whole experiment (bot logs go to `tmp`) and return the figures."""
    crisis_limit = max(40, kills * 3 + 40)
    # Enough groups for a wave every minute of the chaos, and one more.
    wave_groups = wave_size * (math.ceil(kills * SECONDS_PER_KILL / 60.0) + 1) if wave_size else 0
    fake = build_fake(crisis_limit, wave_groups)
    run = Run()
    env_file = tmp / "none.env"
    slots = [BotProcess(i, free_port(), tmp / f"bot{i}.log") for i in range(PROCESSES)]
    balancer = Balancer([slot.port for slot in slots])
    database_url = await create_pg_database()
    session = aiohttp.ClientSession()
    print(f"database {database_url.rsplit('/', 1)[1]}, logs in {tmp}", flush=True)
    try:
        await fake.start()
        await balancer.start()
        webhook = f"http://127.0.0.1:{balancer.port}{PATH}"

        async def restart(slot: BotProcess) -> None:
            await start_process(slot, fake, database_url, webhook, env_file)

        # The first process migrates the fresh database alone; then the group is set up.
        await restart(slots[0])
        if not await wait_ready(slots[0], session, timeout=60.0):
            raise RuntimeError(f"the first bot process did not start; see {slots[0].log}")
        fake.user_sends(GROUP, FACILITATOR, "/setup")
        await fake.wait_for(lambda r: r.chat_id == GROUP and "set up" in (r.text or ""), timeout=60)
        fake.user_starts_bot(FACILITATOR)
        await fake.wait_for(lambda r: r.chat_id == FACILITATOR, timeout=30)
        for slot in slots[1:]:
            await restart(slot)
        for slot in slots[1:]:
            if not await wait_ready(slot, session, timeout=60.0):
                raise RuntimeError(f"bot process {slot.index} did not start; see {slot.log}")
        print(f"3 processes ready (ports {[s.port for s in slots]}); balancer on {balancer.port}",
              flush=True)
        setup_seconds = await setup_wave_groups(fake, wave_groups, timeout=300.0)
        print(f"{wave_groups} wave groups set up in {setup_seconds:.1f} s; waves of {wave_size}",
              flush=True)

        stop = asyncio.Event()
        traffic = [asyncio.create_task(chatter(fake, run, stop, rate=4.0)),
                   asyncio.create_task(crises(fake, run, stop, crisis_limit))]
        wave_task = asyncio.create_task(waves(database_url, run, wave_groups, wave_size))
        await asyncio.sleep(2.0)
        await chaos(fake, slots, run, kills, restart, session, balancer, log=True)
        await asyncio.sleep(3.0)
        stop.set()
        await asyncio.gather(*traffic, wave_task)

        # Quiet: every crisis alerted, every wave due and prompted, nothing pending, and past any
        # lease a kill left behind. Bounded: two sweep intervals and more after the last wave.
        last_due = max((wave.due for wave in run.waves), default=0.0)
        deadline = time.monotonic() + max(60.0, last_due - time.time() + 120.0)
        quiet_after = max(run.kills[-1] + 15.0 if run.kills else 0.0, last_due + 1.0)
        while time.monotonic() < deadline:
            alerted = {name for name, _ in alerts(fake)}
            prompted = {chat for chat, _, _ in prompts(fake, run.wave_groups)}
            if (all(name in alerted for name in run.crisis_sent) and not fake.pending_updates
                    and all(chat in prompted for chat in run.wave_groups)
                    and time.time() > quiet_after):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
        facts = await database_facts(database_url)
        return report(fake, run, balancer, facts, setup_seconds)
    finally:
        for slot in slots:
            if slot.alive:
                assert slot.process is not None
                slot.process.send_signal(signal.SIGTERM)
        for slot in slots:
            if slot.process is not None and slot.process.returncode is None:
                try:
                    await asyncio.wait_for(slot.process.wait(), timeout=15)
                except TimeoutError:
                    await kill(slot)
        await session.close()
        await balancer.stop()
        await fake.stop()
        await drop_pg_database(database_url)


def cli() -> None:
    """Parse the arguments, run, print the JSON figures as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=100, help="how many SIGKILLs (default 100)")
    parser.add_argument("--quick", action="store_true", help="10 kills")
    parser.add_argument("--wave-size", type=int, default=WAVE_SIZE,
                        help=f"groups falling due each minute (default {WAVE_SIZE}; 0: no waves)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the bot processes' logs")
    args = parser.parse_args()
    kills = 10 if args.quick else max(0, args.kills)
    tmp = Path(tempfile.mkdtemp(prefix="kindred-fault-"))
    try:
        figures = asyncio.run(main(kills, max(0, args.wave_size), tmp))
    finally:
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
