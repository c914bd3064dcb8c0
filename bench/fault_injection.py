"""Fault injection: three real bot processes on one PostgreSQL database, SIGKILLed at random under traffic.

Run as ``.venv/bin/python bench/fault_injection.py [--kills N] [--quick]``. The fake Telegram Bot API
server and a small round-robin load balancer run in this script's event loop; the fake delivers every
update by webhook to the balancer, which forwards it to a live ``python -m bot`` process. While member
chatter and crisis messages (each from a different member) flow, a random process is killed with
SIGKILL and restarted, again and again. At the end the script reports escalations lost, duplicate
alerts, the longest kill-to-stuck-alert time and the crisis-to-alert latency, and prints one JSON line
of figures last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
from pathlib import Path

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
    ordinary_sent: int = 0
    restart_waits: list[float] = field(default_factory=list)
    restarts_not_ready: int = 0


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
            except (aiohttp.ClientError, TimeoutError, OSError):
                self.failovers += 1
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
                    return True
        await asyncio.sleep(0.1)
    return False


async def kill(slot: BotProcess) -> None:
    """SIGKILL the process of `slot` and reap it."""
    if slot.process is not None and slot.process.returncode is None:
        slot.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(slot.process.wait(), timeout=10)


def build_fake(crisis_members: int) -> FakeTelegram:
    """The fake server: one supergroup, its facilitator, crisis members and chatty members."""
    fake = FakeTelegram(record_calls=False)
    fake.add_user(FACILITATOR, "Dana", "dana_fac", "en", last_name="Reyes")
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


async def chaos(slots: list[BotProcess], run: Run, kills: int, restart: object,
                session: aiohttp.ClientSession, balancer: Balancer, log: bool) -> None:
    """`kills` times: SIGKILL a process, restart it on its port, wait until it answers.

    Every other kill is aimed at the process handling a crisis message that just arrived; the
    others pick a random process at a random moment.
    """
    rng = random.Random(3)
    for n in range(kills):
        await asyncio.sleep(rng.uniform(2.0, 4.0))
        slot = None
        if n % 2 == 1:
            slot = await crisis_target(slots, run, balancer, rng)
            run.targeted_kills += slot is not None
        slot = slot or rng.choice(slots)
        run.kills.append(time.time())
        await kill(slot)
        began = time.monotonic()
        await restart(slot)  # type: ignore[operator]
        if await wait_ready(slot, session, timeout=30.0):
            run.restart_waits.append(time.monotonic() - began)
        else:
            run.restarts_not_ready += 1
        if log:
            print(f"  kill {n + 1}/{kills}: process {slot.index} restarted in "
                  f"{time.monotonic() - began:.1f} s", flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def report(fake: FakeTelegram, run: Run, balancer: Balancer) -> dict[str, float | int]:
    """Compute the figures, print the human summary, return the JSON figures."""
    firsts: dict[str, SentRecord] = {}
    counts: dict[str, int] = {}
    for name, record in alerts(fake):
        counts[name] = counts.get(name, 0) + 1
        firsts.setdefault(name, record)
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
    kills = len(run.kills)
    figures: dict[str, float | int] = {
        "fault_kills": kills,
        "fault_crisis_messages": len(run.crisis_sent),
        "fault_escalations_lost": len(lost),
        "fault_duplicate_alerts": duplicates,
        "fault_duplicates_per_kill": round(duplicates / kills, 3) if kills else 0.0,
        "fault_max_kill_to_alert_s": round(max((s for s, _ in stuck), default=0.0), 3),
        "fault_alert_p50_s": round(percentile(latencies, 50), 3),
        "fault_alert_p99_s": round(percentile(latencies, 99), 3),
    }
    print()
    print("Fault injection: 3 bot processes on PostgreSQL, Telegram webhooks behind a balancer")
    print(f"  kills (SIGKILL + restart):     {kills}  (restarts not ready in 30 s: "
          f"{run.restarts_not_ready}; aimed at a crisis in flight: {run.targeted_kills}; "
          f"restart-to-healthy p50 "
          f"{percentile(run.restart_waits, 50):.2f} s, max {max(run.restart_waits, default=0):.2f} s)")
    print(f"  ordinary messages sent:        {run.ordinary_sent}")
    print(f"  crisis messages sent:          {len(run.crisis_sent)}")
    print(f"  escalations lost:              {len(lost)}" + (f"  {lost}" if lost else ""))
    print(f"  duplicate alerts:              {duplicates}  ({figures['fault_duplicates_per_kill']} per kill)")
    if duplicates:
        print(f"    members alerted twice+:      {sorted(n for n, c in counts.items() if c > 1)}")
    print(f"  stuck alerts (kill between crisis and alert): {len(stuck)}; longest kill-to-alert "
          f"{figures['fault_max_kill_to_alert_s']} s"
          + (f" ({max(stuck)[1]})" if stuck else ""))
    print(f"  crisis-to-alert latency:       p50 {figures['fault_alert_p50_s']} s, "
          f"p99 {figures['fault_alert_p99_s']} s, max {max(latencies, default=0):.3f} s")
    print(f"  balancer: {balancer.forwarded} forwarded, statuses {balancer.statuses}, "
          f"{balancer.failovers} failovers, {balancer.status_502} x 502")
    print(f"  updates still pending at the fake: {len(fake.pending_updates)}")
    return figures


async def main(kills: int, tmp: Path) -> dict[str, float | int]:
    """Run the whole experiment (bot logs go to `tmp`) and return the figures."""
    crisis_limit = max(40, kills * 3 + 40)
    fake = build_fake(crisis_limit)
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

        stop = asyncio.Event()
        traffic = [asyncio.create_task(chatter(fake, run, stop, rate=4.0)),
                   asyncio.create_task(crises(fake, run, stop, crisis_limit))]
        await asyncio.sleep(2.0)
        await chaos(slots, run, kills, restart, session, balancer, log=True)
        await asyncio.sleep(3.0)
        stop.set()
        await asyncio.gather(*traffic)

        # Quiet: every crisis alerted and nothing pending, and past any lease a kill left behind.
        deadline = time.monotonic() + 60.0
        quiet_after = run.kills[-1] + 15.0 if run.kills else 0.0
        while time.monotonic() < deadline:
            alerted = {name for name, _ in alerts(fake)}
            if (all(name in alerted for name in run.crisis_sent) and not fake.pending_updates
                    and time.time() > quiet_after):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
        return report(fake, run, balancer)
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
    parser.add_argument("--quick", action="store_true", help="5 kills")
    parser.add_argument("--keep-logs", action="store_true", help="keep the bot processes' logs")
    args = parser.parse_args()
    kills = 5 if args.quick else max(0, args.kills)
    tmp = Path(tempfile.mkdtemp(prefix="kindred-fault-"))
    try:
        figures = asyncio.run(main(kills, tmp))
    finally:
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    cli()
