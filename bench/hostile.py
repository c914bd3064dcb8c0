"""Benchmark: hostile input (issue #8.4): Hypothesis over every command, message, button and form.

Claim: whatever arrives (any command and subcommand with any arguments, any message text, any
button payload or form values, from a member, a moderator, a facilitator or a stranger, in a
group chat, a group the bot does not know, or a private chat), the real application core
(`bot.bootstrap.build_application` on SQLite, fed through `app.runtime.handle` exactly as an
adapter feeds it) never raises, never logs an error, and never lets anyone run a command or
take an action above their role.

What runs: Hypothesis `@given` bodies, generate phase only (no shrinking: a crash is recorded
with its exact input and the run goes on), each example one inbound event. Events are handed to
`Runtime.handle` on one long-lived event loop per worker, 300 at a time, the way the Telegram
adapter hands over a `getUpdates` answer: chats concurrently, each chat's events in order (so
one person may act in a group and in their private chat at the same moment, as in production).
Batches of 300 rather than Telegram's 100 keep every chat busy to the end of a batch and let
the event ledger commit more events together: 12% less CPU per example, same semantics.
One worker process per core (HOSTILE_WORKERS), each with its own application, database and
seed; the figures add them up. Three strategies share the examples equally:

1. commands: every registered command and subcommand name (plus unknown names, case variants
   and `@bot` suffixes) with argument lists mixing well-formed values per declared parameter
   kind and hostile text; `@name` arguments are resolved to mentions as an adapter would;
   sometimes an interaction token and an attachment (for `/resource import`);
2. messages: arbitrary text in group and private chats (this also drives the onboarding
   answers and the guided `/resource add` draft a facilitator may have open);
3. buttons (and forms): random payloads, real payloads of this database (a check-in prompt, an
   open alert, a group's own resource, the erase confirmation), real prefixes with hostile
   tails, and character-level mutations of real payloads; one example in eight is a submitted
   form (`group_rules`, `group_welcome`, `resource_add`, or an unknown one) with hostile values.

Hostile text is any Unicode except surrogates, control and format characters (RTL overrides,
zero-width joiners, BOM), combining marks, whitespace-only strings, strings up to 5,000
characters, SQL/HTML/Markdown/format-string injections, matplotlib mathtext (`$...$`), mentions,
out-of-range numbers and digit look-alikes that `str.isdigit` accepts and `int` refuses ("²").
Display names, group titles and language hints (which people choose) are hostile too.

The world: group A (`fac` facilitator, `mod` moderator, `mem` member), group B (`mod` is its
facilitator, `mem` a member, `fac` only a member there), a group that was never set up, and a
`stranger`; so the role check is exercised across groups as well as within one. Set up through
real events (`/setup`, `/moderator add`, joins, "I agree", `/checkins now`, a resource form, a
crisis message), so real payloads point at real rows.

How a role violation is detected (two independent checks, neither trusting the dispatcher):

* every command handler in the registry is wrapped (in this process only) so that a handler
  that runs compares the sender's *intended* role (the fixed table above, in the group the
  handler acts on: the chat's group, the group a private command was narrowed to, or the
  sender's highest role when no group applies) with the role the command declares. A member
  or moderator whose facilitator handler runs is a violation, however it got there;
* every 50 handled examples and after every batch, new audit-log rows are read (the suspects
  are the latest examples of the actor): every state-changing staff action writes
  one in the same transaction (role grants, group settings, keywords, check-in schedule,
  resources, alert acknowledgement and closing, alert subscriptions, on-call), including those
  reached through buttons and forms, which the command check cannot see. An audited action by a
  persona whose intended role in that row's group is below the action's role is a violation;
  after each chunk the stored roles of the personas are also compared with the table (a role
  raised without an audit row would show there).

Reply text ("Sorry, only a group ...") is deliberately not the check: a facilitator's
`/group language es` legitimately changes every reply's language, and a refusal that is
worded right says nothing about whether the handler ran anyway. To keep the intended table
true, mentions typed by someone who facilitates where they type resolve only to bystanders
(so legitimate grants never touch the personas), while mentions typed by anyone else may name
any persona, themselves included (`/facilitator add @mem` by `mem`). Legitimate demotions (a
persona pressing a real erase button erases its memberships) are healed after each chunk.
With the dispatcher's role check disabled in-process, both checks fire within 1,500 examples.

Errors: a handler on the root logger counts every record at ERROR or above (and warnings,
Python warnings included);
the summary shows the logger, the message, the exception type and the innermost frame in the
repository, never user text, and the exact example being handled (synthetic data). Every
`handle` has a 30 s timeout, counted as a crash. The database is SQLite in a temporary
directory (on /dev/shm where there is one: the run measures the core, not the disk); the
application is rebuilt on a fresh database every REBUILD_EVERY examples of a worker so the
database size does not drift through the run.

Cost: about 2 ms of CPU per example is Hypothesis (mostly its fixed cost per test case) and
about 7 ms the application (each SQLAlchemy session on aiosqlite costs ~0.8 ms of CPU and an
event opens several), so the run is CPU-bound: ~100 examples/s per free core.

Run: `.venv/bin/python bench/hostile.py [--quick]`; the last line is one JSON object.
HOSTILE_SEED repeats a run's examples (with the same HOSTILE_WORKERS; the seed is printed),
HOSTILE_EXAMPLES overrides the count.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import multiprocessing
import os
import random
import re
import sys
import tempfile
import time
import traceback
import unicodedata
import zlib
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlmodel import col  # noqa: E402

from bench.harness import RecordingPlatform  # noqa: E402
from bot.bootstrap import Application, build_application  # noqa: E402
from bot.core.actions import Action, Delivered  # noqa: E402
from bot.core.commands import CommandHandler, CommandRegistry, CommandSpec, Param  # noqa: E402
from bot.core.context import CommandContext  # noqa: E402
from bot.core.events import (  # noqa: E402
    Attachment,
    ButtonPressed,
    CommandInvoked,
    EventMeta,
    FormSubmitted,
    InboundEvent,
    MemberJoined,
    Mention,
    MessageReceived,
)
from bot.core.identity import ChatRef, MessageRef, UserRef  # noqa: E402
from bot.core.models import Membership  # noqa: E402
from bot.core.roles import Role  # noqa: E402
from bot.privacy.service import _fingerprint  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.tables import (  # noqa: E402
    AuditRow,
    CheckinPromptRow,
    EscalationRow,
    GroupRow,
    MembershipRow,
    ResourceRow,
)

PLATFORM = "bench"
FULL_EXAMPLES = 100_000
QUICK_EXAMPLES = 3_000
CHUNK = 2_500  # examples per Hypothesis run (one strategy); strategies take turns
REBUILD_EVERY = 25_000  # a fresh application and database after this many examples
HANDLE_TIMEOUT_S = 30.0
T = TypeVar("T")
BATCH = 300  # examples handed over together (three Telegram getUpdates answers' worth)
AUDIT_EVERY = 50  # handled examples between two reads of the audit log
SHOW = 10  # distinct crashes / log records / violations shown in the summary

# -- the world ------------------------------------------------------------------------------------
PERSONAS = ("fac", "mod", "mem", "stranger")
BYSTANDERS = ("bys1", "bys2", "bys3")
PLACES = ("gA", "gB", "gZ", "dm")  # gZ: a group chat that was never set up
SET_UP = ("gA", "gB")
INTENDED: dict[tuple[str, str], Role] = {
    ("fac", "gA"): Role.FACILITATOR,
    ("mod", "gA"): Role.MODERATOR,
    ("mod", "gB"): Role.FACILITATOR,
    ("mem", "gA"): Role.MEMBER,
    ("mem", "gB"): Role.MEMBER,
}
CRISIS_TEXT = "I want to die, I can't do this anymore"


def user(persona: str) -> UserRef:
    """The platform identity of a persona or bystander."""
    return UserRef(PLATFORM, persona)


def group_key(place: str) -> str:
    """The support-group key of a group place."""
    return f"{PLATFORM}:{place}"


def intended_role(persona: str, place: str | None) -> Role:
    """The role the table gives `persona` in group `place`, or its highest anywhere (None)."""
    if place is None:
        return max((r for (p, _), r in INTENDED.items() if p == persona), default=Role.MEMBER)
    return INTENDED.get((persona, place), Role.MEMBER)


def required_role(action: str) -> Role:
    """The role an audited action needs; unknown actions count as facilitator-only."""
    if action == "consent.given":
        return Role.MEMBER
    if action.startswith(("escalation.", "alerts.", "oncall.")):
        return Role.MODERATOR
    return Role.FACILITATOR


# -- examples (what Hypothesis draws; the event is built from it at run time) ----------------------
@dataclass(frozen=True)
class Who:
    """Who sends, where, and what the platform says about them."""

    sender: str
    place: str
    name: str
    language: str | None
    title: str


@dataclass(frozen=True)
class CommandExample:
    """A command invocation."""

    who: Who
    name: str
    args: tuple[str, ...]
    interaction: bool
    attachment: bytes | None


@dataclass(frozen=True)
class MessageExample:
    """A message."""

    who: Who
    text: str
    edited: bool


@dataclass(frozen=True)
class ButtonExample:
    """A button press: `text` as it is ("random", "prefix"), or real payload number `index` of
    the current database as it is ("real") or after character `edits` ("mutated")."""

    who: Who
    kind: Literal["random", "prefix", "real", "mutated"]
    text: str
    index: int
    edits: tuple[tuple[int, int, str], ...]  # (position, 0 delete / 1 insert / 2 replace, char)
    message: bool
    interaction: bool


@dataclass(frozen=True)
class FormExample:
    """A submitted form."""

    who: Who
    form: str
    values: tuple[tuple[str, str], ...]


Example = CommandExample | MessageExample | ButtonExample | FormExample


@dataclass(frozen=True, slots=True)
class Item:
    """An example on its way through the application."""

    example: Example
    event: InboundEvent
    number: int
    build: int


CURRENT: contextvars.ContextVar[Item | None] = contextvars.ContextVar("hostile_item", default=None)

# -- hostile text ---------------------------------------------------------------------------------
NASTY = (
    "", " ", "\x00", "\u202e", "\u202egnp.exe", "\u200b", "\u200d", "\ufeff", "\u2028", "\r\n",
    "'; DROP TABLE groups; --", "\" OR 1=1 --", "1; DELETE FROM memberships", "%", "_", "\\",
    "<script>alert(1)</script>", "<b>", "</code>", "<a href='javascript:x'>x</a>", "&amp;",
    "*bold* _it_ `code` ```block```", "[x](javascript:alert(1))", "||spoiler||", "~~s~~",
    "@everyone", "@here", "<@123456789012345678>", "<#1>", "<@&1>", "@", "@@", "@fac", "@mod",
    "@mem", "@stranger", "@bys1", "@" + "a" * 300, "/setup", "/group hold on", "{name}",
    "{0}", "{", "}", "{{}}", "%s%s%s%n", "%(name)s", "${jndi:ldap://x}", "../../etc/passwd",
    "=cmd|' /C calc'!A0", "+1", "-1", "0", "-0", "00", "٣", "²", "Ⅻ", "1e309", "NaN", "inf",
    "9" * 30, "-" + "9" * 19, "4611686018427387904", "4611686018427387903", "2147483648",
    "25:61", "24:00", "23:59", "7.30", "19h30", "mon,,tue", ",", "lun,mié", "every", "weekends",
    "en", "es", "EN", "fr", "zz-ZZ", "UTC", "Europe/Madrid", "Etc/GMT+14", "America/", "../UTC",
    "I want to die", "quiero morirme", "I'm going to kill myself tonight", "kms", "k1ll mys3lf",
    "Z̷̢͓a̸l̵g̶o̷", "👨‍👩‍👧‍👦", "🏳️‍🌈", "𝕏𝕪𝕫", "ﷺ", "᠎", "\U0010ffff", "\ue000",
    "skip", "done", "cancel", "SKIP", "yes", "no", "on", "off", "here",
    "$^^$", "$\\frac{$", "Dads $\\foo$ club", "$x$", "$$",  # matplotlib mathtext
)
_ANY = st.characters(exclude_categories=["Cs"])
# Control and format characters (RTL overrides, zero-width), odd spaces, combining marks, private
# use and a few unassigned code points; a list, which Hypothesis draws from far faster than from
# the scattered ranges of those categories.
ODD_CHARS = [chr(c) for c in (*range(0x20000), *range(0xE0000, 0xE0080))
             if unicodedata.category(chr(c)) in
             {"Cc", "Cf", "Zs", "Zl", "Zp", "Me"} or (unicodedata.category(chr(c)) == "Mn"
                                                      and c < 0x2000)]
ODD_CHARS += ["\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\u0378", "\uffff", "\U0010ffff"]
_ODD = st.sampled_from(ODD_CHARS)
_SPACE = st.sampled_from(" \t\n\r\u00a0\u2000\u2003\u3000\u200b\u180e\u2028\u2029\x0b\x0c\x85")


def _huge(piece: str, times: int) -> str:
    return (piece * times)[:5000]


def hostile_text(short: bool = False) -> st.SearchStrategy[str]:
    """Any text a hostile or careless person could send."""
    base: list[st.SearchStrategy[str]] = [
        st.text(_ANY, max_size=20 if short else 80),
        st.text(_ODD, max_size=12 if short else 40),
        st.sampled_from(NASTY),
        st.text(_SPACE, max_size=10),
        st.integers(-(10**20), 10**20).map(str),
        st.lists(st.one_of(st.sampled_from(NASTY), st.text(_ANY, max_size=8),
                           st.text(_ODD, max_size=4)), max_size=6).map("".join),
    ]
    if not short:
        base.append(st.builds(_huge, st.text(_ANY, min_size=1, max_size=12)
                              | st.sampled_from([n for n in NASTY if n]),
                              st.integers(1, 5000)))
    return st.one_of(base)


TEXT = hostile_text()
SHORT = hostile_text(short=True)


# Group titles reach replies, alerts and the report chart's title (/setup takes the current one).
TITLES = ("", "Parents of Teens", "Parents $^^$", "$\\frac{$", "Dads $\\foo$ club", "\u202eevil",
          "<b>x</b>", "@everyone", "{group}", "%s", "x" * 300, "Z̷̢͓a̸l̵g̶o̷", "\x00\n\t")
# Strings that `str.isdigit` accepts but `int` does not (or that overflow a 64-bit column).
DIGITS = st.one_of(
    st.text(st.sampled_from("0123456789²³¹①⑨٣۴߃०𝟙"), min_size=1, max_size=6),
    st.sampled_from(["9" * 19, "9" * 20, str(2**63), str(2**63 - 1), "0" * 30 + "1"]))


def who() -> st.SearchStrategy[Who]:
    """A sender, a place and what the platform says about them (names are chosen by people)."""
    return st.builds(
        Who, sender=st.sampled_from(PERSONAS), place=st.sampled_from(PLACES),
        name=st.one_of(st.just("Sam"), SHORT),
        language=st.one_of(st.none(), st.sampled_from(["en", "es", "es-MX", "pt-BR"]), SHORT),
        title=st.one_of(st.sampled_from(TITLES), SHORT))


WHO = who()
TEXTS = st.lists(TEXT, max_size=8)
EXTRA = st.lists(SHORT, min_size=1, max_size=3)
_PLAUSIBLE: dict[str, st.SearchStrategy[str]] = {
    "time": st.one_of(
        st.builds(lambda h, m, sep: f"{h}{sep}{m:02d}", st.integers(-1, 30),
                  st.integers(0, 70), st.sampled_from([":", ".", "h", "", "::"])),
        st.sampled_from(["19:30", "7.30", "19h30", "24:00", "0:00", "23:59", "1930"])),
    "days": st.one_of(
        st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "lun",
                                  "mié", "MON", "monday", "x", ""]), max_size=9).map(",".join),
        st.sampled_from(["weekdays", "daily", "weekends", "laborables", "todos", "everyday"])),
    "user": st.one_of(st.sampled_from([f"@{p}" for p in (*PERSONAS, *BYSTANDERS)]),
                      SHORT.map(lambda s: "@" + s)),
    "language": st.sampled_from(["en", "es", "EN", "Es", "fr", "", "e", "english"]),
}


def param_value(param: Param) -> st.SearchStrategy[str]:
    """A value for one declared parameter: often well-formed, sometimes just off, sometimes junk."""
    if param.kind == "rest":
        return st.lists(TEXT, min_size=1, max_size=4).map(" ".join)
    if param.kind == "int":
        edges = [str(v) for v in (param.minimum, param.maximum) if v is not None]
        plausible: st.SearchStrategy[str] | None = st.one_of(
            st.integers(-3, 400).map(str),
            st.sampled_from([*edges, str((param.minimum or 0) - 1), str((param.maximum or 0) + 1),
                             "4611686018427387905", "1" * 10, "+3", "03", "٣", " 3"]),
            st.integers().map(str))
    elif param.kind == "choice" and param.choices:
        plausible = st.sampled_from([*param.choices, *(c.upper() for c in param.choices)])
    else:
        plausible = _PLAUSIBLE.get(param.kind)
    if plausible is None:
        return TEXT
    return st.one_of(plausible, plausible, TEXT)


def _arguments(spec: CommandSpec) -> st.SearchStrategy[tuple[str, ...]]:
    """Arguments for one command or subcommand: each declared parameter, maybe extra words."""
    params = [(p.optional, param_value(p)) for p in spec.params]

    @st.composite
    def draw_args(draw: st.DrawFn) -> tuple[str, ...]:
        if draw(st.integers(0, 4)) == 0:  # no shape at all
            return tuple(draw(TEXTS))
        args = [draw(value) for optional, value in params
                if not (optional and draw(st.booleans()))]
        if draw(st.integers(0, 3)) == 0:
            args += draw(EXTRA)
        return tuple(args)

    return draw_args()


def _invocations(spec: CommandSpec) -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    """The name and arguments of one registered command, its subcommands spelled several ways."""
    name_variants = st.sampled_from([spec.name.upper(), spec.name.title(), f"{spec.name}@KindredBot",
                                     f"/{spec.name}", f"{spec.name} ", spec.name[:-1],
                                     f"{spec.name}s"])
    names = st.integers(0, 19).flatmap(
        lambda roll: SHORT if roll == 0 else name_variants if roll == 1 else st.just(spec.name))
    if not spec.subcommands:
        return st.tuples(names, _arguments(spec))
    subs = [st.tuples(st.sampled_from([s.name, s.name.upper(), s.name.title()]), _arguments(s))
            .map(lambda pair: (pair[0], *pair[1])) for s in spec.subcommands]
    bare = st.one_of(st.just(()), st.tuples(SHORT), TEXTS.map(tuple))
    return st.tuples(names, st.one_of(*subs, *subs, bare))


ATTACHMENTS = st.one_of(
    st.binary(max_size=300),
    TEXT.map(lambda s: ("name,categories,phone,url\n" + s).encode("utf-8", "replace")),
    st.lists(st.lists(SHORT, max_size=6).map(",".join), max_size=8).map(
        lambda rows: ("name,categories\n" + "\n".join(rows)).encode()))


def commands(registry: CommandRegistry) -> st.SearchStrategy[CommandExample]:
    """Strategy 1: every command and subcommand, with plausible and hostile arguments."""
    invocation = st.one_of([_invocations(spec) for spec in registry.all()])
    attachment = st.integers(0, 9).flatmap(
        lambda roll: ATTACHMENTS if roll == 0 else st.none())
    return st.builds(lambda w, call, interaction, data: CommandExample(
        who=w, name=call[0], args=call[1], interaction=interaction, attachment=data),
        WHO, invocation, st.booleans(), attachment)


def messages() -> st.SearchStrategy[MessageExample]:
    """Strategy 2: arbitrary message text in any chat."""
    return st.builds(MessageExample, who=WHO,
                     text=st.one_of(TEXT, st.lists(TEXT, max_size=4).map(" ".join)),
                     edited=st.booleans())


REAL_PREFIXES = (
    "ci:m:", "ci:p:", "ci:c:", "ci:", "onb:agree:", "onb:tz:", "onb:lang:", "onb:ci:", "onb:at:",
    "onb:set:", "onb:city", "onb:", "res:c:g:", "res:c:p:", "res:m:g:0:-:", "res:m:p:", "res:t:g:",
    "res:d:", "res:rm:g:", "res:keep:p:", "res:", "crisis:ack:", "crisis:resolve:",
    "crisis:false:", "crisis:", "priv:forget:", "priv:cancel", "priv:", ":", "::", "",
)


def buttons() -> st.SearchStrategy[ButtonExample | FormExample]:
    """Strategy 3: button payloads (random, real, real prefixes, mutations) and form submissions."""
    tail = st.one_of(SHORT, st.integers(-(10**20), 10**20).map(str), DIGITS,
                     st.lists(st.one_of(st.integers(-5, 10**6).map(str), DIGITS), max_size=4)
                     .map(":".join))
    edit = st.tuples(st.integers(0, 80), st.integers(0, 2),
                     st.one_of(st.sampled_from(":0123456789-ab ²①٣"), st.characters(
                         exclude_categories=["Cs"])))
    button = st.one_of(
        st.builds(ButtonExample, who=WHO, kind=st.just("random"),
                  text=st.one_of(SHORT, st.text(_ANY, max_size=100)), index=st.just(0),
                  edits=st.just(()), message=st.booleans(), interaction=st.booleans()),
        st.builds(ButtonExample, who=WHO, kind=st.just("prefix"),
                  text=st.builds(str.__add__, st.sampled_from(REAL_PREFIXES), tail),
                  index=st.just(0), edits=st.just(()), message=st.booleans(),
                  interaction=st.booleans()),
        st.builds(ButtonExample, who=WHO, kind=st.just("real"), text=st.just(""),
                  index=st.integers(0, 10**6), edits=st.just(()), message=st.booleans(),
                  interaction=st.booleans()),
        st.builds(ButtonExample, who=WHO, kind=st.just("mutated"), text=st.just(""),
                  index=st.integers(0, 10**6), edits=st.lists(edit, min_size=1, max_size=4)
                  .map(tuple), message=st.booleans(), interaction=st.booleans()),
    )
    form = st.builds(
        FormExample, who=WHO,
        form=st.one_of(st.sampled_from(["group_rules", "group_welcome", "resource_add"]), SHORT),
        values=st.lists(st.tuples(
            st.one_of(st.sampled_from(["text", "name", "categories", "phone", "url",
                                       "description"]), SHORT),
            st.one_of(TEXT, st.sampled_from(["food", "housing", "+1 555 0100", "https://x.org",
                                             "http://", "javascript:alert(1)"]))),
            max_size=7).map(tuple))
    return st.integers(0, 7).flatmap(lambda n: form if n == 0 else button)


# -- the application under test -------------------------------------------------------------------
@dataclass
class SinkPlatform(RecordingPlatform):
    """An instant platform that counts what it is asked to do and keeps nothing."""

    actions: Counter[str] = field(default_factory=Counter)

    async def perform(self, action: Action) -> Delivered:
        self.actions[type(action).__name__] += 1
        return Delivered(MessageRef(ChatRef(self.name, "x", "group"), str(next(self.ids))))


@dataclass
class Finding:
    """One distinct problem: how often, and the first example that showed it."""

    count: int
    first: str


def _location(tb: Any) -> str:
    """The innermost frame of a traceback inside this repository (not the venv)."""
    where = "?"
    for frame in traceback.extract_tb(tb):
        path = Path(frame.filename)
        if ROOT in path.parents and ".venv" not in path.parts:
            where = f"{path.relative_to(ROOT)}:{frame.lineno} in {frame.name}"
    return where


def _short_trace(error: BaseException) -> str:
    """The traceback's frames inside this repository, and the exception."""
    lines = [f"    {Path(f.filename).relative_to(ROOT)}:{f.lineno} in {f.name}: "
             f"{(f.line or '').strip()[:100]}"
             for f in traceback.extract_tb(error.__traceback__)
             if ROOT in Path(f.filename).parents and ".venv" not in Path(f.filename).parts]
    return "\n".join([*lines, f"    {type(error).__name__}: {str(error)[:300]}"])


class LogCounter(logging.Handler):
    """Counts records at ERROR and above (and warnings) on the root logger."""

    def __init__(self, current: Callable[[], str]) -> None:
        super().__init__(level=logging.WARNING)
        self._current = current
        self.errors = 0
        self.warnings = 0
        self.found: dict[str, Finding] = {}
        self.warned: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        """Note the record (never its arguments, which might carry user text)."""
        if record.levelno < logging.ERROR:
            self.warnings += 1
            text = str(record.msg).split("\n")[0]
            if record.name == "py.warnings":  # "…/chart.py:49: UserWarning: Glyph 135 (\x87) …"
                text = re.sub(r"\d+|\(.*?\)", "N", text.rpartition("/")[2])
            self.warned[f"{record.name}: {text}"[:160]] += 1
            return
        self.errors += 1
        kind, where = "", ""
        if record.exc_info and record.exc_info[1] is not None:
            kind = type(record.exc_info[1]).__name__
            where = _location(record.exc_info[2])
        key = f"{record.levelname} {record.name}: {str(record.msg)[:120]} [{kind} at {where}]"
        if key in self.found:
            self.found[key].count += 1
        else:
            detail = ""
            if record.exc_info and record.exc_info[1] is not None:
                detail = "\n" + _short_trace(record.exc_info[1])
            self.found[key] = Finding(1, self._current() + detail)


class Harness:
    """The running application, the intended roles, the checks and the tallies."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.app: Application | None = None
        self.platform = SinkPlatform(name=PLATFORM)
        self.builds = 0
        self.serial = 0
        # handing over: a batch at a time, chats concurrently, each chat in order
        self.queues: dict[str, deque[Item]] = {}
        self.in_flight = 0
        self.idle: asyncio.Event | None = None
        self.by_event: dict[str, Item] = {}
        self.pending: list[Item] = []
        self.drains: set[asyncio.Task[None]] = set()
        self.recent: deque[Item] = deque(maxlen=2 * BATCH)
        self.since_audit = 0
        self.audit_lock = asyncio.Lock()
        # tallies
        self.examples = 0
        self.by_strategy: Counter[str] = Counter()
        self.crashes: dict[str, Finding] = {}
        self.crash_count = 0
        self.violations: dict[str, Finding] = {}
        self.violation_count = 0
        self.attempts = 0  # commands sent by someone below the command's role
        self.handlers_run = 0
        self.staff_actions_audited = 0
        self.tracing = False
        self.audit_mark = 0
        self.group_ids: dict[str, int] = {}
        self.group_places: dict[int, str] = {}
        self.real_payloads: list[str] = []
        self.log = LogCounter(self.describe_current)

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the application's loop."""
        return self.loop.run_until_complete(work)

    # -- setup ------------------------------------------------------------------------------------
    def build(self) -> None:
        """A fresh application on a fresh SQLite database, set up through real events."""
        if self.app is not None:
            self.call(self._stop())
        self.builds += 1
        url = f"sqlite:///{self.tmp / f'hostile-{self.builds}.db'}"
        app = build_application(Settings.from_env({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}),
                                platforms={PLATFORM: self.platform})
        self.app = app
        self.call(self._start(app))

    async def _start(self, app: Application) -> None:
        self.idle = asyncio.Event()
        self.idle.set()
        await app.start()
        app.scheduler.stop()
        self._trace_handlers(app.dispatcher.commands)
        for place, admin in (("gA", "fac"), ("gB", "mod")):
            await self._legit(CommandInvoked(meta=self.meta(admin, place, admin=True), name="setup"))
        mention = Mention(token="@mod", user=user("mod"), name="Mod")
        await self._legit(CommandInvoked(meta=self.meta("fac", "gA"), name="moderator",
                                         args=("add", "@mod"), mentions=(mention,)))
        async with app.database.sessions() as session:
            rows = (await session.execute(select(GroupRow))).scalars().all()
            self.group_ids = {r.key.partition(":")[2]: r.id for r in rows if r.id is not None}
        self.group_places = {gid: place for place, gid in self.group_ids.items()}
        for place in SET_UP:
            await self._legit(MemberJoined(meta=self.meta("mem", place)))
        for staff in ("fac", "mod"):  # a private chat makes them reachable for alerts
            await self._legit(MessageReceived(meta=self.meta(staff, "dm"), text="hello",
                                              message=MessageRef(self.chat(staff, "dm"), "1")))
        await self._legit(FormSubmitted(
            meta=self.meta("fac", "gA"), form="resource_add", interaction="setup",
            values=(("name", "Hostile Test Pantry"), ("categories", "food"))))
        await self._heal()
        for place, staff in (("gA", "fac"), ("gB", "mod")):
            await self._legit(CommandInvoked(meta=self.meta(staff, place), name="checkins",
                                             args=("now",)))
        await self._refresh_payloads()
        self.audit_mark = await self._audit_high_water()

    async def _stop(self) -> None:
        assert self.app is not None
        await self.app.settle()
        await self.app.stop()

    def close(self) -> None:
        """Stop the application and its loop."""
        if self.app is not None:
            self.call(self._stop())
            self.app = None
        self.loop.close()

    async def _legit(self, event: InboundEvent) -> None:
        assert self.app is not None
        await self.app.runtime.handle(event)

    async def _heal(self) -> None:
        """Restore the intended roles and consents (a real erase button removes them legitimately)."""
        assert self.app is not None
        async with self.app.uow() as store:
            for (persona, place), role in INTENDED.items():
                gid = self.group_ids[place]
                current = await store.memberships.get(gid, user(persona))
                if current is None or current.role != role:
                    await store.memberships.save(Membership(
                        group_id=gid, user=user(persona), display_name=persona.title(),
                        granted_role=role, on_call=current.on_call if current else False))
            await store.commit()
        for place in SET_UP:
            gid = self.group_ids[place]
            await self._legit(ButtonPressed(meta=self.meta("mem", place), payload=f"onb:agree:{gid}"))
            await self._legit(MessageReceived(meta=self.meta("mem", place),
                                              message=MessageRef(self.chat("mem", place), "1"),
                                              text=CRISIS_TEXT))

    async def _refresh_payloads(self) -> None:
        """Real payloads that point at this database's rows."""
        assert self.app is not None
        async with self.app.database.sessions() as session:
            prompts = [r.id for r in (await session.execute(
                select(CheckinPromptRow).order_by(col(CheckinPromptRow.id).desc()).limit(4)
            )).scalars().all()]
            alerts = [r.id for r in (await session.execute(
                select(EscalationRow).order_by(col(EscalationRow.id).desc()).limit(4)
            )).scalars().all()]
            own = [r.id for r in (await session.execute(
                select(ResourceRow).where(col(ResourceRow.scope) != "*").limit(4)
            )).scalars().all()]
        minute = int(datetime.now(UTC).timestamp() // 60)
        day = datetime.now(UTC).strftime("%Y%m%d")
        payloads = [f"ci:m:{p}:{m}" for p in prompts for m in (0, 1, 3, 5)]
        payloads += [f"crisis:{verb}:{e}" for e in alerts for verb in ("ack", "resolve", "false")]
        payloads += [f"res:{kind}:{vis}:{n}" for n in own for kind in ("rm", "keep")
                     for vis in ("g", "p")]
        payloads += [f"onb:agree:{gid}" for gid in self.group_ids.values()]
        payloads += [f"ci:c:{m}" for m in range(6)] + [f"ci:p:{day}:2", f"ci:p:{day}:1"]
        payloads += ["onb:tz:Europe/Madrid", "onb:tz:America/Chicago", "onb:lang:es",
                     "onb:lang:en", "onb:ci:yes", "onb:ci:no", "onb:at:1900", "onb:set:tz",
                     "onb:set:lang", "onb:set:ci", "onb:city", "res:c:g:0", "res:c:p:3",
                     "res:m:g:1:-:food.bank", "res:m:p:0:2:help", "res:d:skip", "res:d:done",
                     "res:d:cancel", "priv:cancel", "priv:forget:{fp}:" + str(minute),
                     "priv:forget:{fp}:" + str(minute - 100)]
        self.real_payloads = payloads

    def _trace_handlers(self, registry: CommandRegistry) -> None:
        """Wrap every handler so a run by someone below the command's role is seen."""

        def traced(spec: CommandSpec, parent: str = "") -> CommandSpec:
            shown = f"{parent} {spec.name}".strip()
            subs = tuple(traced(s, shown) for s in spec.subcommands)
            handler = spec.handler
            if handler is None:
                return replace(spec, subcommands=subs)
            return replace(spec, subcommands=subs, handler=self._tap(spec, shown, handler))

        # The registry has no public way to swap a spec; this process's copy only.
        commands: dict[str, CommandSpec] = registry._commands
        for name, spec in list(commands.items()):
            commands[name] = traced(spec)

    def _tap(self, spec: CommandSpec, shown: str, handler: CommandHandler) -> CommandHandler:
        async def run_traced(ctx: CommandContext) -> Sequence[Action]:
            if self.tracing:
                self.handlers_run += 1
                persona = ctx.meta.sender.id
                if ctx.group is not None:  # a group set up by a hostile example counts as new
                    place: str | None = self.group_places.get(ctx.group.id or -1, ctx.group.key)
                elif ctx.meta.chat.kind == "group":
                    place = (ctx.meta.group or "").partition(":")[2]
                else:
                    place = None
                role = intended_role(persona, place)
                if role < spec.role:
                    item = self.by_event.get(ctx.meta.event_id)
                    self.violation(f"handler of /{shown} ({spec.role.label}) ran for "
                                   f"{persona} ({role.label} in {place or 'any group'})",
                                   self.describe(item) if item else self.describe_current())
            return await handler(ctx)

        return run_traced

    # -- events -----------------------------------------------------------------------------------
    def chat(self, persona: str, place: str) -> ChatRef:
        """The chat of a place (a private chat is per person)."""
        if place == "dm":
            return ChatRef(PLATFORM, f"dm-{persona}", "direct")
        return ChatRef(PLATFORM, place, "group")

    def meta(self, persona: str, place: str, *, admin: bool = False, name: str = "",
             language: str | None = None, title: str = "") -> EventMeta:
        """Event metadata as an adapter would fill it."""
        self.serial += 1
        return EventMeta(event_id=f"hostile:{self.builds}:{self.serial}",
                         occurred_at=datetime.now(UTC), chat=self.chat(persona, place),
                         sender=user(persona), sender_name=name or persona.title(),
                         group=None if place == "dm" else group_key(place),
                         group_title=title or f"Group {place}", sender_is_admin=admin,
                         sender_language=language)

    def mentions(self, persona: str, place: str, args: Sequence[str]) -> tuple[Mention, ...]:
        """Resolve `@name` arguments as an adapter would (see the module docstring for whom)."""
        facilitates = intended_role(persona, None if place == "dm" else place) >= Role.FACILITATOR
        pool = BYSTANDERS if facilitates else (*PERSONAS, *BYSTANDERS)
        found = []
        for arg in args:
            if not arg.startswith("@") or len(arg) < 2:
                continue
            named = arg[1:].strip().lower()
            if named in pool:
                target = named
            else:
                crc = zlib.crc32(arg.encode("utf-8", "replace"))
                if crc % 5 == 0:
                    continue  # the adapter could not resolve it
                target = pool[crc % len(pool)]
            found.append(Mention(token=arg, user=user(target), name=arg[1:65]))
        return tuple(found)

    def payload(self, example: ButtonExample) -> str:
        """The payload a button example stands for."""
        if example.kind in ("random", "prefix"):
            return example.text
        text = self.real_payloads[example.index % len(self.real_payloads)]
        text = text.replace("{fp}", _fingerprint(user(example.who.sender)))
        chars = list(text)
        for position, op, char in example.edits:
            at = position % (len(chars) + 1)
            if op == 0 and chars:
                del chars[min(at, len(chars) - 1)]
            elif op == 1:
                chars.insert(at, char)
            elif chars:
                chars[min(at, len(chars) - 1)] = char
        return "".join(chars)

    def event(self, example: Example) -> InboundEvent:
        """The inbound event for an example."""
        w = example.who
        meta = self.meta(w.sender, w.place, name=w.name, language=w.language, title=w.title)
        interaction = f"i{self.serial}"
        if isinstance(example, CommandExample):
            attachment = (Attachment(filename="resources.csv", content=example.attachment)
                          if example.attachment is not None else None)
            return CommandInvoked(meta=meta, name=example.name, args=example.args,
                                  message=MessageRef(meta.chat, str(self.serial)),
                                  mentions=self.mentions(w.sender, w.place, example.args),
                                  attachment=attachment,
                                  interaction=interaction if example.interaction else None)
        if isinstance(example, MessageExample):
            return MessageReceived(meta=meta, message=MessageRef(meta.chat, str(self.serial)),
                                   text=example.text, edited=example.edited)
        if isinstance(example, ButtonExample):
            return ButtonPressed(meta=meta, payload=self.payload(example),
                                 message=MessageRef(meta.chat, "1") if example.message else None,
                                 interaction=interaction if example.interaction else None)
        return FormSubmitted(meta=meta, form=example.form, values=example.values,
                             interaction=interaction)

    def count_attempt(self, example: CommandExample) -> None:
        """Count commands whose target needs more than the sender's role (must be refused)."""
        assert self.app is not None
        spec = self.app.dispatcher.commands.get(example.name)
        if spec is None:
            return
        if spec.subcommands:
            sub = spec.sub(example.args[0].lower()) if example.args else None
            if sub is None:
                return
            spec = sub
        place = example.who.place
        role = intended_role(example.who.sender, None if place == "dm" else place)
        if role < spec.role:
            self.attempts += 1

    # -- one example ------------------------------------------------------------------------------
    def feed(self, strategy: str, example: Example) -> None:
        """Queue one example; a full batch is handed to the application."""
        self.examples += 1
        self.by_strategy[strategy] += 1
        if isinstance(example, CommandExample):
            self.count_attempt(example)
        item = Item(example, self.event(example), self.examples, self.builds)
        self.by_event[item.event.meta.event_id] = item
        self.pending.append(item)
        if len(self.pending) >= BATCH:
            batch, self.pending = self.pending, []
            self.call(self._batch(batch))

    async def _batch(self, batch: list[Item]) -> None:
        """Hand a batch over as an adapter does: chats concurrently, each chat in order."""
        assert self.idle is not None
        for item in batch:
            self._enqueue(item)
        await self.idle.wait()

    def _enqueue(self, item: Item) -> None:
        assert self.idle is not None
        self.in_flight += 1
        self.idle.clear()
        chat = item.event.meta.chat.key
        queue = self.queues.get(chat)
        if queue is not None:
            queue.append(item)
            return
        self.queues[chat] = deque([item])
        self.drains.add(self.loop.create_task(self._drain(chat)))

    async def _drain(self, chat: str) -> None:
        """One chat's events in order; the chat's queue goes when it is empty."""
        assert self.app is not None and self.idle is not None
        app, queue = self.app, self.queues[chat]
        while queue:
            item = queue.popleft()
            CURRENT.set(item)
            try:
                async with asyncio.timeout(HANDLE_TIMEOUT_S):
                    await app.runtime.handle(item.event)
            except Exception as error:
                self.crash(error, item)
            CURRENT.set(None)
            self.by_event.pop(item.event.meta.event_id, None)
            self.recent.append(item)
            self.in_flight -= 1
            self.since_audit += 1
            if self.since_audit >= AUDIT_EVERY and not self.audit_lock.locked():
                self.since_audit = 0
                audit = self.loop.create_task(self._audit_now())
                self.drains.add(audit)
                audit.add_done_callback(self.drains.discard)
            if self.in_flight == 0:
                self.idle.set()
        del self.queues[chat]
        task = asyncio.current_task()
        if task is not None:
            self.drains.discard(task)

    async def _audit_now(self) -> None:
        async with self.audit_lock:
            await self._check_audit()

    def flush(self) -> None:
        """Wait until every example handed over has been handled and audited."""
        batch, self.pending = self.pending, []
        if batch:
            self.call(self._batch(batch))
        self.call(self._settle())

    async def _settle(self) -> None:
        assert self.idle is not None
        await self.idle.wait()
        async with self.audit_lock:
            await self._check_audit()

    def crash(self, error: BaseException, item: Item) -> None:
        """Note an exception that came out of `handle`."""
        self.crash_count += 1
        key = f"{type(error).__name__} at {_location(error.__traceback__)}"
        if key in self.crashes:
            self.crashes[key].count += 1
        else:
            self.crashes[key] = Finding(1, f"{self.describe(item)}\n{_short_trace(error)}")

    def violation(self, what: str, described: str) -> None:
        """Note a role violation."""
        self.violation_count += 1
        if what in self.violations:
            self.violations[what].count += 1
        else:
            self.violations[what] = Finding(1, described)

    def describe(self, item: Item) -> str:
        """One example, exactly, for reproduction (synthetic data, not user text)."""
        others = sum(1 for chat, queue in self.queues.items() if chat != item.event.meta.chat.key
                     and any(i.event.meta.sender == item.event.meta.sender for i in queue))
        concurrent = f" [same sender waiting in {others} other chat(s)]" if others else ""
        event = item.event
        sent = ""
        if isinstance(event, ButtonPressed):
            sent = f" -> payload {event.payload!r}"
        elif isinstance(event, CommandInvoked) and event.mentions:
            sent = " -> mentions " + ", ".join(f"{m.token[:40]!r}={m.user.id}"
                                               for m in event.mentions)
        return (f"example #{item.number} (build {item.build}): {item.example!r}"[:2000]
                + sent + concurrent)

    def describe_current(self) -> str:
        """The example being handled in this task, if any."""
        item = CURRENT.get()
        if item is None:
            return f"outside any example's handling (around example #{self.examples})"
        return self.describe(item)

    async def _audit_high_water(self) -> int:
        assert self.app is not None
        async with self.app.database.sessions() as session:
            rows = (await session.execute(
                select(col(AuditRow.id)).order_by(col(AuditRow.id).desc()).limit(1))).scalars().all()
        return int(rows[0] or 0) if rows else 0

    async def _check_audit(self) -> None:
        assert self.app is not None
        async with self.app.database.sessions() as session:
            rows = (await session.execute(select(AuditRow).where(
                col(AuditRow.id) > self.audit_mark).order_by(col(AuditRow.id)))).scalars().all()
        for row in rows:
            self.audit_mark = max(self.audit_mark, row.id or 0)
            persona = row.actor_key.partition(":")[2]
            if persona not in PERSONAS:
                continue
            place = None if row.group_id is None else self.group_places.get(
                row.group_id, f"group #{row.group_id}")
            needed = required_role(row.action)
            role = intended_role(persona, place)
            if needed > Role.MEMBER:
                self.staff_actions_audited += 1
            if role < needed:
                suspects = [i for i in self.recent if i.event.meta.sender.id == persona]
                self.violation(f"audited {row.action} ({needed.label}) by {persona} "
                               f"({role.label} in {place or 'any group'})",
                               f"one of the {len(suspects)} latest examples by {persona}, the "
                               f"newest: {self.describe(suspects[-1]) if suspects else '-'}")

    async def end_of_chunk(self) -> None:
        """Settle deliveries, compare stored roles with the table, heal, refresh payloads."""
        assert self.app is not None
        await self.app.settle()
        async with self.app.database.sessions() as session:
            rows = (await session.execute(select(MembershipRow))).scalars().all()
        for row in rows:
            persona = row.user_key.partition(":")[2]
            if persona not in PERSONAS:
                continue
            stored = Role.FACILITATOR if row.is_platform_admin else Role.parse(row.granted_role)
            place = self.group_places.get(row.group_id, f"group #{row.group_id}")
            if stored > intended_role(persona, place):
                self.violation(f"stored role of {persona} in {place} rose to {stored.label}",
                               f"some example before #{self.examples}")
        self.tracing = False
        await self._heal()
        await self._refresh_payloads()
        await self._check_audit()
        self.tracing = True


# -- running --------------------------------------------------------------------------------------
def run_chunk(harness: Harness, name: str, strategy: st.SearchStrategy[Any], count: int,
              run_seed: int) -> None:
    """One Hypothesis run of `count` examples of one strategy."""

    @seed(run_seed)
    @settings(max_examples=count, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck),
              verbosity=Verbosity.quiet, report_multiple_bugs=False)
    @given(strategy)
    def hostile(example: Any) -> None:
        harness.feed(name, example)

    hostile()
    harness.flush()


STRATEGIES = ("commands", "messages", "buttons")


def _shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal whole numbers."""
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def work(worker: int, shares: dict[str, int], quick: bool, run_seed: int) -> dict[str, Any]:
    """One worker process: its own application, database and event loop; returns its tallies."""
    chunk = 500 if quick else CHUNK
    cpu_started = time.process_time()
    root = logging.getLogger()
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="kindred-hostile-",
                                     dir=shm if shm.is_dir() else None) as tmp:
        harness = Harness(Path(tmp))
        root.addHandler(harness.log)
        previous_level = root.level
        root.setLevel(logging.WARNING)
        logging.captureWarnings(True)  # library warnings (matplotlib's) counted, not printed
        try:
            harness.build()
            assert harness.app is not None
            registry = harness.app.dispatcher.commands
            strategies: dict[str, st.SearchStrategy[Any]] = {
                "commands": commands(registry), "messages": messages(), "buttons": buttons()}
            harness.tracing = True
            started = time.perf_counter()
            since_build = 0
            turn = 0
            while any(harness.by_strategy[n] < shares[n] for n in STRATEGIES):
                name = STRATEGIES[turn % len(STRATEGIES)]
                turn += 1
                count = min(chunk, shares[name] - harness.by_strategy[name])
                if count <= 0:
                    continue
                if since_build >= REBUILD_EVERY:
                    harness.build()
                    harness.tracing = True
                    since_build = 0
                before = harness.examples
                run_chunk(harness, name, strategies[name], count, run_seed + turn)
                harness.call(harness.end_of_chunk())
                since_build += harness.examples - before
                print(f"   [{worker}] {harness.examples:>7} examples, "
                      f"{time.perf_counter() - started:6.1f} s", file=sys.stderr, flush=True)
        finally:
            harness.close()
            root.removeHandler(harness.log)
            root.setLevel(previous_level)
            logging.captureWarnings(False)
    return {
        "examples": harness.examples, "by_strategy": dict(harness.by_strategy),
        "crashes": harness.crash_count, "logged_errors": harness.log.errors,
        "violations": harness.violation_count, "attempts": harness.attempts,
        "handlers_run": harness.handlers_run, "staff_actions": harness.staff_actions_audited,
        "warnings": harness.log.warnings, "warned": dict(harness.log.warned),
        "actions": dict(harness.platform.actions), "builds": harness.builds,
        "cpu_s": time.process_time() - cpu_started,
        "found": {kind: {k: (f.count, f.first) for k, f in found.items()} for kind, found in (
            ("crashes", harness.crashes), ("logged errors", harness.log.found),
            ("role violations", harness.violations))},
    }


def _work(plan: tuple[int, dict[str, int], bool, int]) -> dict[str, Any]:
    return work(*plan)


def run(quick: bool = False) -> dict[str, float | int]:
    """Run the hostile-input benchmark on one worker process per core; returns its figures."""
    total = int(os.environ.get("HOSTILE_EXAMPLES", "0")) or (
        QUICK_EXAMPLES if quick else FULL_EXAMPLES)
    workers = int(os.environ.get("HOSTILE_WORKERS", "0")) or min(os.cpu_count() or 1, 8)
    base_seed = int(os.environ.get("HOSTILE_SEED", str(random.randrange(2**31))))
    per_strategy = dict(zip(STRATEGIES, _shares(total, len(STRATEGIES)), strict=True))
    split = {name: _shares(count, workers) for name, count in per_strategy.items()}
    plans = [(w, {name: split[name][w] for name in STRATEGIES}, quick, base_seed + 7919 * w)
             for w in range(workers)]
    started = time.perf_counter()
    if workers == 1:
        results = [_work(plans[0])]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_work, plans))
    elapsed = time.perf_counter() - started
    merged = _merge(results)
    figures: dict[str, float | int] = {
        "hostile_examples": merged["examples"],
        "hostile_crashes": merged["crashes"],
        "hostile_logged_errors": merged["logged_errors"],
        "hostile_role_violations": merged["violations"],
        "hostile_examples_per_s": round(merged["examples"] / elapsed, 1),
        **{f"hostile_{name}": merged["by_strategy"].get(name, 0) for name in STRATEGIES},
        "hostile_privileged_attempts": merged["attempts"],
        "hostile_staff_actions_audited": merged["staff_actions"],
        "hostile_logged_warnings": merged["warnings"],
    }
    summarise(merged, base_seed, workers, elapsed)
    return figures


def _merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Add up the workers' tallies; a finding keeps the first worker's first example."""
    merged: dict[str, Any] = {"found": {"crashes": {}, "logged errors": {}, "role violations": {}},
                              "by_strategy": Counter(), "warned": Counter(), "actions": Counter()}
    for result in results:
        for key, value in result.items():
            if key == "found":
                for kind, found in value.items():
                    for what, (count, first) in found.items():
                        seen = merged["found"][kind].get(what, (0, first))
                        merged["found"][kind][what] = (seen[0] + count, seen[1])
            elif isinstance(value, dict):
                merged[key].update(value)
            else:
                merged[key] = merged.get(key, 0) + value
    return merged


def summarise(merged: dict[str, Any], base_seed: int, workers: int, elapsed: float) -> None:
    """A short human summary on stderr."""
    out = sys.stderr
    print(f"hostile input: {merged['examples']} examples in {elapsed:.1f} s on {workers} "
          f"worker(s) {dict(merged['by_strategy'])}, HOSTILE_SEED={base_seed}, "
          f"{merged['builds']} application builds", file=out)
    print(f"  CPU: {merged['cpu_s']:.0f} s in the workers, "
          f"{1000 * merged['cpu_s'] / max(merged['examples'], 1):.1f} ms per example; "
          f"load average at the end {os.getloadavg()[0]:.1f}", file=out)
    print(f"  commands above the sender's role: {merged['attempts']}; command handlers run: "
          f"{merged['handlers_run']}; staff actions audited: {merged['staff_actions']}", file=out)
    print(f"  platform actions: {dict(merged['actions'])}", file=out)
    for kind, found in merged["found"].items():
        count = sum(c for c, _ in found.values())
        print(f"  {kind}: {count}" + (f" ({len(found)} distinct)" if found else ""), file=out)
        for what, (times, first) in list(found.items())[:SHOW]:
            print(f"    x{times} {what}\n      first: {first}", file=out)
    if merged["warned"]:
        print(f"  warnings: {merged['warnings']}", file=out)
        for what, times in merged["warned"].most_common(SHOW):
            print(f"    x{times} {what}", file=out)


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
