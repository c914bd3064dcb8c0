"""Crisis detector: a generic rule engine that scores a message's crisis severity from lexicon data.

The vocabulary (word lists, idiom masks, context signals, rules) lives in the TOML files of
`bot/crisis/lexicon/`; this module only knows how to compile and apply them:

1. normalize the message (see `bot.crisis.normalize`);
2. pick candidate masks and rules with a prefilter: every pattern is indexed by a word it cannot
   match without, so one set intersection per message selects the few patterns worth running;
3. blank out idioms and other benign spans ("masks": "killing me", "me muero de risa");
4. run the candidate rules, dropping matches that a negation governs ("I'm not suicidal"), and
   applying their context conditions (`needs`, `needs_any`, `unless`, `escalate_if`, ...);
5. attribute the strongest finding to the writer, their child or someone else.

Nothing here logs, and an `Assessment` never carries message text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from bot.crisis.normalize import Normalizer

About = Literal["none", "self", "child", "other"]

#: Every reason code an `Assessment` can carry; the lead translates each one for alerts.
REASON_CODES: tuple[str, ...] = (
    "none",
    "suicidal_ideation",
    "passive_death_wish",
    "burden",
    "self_harm",
    "plan_or_means",
    "preparatory_acts",
    "goodbye",
    "attempt",
    "overdose",
    "child_missing",
    "child_danger",
    "abuse",
    "violence",
    "harm_to_others",
    "sextortion",
    "grooming",
    "psychosis",
    "medical_emergency",
    "warning_signs",
    "distress",
    "hopelessness",
    "isolation",
    "withdrawal",
    "substance_use",
    "intrusive_thoughts",
    "aggression",
    "group_term",
)

SEVERITY_NONE = 0
SEVERITY_CONCERN = 1
SEVERITY_RISK = 2
SEVERITY_IMMINENT = 3

DEFAULT_LEXICON_DIR = Path(__file__).with_name("lexicon")

_ABOUTS: frozenset[str] = frozenset({"none", "self", "child", "other", "auto"})
# One quote mark may sit around any word ("wants to 'unalive himself'").
_QUOTES = "(?:['\"] )*"
_GAP_WORD = "[^ .!?;]+ "
_SENTENCE_END = frozenset({".", "!", "?", ";"})


def _split_words(text: str) -> list[str]:
    return text.split()


# Frequent words are poor prefilter keys; a pattern is indexed by its rarest mandatory word set.
# (This only affects speed, never what matches.) Function words cost most, everyday content
# words of a parents' group less, any other word least.
_FUNCTION = frozenset(
    _split_words(
        """
        i me my to a an the and or of in on at for is am are was were be been it that this he
        she him her his they them we you your do did does not no have has had will would can
        could just so with que de la el lo los las y o en se mi su ya es un una por para con le
        te al del ' " . , ! ? ; about if when what who how all out from up after one like get
        going go said says say see here there now then than too well only also because but still
        even our us their its into off down over by very really much more some any again never
        ever
        """
    )
)
_FREQUENT = frozenset(
    _split_words(
        """
        kids kid son sons daughter child children boy girl baby mom dad husband wife school home
        house family anyone someone everyone thing things want wants need know think make take
        took give gave come came tell told ask asked good bad little why where which while until
        before year years old week weeks month months morning tonight tomorrow yesterday today
        day time last night first new back got keep around anymore life best off
        """
    )
)
# Kept for _best(): words never worth indexing a phrase by when a rarer one is there.
_COMMON = _FUNCTION | _FREQUENT
_LEX = re.compile(
    r"\s*(?:(\()|(\)\??)|(\|)|(\{[\w.-]+\}\??)|(\.\.\.\d*)|(~\d+)|(<\w+>\??)|(\*)|([^\s()|{}]+))"
)


class LexiconError(ValueError):
    """A lexicon file is malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """The detector's verdict on one message. Holds no message text.

    Attributes:
        severity: 0 none, 1 concern, 2 risk, 3 imminent danger.
        about: Whose safety is at issue: "self" (the writer), "child" (the writer's child),
            "other" (another adult or another family's child), or "none".
        reason: A stable code from `REASON_CODES`.
        language: "en" or "es", the message's main language.
        rules: Ids of the lexicon rules that fired, strongest first.
    """

    severity: int
    about: About
    reason: str
    language: str
    rules: tuple[str, ...] = ()

    @property
    def is_crisis(self) -> bool:
        """True for severity 2 and 3, the levels that alert facilitators."""
        return self.severity >= SEVERITY_RISK


@dataclass(frozen=True, slots=True)
class GroupTerms:
    """A group's own alert terms (`/keywords add TERM`), compiled for `Detector.assess`.

    Attributes:
        terms: The terms in normalized form.
        regex: One pattern matching any of them, or None when there are none.
        anchors: Words of which a message must contain one for any term to match.
        typos: Misspellings of the terms' longer words, mapped to the word.
    """

    terms: tuple[str, ...]
    regex: re.Pattern[str] | None
    anchors: frozenset[str]
    typos: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"GroupTerms(count={len(self.terms)})"

    def __len__(self) -> int:
        return len(self.terms)


@dataclass(frozen=True, slots=True)
class _Piece:
    """A compiled fragment of a pattern.

    Attributes:
        regex: Its regex source.
        anchor: Words of which any match contains at least one (None: cannot tell).
        optional: It can match nothing.
        required: One word set per mandatory element; a match contains a word of each.
    """

    regex: str
    anchor: frozenset[str] | None
    optional: bool = False
    required: tuple[frozenset[str], ...] = ()


# (pattern owner index, template index, the template's required word sets)
_IndexEntry = tuple[int, int, tuple[frozenset[str], ...]]


@dataclass(frozen=True, slots=True)
class _Template:
    """One compiled pattern and the word sets a message must contain for it to match."""

    regex: re.Pattern[str]
    required: tuple[frozenset[str], ...]

    def possible(self, tokens: set[str]) -> bool:
        """Cheap pre-check: every mandatory element has a word in the message."""
        # A plain loop: this runs for every candidate pattern, and all() over a generator is
        # measurably slower here.
        for req in self.required:  # noqa: SIM110
            if req.isdisjoint(tokens):
                return False
        return True


@dataclass(slots=True)
class _Mask:
    id: str
    templates: tuple[_Template, ...]


@dataclass(slots=True)
class _Signal:
    id: str
    templates: tuple[_Template, ...]
    keys: frozenset[str] | None
    any_of: tuple[str, ...]
    all_of: tuple[str, ...]
    unless: tuple[str, ...]
    negatable: bool


@dataclass(slots=True)
class _Rule:
    id: str
    order: int
    severity: int
    reason: str
    about: str
    about_default: str
    templates: tuple[_Template, ...]
    negatable: bool
    needs: tuple[str, ...]
    needs_any: tuple[str, ...]
    unless: tuple[str, ...]
    escalate_if: tuple[str, ...]
    escalate_to: int
    downgrade_if: tuple[str, ...]
    downgrade_to: int
    see_idioms: bool
    unless_impersonal: tuple[str, ...]
    subjectless_self: bool


@dataclass(frozen=True, slots=True)
class _People:
    """Word sets used to work out whose safety a finding concerns."""

    child: frozenset[str]
    other_possessed: frozenset[str]
    other_always: frozenset[str]
    siblings: frozenset[str]
    own: frozenset[str]
    not_own: frozenset[str]
    first_person: frozenset[str]
    third_person: frozenset[str]
    first_strong: frozenset[str]
    third_strong: frozenset[str]
    speech: frozenset[str]
    group_cues: frozenset[str]
    age_words: frozenset[str]
    age_verbs: frozenset[str]
    own_mind: frozenset[str]
    subject_pronouns: frozenset[str]
    self_subjects: frozenset[str]
    generic: frozenset[str]
    second_person: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Negation:
    cues: frozenset[str]
    transparent: frozenset[str]
    breaks: frozenset[str]
    not_negation: Mapping[str, tuple[tuple[str, ...], ...]]
    window: int


_AGE_TOKEN = re.compile(r"^(\d{1,2})(?:yo|yr|yrs|y|anos)?$")


class _Compiler:
    """Turns lexicon patterns into regexes over normalized text, plus their prefilter words."""

    def __init__(self, normalizer: Normalizer, words: Mapping[str, Sequence[str]]) -> None:
        self._norm = normalizer
        self._words = words
        self._cache: dict[str, _Piece] = {}
        self._active: set[str] = set()
        self.literals: set[str] = set()
        self.phrases: list[str] = []

    def compile(self, patterns: Sequence[str], where: str) -> list[tuple[_Template, frozenset[str] | None]]:
        """Compile each pattern into a regex over normalized text plus its prefilter words."""
        out: list[tuple[_Template, frozenset[str] | None]] = []
        for pat in patterns:
            piece = self._parse(pat, where)
            # The rarest requirements first, so the pre-check fails fast.
            req = tuple(sorted(set(piece.required), key=_anchor_cost))
            out.append((_Template(re.compile("(?<= )" + piece.regex), req), piece.anchor))
        return out

    # -- parsing --------------------------------------------------------------------------------

    def _parse(self, pattern: str, where: str) -> _Piece:
        tokens = self._lex(pattern, where)
        piece, pos = self._sequence(tokens, 0, where)
        if pos != len(tokens):
            raise LexiconError(f"{where}: unbalanced ')' in pattern {pattern!r}")
        return piece

    @staticmethod
    def _lex(pattern: str, where: str) -> list[str]:
        out: list[str] = []
        pos = 0
        text = pattern.strip()
        while pos < len(text):
            m = _LEX.match(text, pos)
            if m is None or m.end() == pos:
                raise LexiconError(f"{where}: cannot read pattern {pattern!r} at {pos}")
            out.append(next(g for g in m.groups() if g is not None))
            pos = m.end()
        return out

    def _sequence(self, tokens: list[str], pos: int, where: str) -> tuple[_Piece, int]:
        parts: list[_Piece] = []
        while pos < len(tokens) and tokens[pos] not in ("|",) and not tokens[pos].startswith(")"):
            tok = tokens[pos]
            if tok == "(":
                alts: list[_Piece] = []
                pos += 1
                while True:
                    alt, pos = self._sequence(tokens, pos, where)
                    alts.append(alt)
                    if pos >= len(tokens):
                        raise LexiconError(f"{where}: missing ')'")
                    if tokens[pos] == "|":
                        pos += 1
                        continue
                    break
                optional = tokens[pos] == ")?"
                pos += 1
                parts.append(self._alternation(alts, optional))
                continue
            parts.append(self._atom(tok, where))
            pos += 1
        return self._join(parts), pos

    def _atom(self, tok: str, where: str) -> _Piece:
        optional = tok.endswith("?") and len(tok) > 1
        if optional:
            tok = tok[:-1]
        if tok.startswith("{") and tok.endswith("}"):
            piece = self._word_list(tok[1:-1], where)
        elif tok.startswith("..."):
            n = int(tok[3:] or 4)
            piece = _Piece(f"(?:{_GAP_WORD}){{0,{n}}}", None, optional=True)
        elif tok.startswith("~") and tok[1:].isdigit():
            piece = _Piece(f"(?:[^ ]+ ){{0,{int(tok[1:])}}}", None, optional=True)
        elif tok == "*":
            piece = _Piece(_GAP_WORD + _QUOTES, None)
        elif tok == "<end>":
            piece = _Piece("(?=[^\\w ]|$)", None, optional=True)
        elif tok == "<start>":
            piece = _Piece("(?:(?<=^ )|(?<=[.!?;] ))", None, optional=True)
        elif tok == "<num>":
            piece = _Piece("\\d+[a-z]* " + _QUOTES, None)
        elif tok == "<bignum>":
            piece = _Piece("\\d{2,} " + _QUOTES, None)
        elif tok.startswith("<"):
            raise LexiconError(f"{where}: unknown marker {tok}")
        else:
            piece = self._literal(tok)
        if optional:
            return _Piece(f"(?:{piece.regex})?", None, optional=True)
        return piece

    def _literal(self, word: str) -> _Piece:
        norm = self._norm.normalize_phrase(word)
        toks = norm.split()
        if not toks:
            return _Piece("", None, optional=True)
        self.literals.update(toks)
        return _Piece(
            "".join(re.escape(t) + " " + _QUOTES for t in toks),
            frozenset([_best(toks)]),
            required=tuple(frozenset([t]) for t in toks),
        )

    def _word_list(self, name: str, where: str) -> _Piece:
        if name in self._cache:
            return self._cache[name]
        if name not in self._words:
            raise LexiconError(f"{where}: unknown word list {{{name}}}")
        if name in self._active:
            raise LexiconError(f"{where}: word list {{{name}}} refers to itself")
        self._active.add(name)
        alts = [self._parse(entry, f"{where} > {{{name}}}") for entry in self._words[name]]
        self._active.discard(name)
        piece = self._alternation(alts, optional=False)
        self._cache[name] = piece
        return piece

    @staticmethod
    def _alternation(alts: list[_Piece], optional: bool) -> _Piece:
        # Longer alternatives first, so masks blank the longest idiom they can.
        ordered = sorted(alts, key=lambda p: -len(p.regex))
        regex = "(?:" + "|".join(p.regex for p in ordered) + ")"
        anchor: frozenset[str] | None = frozenset()
        for alt in alts:
            if anchor is None or alt.anchor is None or alt.optional:
                anchor = None
                break
            anchor = anchor | alt.anchor
        if optional or any(a.optional for a in alts):
            return _Piece(regex + ("?" if optional else ""), None, optional=True)
        return _Piece(regex, anchor, required=(anchor,) if anchor is not None else ())

    @staticmethod
    def _join(parts: list[_Piece]) -> _Piece:
        regex = "".join(p.regex for p in parts)
        needed = tuple(r for p in parts if not p.optional for r in p.required)
        anchored = [p.anchor for p in parts if not p.optional and p.anchor is not None]
        if not anchored:
            return _Piece(regex, None, optional=all(p.optional for p in parts), required=needed)
        best = min(anchored, key=_anchor_cost)
        return _Piece(regex, best, required=needed)


def _best(tokens: Sequence[str]) -> str:
    """The most selective token of a phrase: the least frequent, then the longest."""
    return max(tokens, key=lambda t: (t not in _FUNCTION, t not in _FREQUENT, len(t)))


def _anchor_cost(anchor: frozenset[str]) -> int:
    return sum(100 if t in _FUNCTION else 10 if t in _FREQUENT else 1 for t in anchor)


def _blank(m: re.Match[str]) -> str:
    # Same length, so later positions stay valid; "_" never occurs in normalized text.
    return re.sub(r"[^ ]", "_", m.group())


def _as_tuple(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LexiconError(f"{where}: {key} must be a list of strings")
    return tuple(value)


class Detector:
    """Scores messages for crisis risk with the rules of a lexicon directory.

    Build it once with `Detector.load()` (compiling takes a fraction of a second) and share it:
    `assess` is pure and thread-safe.
    """

    def __init__(
        self,
        normalizer: Normalizer,
        masks: list[_Mask],
        mask_index: dict[str, tuple[_IndexEntry, ...]],
        mask_always: tuple[_IndexEntry, ...],
        signals: dict[str, _Signal],
        rules: list[_Rule],
        rule_index: dict[str, tuple[_IndexEntry, ...]],
        rule_always: tuple[_IndexEntry, ...],
        people: _People,
        negation: _Negation,
        language: Mapping[str, frozenset[str]],
        phrases: Sequence[str],
        keywords: Sequence[str],
    ) -> None:
        self._norm = normalizer
        self._masks = masks
        self._mask_index = mask_index
        self._mask_keys = frozenset(mask_index)
        self._mask_always = mask_always
        self._signals = signals
        self._rules = rules
        self._rule_index = rule_index
        self._rule_keys = frozenset(rule_index)
        self._rule_always = rule_always
        self._people = people
        self._neg = negation
        self._es = language.get("es", frozenset())
        self._en = language.get("en", frozenset())
        self._phrases = tuple(phrases)
        self._keywords = tuple(keywords)
        self._quiet = {lang: Assessment(SEVERITY_NONE, "none", "none", lang, ()) for lang in ("en", "es")}

    # -- loading --------------------------------------------------------------------------------

    @classmethod
    def load(cls, lexicon_dir: Path | None = None) -> Detector:
        """Compile every `*.toml` file of a lexicon directory into a detector.

        Args:
            lexicon_dir: The directory; defaults to the lexicon shipped with Kindred.

        Returns:
            A ready detector.

        Raises:
            LexiconError: A file is malformed or refers to something undefined.
        """
        directory = lexicon_dir or DEFAULT_LEXICON_DIR
        files = sorted(directory.glob("*.toml"))
        if not files:
            raise LexiconError(f"no lexicon files in {directory}")
        merged: dict[str, Any] = {}
        entries: dict[str, list[tuple[str, dict[str, Any]]]] = {"mask": [], "signal": [], "rule": []}
        for path in files:
            with path.open("rb") as fh:
                try:
                    data = tomllib.load(fh)
                except tomllib.TOMLDecodeError as exc:
                    raise LexiconError(f"{path.name}: {exc}") from exc
            for key, value in data.items():
                if key in entries:
                    entries[key].extend((path.name, v) for v in value)
                    continue
                if not isinstance(value, dict):
                    raise LexiconError(f"{path.name}: top-level {key!r} must be a table")
                _merge(merged.setdefault(key, {}), value, f"{path.name}: [{key}]")
        return cls._build(merged, entries)

    @classmethod
    def _build(cls, cfg: dict[str, Any], entries: dict[str, list[tuple[str, dict[str, Any]]]]) -> Detector:
        normalizer = Normalizer(cfg)
        words: dict[str, list[str]] = cfg.get("words", {})
        comp = _Compiler(normalizer, words)
        seen_ids: set[str] = set()

        def ident(where: str, entry: Mapping[str, Any]) -> str:
            eid = entry.get("id")
            if not isinstance(eid, str) or not eid:
                raise LexiconError(f"{where}: entry without an id")
            if eid in seen_ids:
                raise LexiconError(f"{where}: duplicate id {eid!r}")
            seen_ids.add(eid)
            return eid

        masks: list[_Mask] = []
        mask_index: dict[str, list[_IndexEntry]] = {}
        mask_always: list[_IndexEntry] = []
        for fname, entry in entries["mask"]:
            eid = ident(fname, entry)
            compiled = comp.compile(_as_tuple(entry.get("match"), eid, "match"), eid)
            for ti, (tmpl, anchors) in enumerate(compiled):
                _index(mask_index, mask_always, anchors, (len(masks), ti, tmpl.required))
            masks.append(_Mask(eid, tuple(t for t, _ in compiled)))

        signals: dict[str, _Signal] = {}
        for fname, entry in entries["signal"]:
            eid = ident(fname, entry)
            pats = _as_tuple(entry.get("match"), eid, "match")
            compiled_sig = comp.compile(pats, f"{fname}: {eid}")
            sig_keys: frozenset[str] | None = frozenset()
            for _, anchors in compiled_sig:
                sig_keys = None if anchors is None or sig_keys is None else sig_keys | anchors
            signals[eid] = _Signal(
                eid,
                tuple(t for t, _ in compiled_sig),
                sig_keys,
                _as_tuple(entry.get("any_of"), eid, "any_of"),
                _as_tuple(entry.get("all_of"), eid, "all_of"),
                _as_tuple(entry.get("unless"), eid, "unless"),
                bool(entry.get("negatable", False)),
            )

        rules: list[_Rule] = []
        rule_index: dict[str, list[_IndexEntry]] = {}
        rule_always: list[_IndexEntry] = []
        for fname, entry in entries["rule"]:
            eid = ident(fname, entry)
            where = f"{fname}: {eid}"
            severity = entry.get("severity")
            if severity not in (1, 2, 3):
                raise LexiconError(f"{where}: severity must be 1, 2 or 3")
            reason = entry.get("reason")
            if reason not in REASON_CODES or reason in ("none", "group_term"):
                raise LexiconError(f"{where}: unknown reason {reason!r}")
            about = entry.get("about", "auto")
            about_default = entry.get("about_default", "self")
            if about not in _ABOUTS or about_default not in _ABOUTS - {"auto"}:
                raise LexiconError(f"{where}: bad about {about!r}/{about_default!r}")
            compiled = comp.compile(_as_tuple(entry.get("match"), where, "match"), where)
            for ti, (tmpl, anchors) in enumerate(compiled):
                _index(rule_index, rule_always, anchors, (len(rules), ti, tmpl.required))
            rules.append(
                _Rule(
                    id=eid,
                    order=len(rules),
                    severity=int(severity),
                    reason=str(reason),
                    about=str(about),
                    about_default=str(about_default),
                    templates=tuple(t for t, _ in compiled),
                    negatable=bool(entry.get("negatable", True)),
                    needs=_as_tuple(entry.get("needs"), where, "needs"),
                    needs_any=_as_tuple(entry.get("needs_any"), where, "needs_any"),
                    unless=_as_tuple(entry.get("unless"), where, "unless"),
                    escalate_if=_as_tuple(entry.get("escalate_if"), where, "escalate_if"),
                    escalate_to=int(entry.get("escalate_to", SEVERITY_IMMINENT)),
                    downgrade_if=_as_tuple(entry.get("downgrade_if"), where, "downgrade_if"),
                    downgrade_to=int(entry.get("downgrade_to", SEVERITY_CONCERN)),
                    see_idioms=bool(entry.get("see_idioms", False)),
                    unless_impersonal=_as_tuple(entry.get("unless_impersonal"), where, "unless_impersonal"),
                    subjectless_self=bool(entry.get("subjectless_self", True)),
                )
            )

        known = set(signals)
        for sig in signals.values():
            for ref in sig.any_of + sig.all_of + sig.unless:
                if ref not in known:
                    raise LexiconError(f"signal {sig.id}: unknown signal {ref!r}")
        for rule in rules:
            for ref in (
                rule.needs
                + rule.needs_any
                + rule.unless
                + rule.escalate_if
                + rule.downgrade_if
                + rule.unless_impersonal
            ):
                if ref not in known:
                    raise LexiconError(f"rule {rule.id}: unknown signal {ref!r}")
        _check_cycles(signals)

        for entries_list in words.values():
            for word_entry in entries_list:
                comp.literals.update(normalizer.normalize_phrase(_plain_words(word_entry)).split())
        normalizer.build_typos(comp.literals)

        people_cfg: Mapping[str, Any] = cfg.get("people", {})

        def pset(key: str) -> frozenset[str]:
            vals = people_cfg.get(key, [])
            return frozenset(t for v in vals for t in normalizer.normalize_phrase(v).split())

        people = _People(
            child=pset("child"),
            other_possessed=pset("other_with_possessive"),
            other_always=pset("other_always"),
            siblings=pset("siblings"),
            own=pset("own_possessive"),
            not_own=pset("not_own"),
            first_person=pset("first_person"),
            third_person=pset("third_person"),
            first_strong=pset("first_person_strong"),
            third_strong=pset("third_person_strong"),
            speech=pset("speech_verbs"),
            group_cues=pset("group_cues"),
            age_words=pset("age_words"),
            age_verbs=pset("age_verbs"),
            own_mind=pset("own_mind"),
            subject_pronouns=pset("third_person_subjects"),
            self_subjects=pset("first_person_subjects"),
            generic=pset("generic_people"),
            second_person=pset("second_person"),
        )
        neg_cfg: Mapping[str, Any] = cfg.get("negation", {})
        pairs: dict[str, list[tuple[str, ...]]] = {}
        for phrase in neg_cfg.get("not_negation", []):
            toks = normalizer.normalize_phrase(phrase).split()
            if len(toks) >= 2:
                pairs.setdefault(toks[0], []).append(tuple(toks[1:]))

        def nset(key: str) -> frozenset[str]:
            return frozenset(
                t for v in neg_cfg.get(key, []) for t in normalizer.normalize_phrase(v).split()
            ) | (frozenset(neg_cfg.get(key, [])) if key == "clause_breaks" else frozenset())

        negation = _Negation(
            cues=nset("cues"),
            transparent=nset("transparent"),
            breaks=nset("clause_breaks"),
            not_negation={k: tuple(v) for k, v in pairs.items()},
            window=int(neg_cfg.get("window", 6)),
        )
        lang_cfg: Mapping[str, Any] = cfg.get("language", {})
        language = {
            k: frozenset(t for v in vals for t in normalizer.normalize_phrase(v).split())
            for k, vals in lang_cfg.items()
        }
        patterns = [
            pat
            for kind in ("mask", "signal", "rule")
            for _, entry in entries[kind]
            for pat in _as_tuple(entry.get("match"), "", "match")
        ]
        phrases = _phrase_inventory(words, patterns)
        keywords = _keyword_inventory(words, patterns)
        return cls(
            normalizer,
            masks,
            {k: tuple(v) for k, v in mask_index.items()},
            tuple(mask_always),
            signals,
            rules,
            {k: tuple(v) for k, v in rule_index.items()},
            tuple(rule_always),
            people,
            negation,
            language,
            phrases,
            keywords,
        )

    # -- introspection --------------------------------------------------------------------------

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of all scoring rules, in evaluation order."""
        return tuple(r.id for r in self._rules)

    @property
    def unanchored_rules(self) -> tuple[str, ...]:
        """Ids of rules and masks with a pattern the prefilter cannot index (run every time)."""
        return tuple(self._rules[e[0]].id for e in self._rule_always) + tuple(
            self._masks[e[0]].id for e in self._mask_always
        )

    @property
    def phrases(self) -> tuple[str, ...]:
        """Every literal word-list entry and pattern phrase, lower-cased (for benchmarks)."""
        return self._phrases

    @property
    def keywords(self) -> tuple[str, ...]:
        """The lexicon's literal runs of words, unexpanded (a smaller benchmark baseline)."""
        return self._keywords

    def normalize(self, text: str) -> str:
        """Return the normalized form the rules see (for debugging lexicon edits)."""
        return self._norm.normalize(text).strip()

    # -- group terms ----------------------------------------------------------------------------

    def compile_group_terms(self, terms: Iterable[str]) -> GroupTerms:
        """Compile a group's facilitator-added terms.

        Terms are normalized exactly like messages, so "s.e.l.f h@rm" in a message matches the
        term "self harm". Words of seven letters or more also match one-letter typos.

        Args:
            terms: The raw terms, as typed after `/keywords add`.

        Returns:
            Compiled terms to pass to `assess`.
        """
        norm_terms: list[str] = []
        for term in terms:
            norm = self._norm.normalize_phrase(term)
            if norm and norm not in norm_terms:
                norm_terms.append(norm)
        if not norm_terms:
            return GroupTerms((), None, frozenset(), {})
        from bot.crisis.normalize import typo_variants

        typos: dict[str, str] = {}
        for term in norm_terms:
            for word in term.split():
                if len(word) >= 7 and word.isalpha():
                    for v in typo_variants(word, substitutions=False):
                        typos.setdefault(v, word)
        alts = sorted(norm_terms, key=len, reverse=True)
        body = "|".join("".join(re.escape(t) + " " + _QUOTES for t in term.split()) for term in alts)
        anchors = frozenset(_best(term.split()) for term in norm_terms)
        return GroupTerms(tuple(norm_terms), re.compile(f"(?<= )(?:{body})"), anchors, typos)

    # -- assessment -----------------------------------------------------------------------------

    def assess(self, text: str, group_terms: GroupTerms | None = None) -> Assessment:
        """Score one message.

        Args:
            text: The message text (any length or characters; never stored or logged).
            group_terms: The group's own terms, if it has any.

        Returns:
            The assessment. A group term can only raise the severity (to at least 2).
        """
        norm = self._norm.normalize(text)
        toks = norm.split()
        tokset = set(toks)
        lang = "es" if len(tokset & self._es) > len(tokset & self._en) else "en"
        hits = self._rule_keys & tokset
        group_hit: re.Match[str] | None = None
        if group_terms is not None and group_terms.regex is not None:
            gnorm = norm
            if group_terms.typos and not group_terms.typos.keys().isdisjoint(tokset):
                gnorm = " " + " ".join(group_terms.typos.get(t, t) for t in toks) + " "
                tokset = tokset | set(gnorm.split())
            if not group_terms.anchors.isdisjoint(tokset):
                group_hit = group_terms.regex.search(gnorm)
        if not hits and not self._rule_always and group_hit is None:
            return self._quiet[lang]

        cand: dict[int, set[int]] = {}
        index = self._rule_index
        for h in hits:
            for ri, ti, required in index[h]:
                for req in required:
                    if req.isdisjoint(tokset):
                        break
                else:
                    cand.setdefault(ri, set()).add(ti)
        for ri, ti, required in self._rule_always:
            if all(not req.isdisjoint(tokset) for req in required):
                cand.setdefault(ri, set()).add(ti)
        if not cand and group_hit is None:
            return self._quiet[lang]

        masked = norm
        masks_done = False
        cache: dict[str, bool] = {}
        # (severity, rule, span, attribution if already worked out)
        found: list[tuple[int, _Rule, tuple[int, int], tuple[About, bool] | None]] = []
        for ri in sorted(cand):
            rule = self._rules[ri]
            if not rule.see_idioms and not masks_done:
                masked = self._apply_masks(norm, tokset)
                masks_done = True
            span = self._first_match(
                [rule.templates[ti].regex for ti in sorted(cand[ri])],
                norm if rule.see_idioms else masked,
                rule.negatable,
            )
            if span is None:
                continue
            if not masks_done:  # signals and attribution always see the masked text
                masked = self._apply_masks(norm, tokset)
                masks_done = True
            if rule.needs and not all(self._signal(s, masked, tokset, cache) for s in rule.needs):
                continue
            if rule.needs_any and not any(self._signal(s, masked, tokset, cache) for s in rule.needs_any):
                continue
            if rule.unless and any(self._signal(s, masked, tokset, cache) for s in rule.unless):
                continue
            who: tuple[About, bool] | None = None
            if rule.unless_impersonal and any(
                self._signal(s, masked, tokset, cache) for s in rule.unless_impersonal
            ):
                # Talk about a topic silences findings about nobody in the writer's life.
                who = self._about(rule, masked, span[0], span[1])
                if not who[1]:
                    continue
            sev = rule.severity
            if rule.downgrade_if and any(self._signal(s, masked, tokset, cache) for s in rule.downgrade_if):
                sev = min(sev, rule.downgrade_to)
            if rule.escalate_if and any(self._signal(s, masked, tokset, cache) for s in rule.escalate_if):
                sev = max(sev, rule.escalate_to)
            found.append((sev, rule, span, who))

        if not found and group_hit is None:
            return self._quiet[lang]
        if found:
            found.sort(key=lambda f: (-f[0], f[1].order))
            sev, best, span, who = found[0]
            if who is None:
                who = self._about(best, masked, span[0], span[1])
            about: About = who[0]
            reason = best.reason
            rules = tuple(dict.fromkeys(f[1].id for f in found))
        else:
            sev, about, reason, rules = SEVERITY_NONE, "none", "none", ()
        if group_hit is not None:
            rules = (*rules, "group_term")
            if sev < SEVERITY_RISK:
                sev = SEVERITY_RISK
                reason = "group_term"
                about = self._attribute(norm, group_hit.start(), group_hit.end(), "self")[0]
        return Assessment(sev, about, reason, lang, rules)

    def _apply_masks(self, norm: str, tokset: set[str]) -> str:
        """Blank out the idioms and harmless phrases found in the message."""
        mhits = self._mask_keys & tokset
        if not mhits and not self._mask_always:
            return norm
        keys = {(mi, ti) for h in mhits for mi, ti, _ in self._mask_index[h]}
        keys.update((mi, ti) for mi, ti, _ in self._mask_always)
        masked = norm
        for mi, ti in sorted(keys):
            tmpl = self._masks[mi].templates[ti]
            if tmpl.possible(tokset):
                masked = tmpl.regex.sub(_blank, masked)
        return masked

    def _first_match(
        self, regexes: Sequence[re.Pattern[str]], text: str, negatable: bool
    ) -> tuple[int, int] | None:
        """The earliest match of any of the patterns that no negation governs."""
        best: tuple[int, int] | None = None
        for regex in regexes:
            for m in regex.finditer(text):
                if best is not None and m.start() >= best[0]:
                    break
                if not negatable or not self._negated(text, m.start()):
                    best = (m.start(), m.end())
                    break
        return best

    def _signal(self, sid: str, text: str, tokset: set[str], cache: dict[str, bool]) -> bool:
        hit = cache.get(sid)
        if hit is not None:
            return hit
        cache[sid] = False  # guards against (validated-away) cycles
        sig = self._signals[sid]
        value = False
        if sig.templates and (sig.keys is None or not sig.keys.isdisjoint(tokset)):
            live = [t.regex for t in sig.templates if t.possible(tokset)]
            value = bool(live) and self._first_match(live, text, sig.negatable) is not None
        if not value and sig.any_of:
            value = any(self._signal(s, text, tokset, cache) for s in sig.any_of)
        if not value and sig.all_of:
            value = all(self._signal(s, text, tokset, cache) for s in sig.all_of)
        if value and sig.unless:
            value = not any(self._signal(s, text, tokset, cache) for s in sig.unless)
        cache[sid] = value
        return value

    def _negated(self, text: str, start: int) -> bool:
        """Whether a negation word governs the match starting at `start`."""
        neg = self._neg
        before = text[max(0, start - 160) : start].split()
        window: list[str] = []
        for tok in reversed(before):
            if tok in neg.breaks:
                break
            window.append(tok)
            if len(window) >= neg.window:
                break
        following: list[str] | None = None
        for i, tok in enumerate(window):
            if tok not in neg.cues:
                continue
            if not all(w in neg.transparent for w in window[:i]):
                continue
            phrases = neg.not_negation.get(tok)
            if phrases:
                if following is None:
                    following = text[start : start + 80].split()
                after_cue = [*reversed(window[:i]), *following]
                if any(tuple(after_cue[: len(ph)]) == ph for ph in phrases):
                    continue
            return True
        return False

    # -- attribution ----------------------------------------------------------------------------

    def _about(self, rule: _Rule, text: str, start: int, end: int) -> tuple[About, bool]:
        if rule.about != "auto":
            return cast(About, rule.about), True
        return self._attribute(text, start, end, rule.about_default, rule.subjectless_self)

    def _mentions(self, toks: Sequence[str]) -> list[_Mention]:
        """Find the people named in a token list."""
        p = self._people
        out: list[_Mention] = []
        n = len(toks)
        for i, tok in enumerate(toks):
            prev = toks[i - 1] if i else ""
            prev2 = toks[i - 2] if i > 1 else ""
            age = _AGE_TOKEN.match(tok)
            is_age = age is not None and (tok[-1].isalpha() or (i + 1 < n and toks[i + 1] in p.age_words))
            if tok in p.child or is_age:
                owned = prev in p.own or prev2 in p.own
                nxt = toks[i + 1] if i + 1 < n else ""
                adult = is_age and age is not None and int(age.group(1)) >= 18
                if adult or (
                    not owned and (prev in p.not_own or _is_other_owner(prev, p) or nxt in ("who", "que"))
                ):
                    out.append(_Mention(i, "other", False))
                else:
                    out.append(_Mention(i, "child", True))
            elif tok in p.other_always:
                out.append(_Mention(i, "other", True))
            elif tok in p.other_possessed and (
                prev in p.own or prev in p.third_person or prev2 in p.own or prev2 in p.third_person
            ):
                sibling = tok in p.siblings and (prev in p.third_person or prev2 in p.third_person)
                out.append(_Mention(i, "child" if sibling else "other", True))
            elif tok in p.generic:
                out.append(_Mention(i, "other", False))
            elif tok in p.own_mind and prev in p.own:
                out.append(_Mention(i, "self", True))
            elif tok in p.subject_pronouns:
                out.append(_Mention(i, "pron", False))
            elif tok in p.self_subjects:
                out.append(_Mention(i, "self", True))
        return out

    def _attribute(
        self, text: str, start: int, end: int, default: str, subjectless_self: bool = True
    ) -> tuple[About, bool]:
        """Work out whose safety a finding concerns.

        Args:
            text: The normalized (masked) message.
            start: Where the finding starts in `text`.
            end: Where it ends.
            default: The category when nobody can be identified.
            subjectless_self: A sentence that starts with the finding and names nobody
                ("took a bunch of pills", "back to SH") is about the writer.

        Returns:
            The category, and whether it is a real person in the writer's life (the writer, a
            person they name as theirs, or a named person reported as speaking) rather than a
            character, a stranger in the news, or nobody identifiable.
        """
        p = self._people
        before = text[:start].split()
        span = text[start:end].split()
        after = text[end:].split()
        person, marker_at = self._person_of(span)
        sent_from = 0
        for i in range(len(before) - 1, -1, -1):
            if before[i] in _SENTENCE_END:
                sent_from = i + 1
                break
        sentence = before[sent_from:]
        earlier = self._mentions(before)

        def resolve(m: _Mention) -> tuple[str, bool] | None:
            if m.kind != "pron":
                return m.kind, m.personal
            for e in reversed(earlier):
                if e.index < m.index and e.kind in ("child", "other"):
                    return e.kind, e.personal
            return None

        named_speaker = False
        # Reported speech: "my son told his dad he wants to ..." -> the speaker. The speech verb
        # may open the finding itself ("texted 'goodbye mom i love you'").
        head = sentence + span[:marker_at]
        speech_at = max((i for i, t in enumerate(head) if t in p.speech), default=-1)
        if speech_at >= 0:
            clause = self._mentions(head[:speech_at])
            if clause:
                first = clause[0]
                if first.kind == "self":
                    return "self", True
                who = resolve(_Mention(first.index + sent_from, first.kind, first.personal))
                if who is not None:
                    return cast(About, who[0]), who[1]
            else:
                named_speaker = True  # "Ava told a friend she's going to ..."
            person = 3
        else:
            # Speaker named after the quote: "'i want to die,' my son said".
            tail = after[:8]
            for j, tok in enumerate(tail):
                if tok in _SENTENCE_END:
                    break
                if tok in p.speech:
                    got = [m for m in self._mentions(tail[:j]) if m.kind in ("child", "other")]
                    if got:
                        return cast(About, got[-1].kind), got[-1].personal
                    break
        if person == 1:
            return "self", True
        if person == 2:
            return "other", True
        if person == 3:
            # The subject of the sentence: its first person named; else the last one before.
            for m in self._mentions(sentence):
                if m.kind in ("child", "other"):
                    return cast(About, m.kind), m.personal
            for m in reversed(earlier):
                if m.kind in ("child", "other"):
                    return cast(About, m.kind), m.personal
            for m in self._mentions(after):
                if m.kind in ("child", "other"):
                    return cast(About, m.kind), m.personal
            about = self._fallback(before + span + after, third=True, default=default)
            return about, named_speaker
        # No pronoun in the finding itself: whoever is named just before it in the sentence.
        near = self._mentions(sentence)
        if near:
            who = resolve(_Mention(near[-1].index + sent_from, near[-1].kind, near[-1].personal))
            if who is not None:
                return cast(About, who[0]), who[1]
        elif subjectless_self and not sentence:
            return "self", True
        end_at = next((i for i, t in enumerate(after) if t in _SENTENCE_END), len(after))
        for m in self._mentions(span + after[:end_at]):
            if m.kind in ("child", "other"):
                return cast(About, m.kind), m.personal
        about = self._fallback(before + span + after, third=False, default=default)
        return about, False

    def _person_of(self, span: Sequence[str]) -> tuple[int, int]:
        """Grammatical person of a finding (0 unknown, 1, 2 or 3) and where its marker is.

        A possessive naming someone ("my son", "mi hijo") is not a first-person marker.
        """
        p = self._people
        named = {m.index for m in self._mentions(span) if m.kind in ("child", "other")}
        skip = {i - 1 for i in named} | {i - 2 for i in named}
        for marks, person in (
            (p.first_strong, 1),
            (p.third_strong, 3),
            (p.second_person, 2),
        ):
            for i, tok in enumerate(span):
                if tok in marks and i not in skip:
                    return person, i
        for i, tok in enumerate(span):
            if i in skip and (tok in p.own or tok in p.third_person):
                continue
            if tok in p.first_person:
                return 1, i
            if tok in p.third_person:
                return 3, i
        return 0, len(span)

    def _fallback(self, toks: list[str], *, third: bool, default: str) -> About:
        p = self._people
        kinds = {m.kind for m in self._mentions(toks)}
        if "child" in kinds and "other" not in kinds:
            return "child"
        if "other" in kinds and "child" not in kinds:
            return "other"
        # "she's 14", "tiene 10 anos": an age below 18 names a child.
        for i, tok in enumerate(toks[:-1]):
            if tok in p.age_verbs:
                m = _AGE_TOKEN.match(toks[i + 1])
                if m and int(m.group(1)) < 18:
                    return "child"
        if third:
            if not p.group_cues.isdisjoint(toks):
                return "other"
            return "child" if default in ("self", "child") else cast(About, default)
        return cast(About, default)


@dataclass(frozen=True, slots=True)
class _Mention:
    index: int
    kind: str  # "self", "child", "other" or "pron"
    personal: bool


def _is_other_owner(prev: str, p: _People) -> bool:
    """'neighbors' in "my neighbors 10yo": a possessive of another adult (apostrophe dropped)."""
    return prev.endswith("s") and (prev[:-1] in p.other_possessed or prev[:-1] in p.other_always)


def _index(
    index: dict[str, list[_IndexEntry]],
    always: list[_IndexEntry],
    anchors: frozenset[str] | None,
    key: _IndexEntry,
) -> None:
    if anchors is None:
        always.append(key)
        return
    for a in anchors:
        index.setdefault(a, []).append(key)


def _merge(into: dict[str, Any], new: Mapping[str, Any], where: str) -> None:
    for key, value in new.items():
        if key in into:
            if isinstance(into[key], dict) and isinstance(value, dict):
                _merge(into[key], value, f"{where}.{key}")
                continue
            raise LexiconError(f"{where}: {key!r} is defined twice")
        into[key] = value


def _check_cycles(signals: Mapping[str, _Signal]) -> None:
    state: dict[str, int] = {}

    def visit(sid: str, path: tuple[str, ...]) -> None:
        if state.get(sid) == 2:
            return
        if state.get(sid) == 1:
            raise LexiconError(f"signals refer to each other in a loop: {' > '.join(path)}")
        state[sid] = 1
        for ref in signals[sid].any_of + signals[sid].all_of + signals[sid].unless:
            visit(ref, (*path, ref))
        state[sid] = 2

    for sid in signals:
        visit(sid, (sid,))


_SYNTAX_CHARS = re.compile(r"\{[\w.-]+\}\??|\.\.\.\d*|~\d+|<\w+>\??|[()|?*]")


def _plain_words(entry: str) -> str:
    """The literal words of a pattern (syntax stripped), for the typo protection list."""
    return _SYNTAX_CHARS.sub(" ", entry)


def _phrase_inventory(words: Mapping[str, Sequence[str]], patterns: Sequence[str]) -> list[str]:
    """Every literal phrase the lexicon spells out, for the plain substring-scan baseline.

    Each word-list entry and each pattern is expanded over its alternatives ("(a|b) c?" gives
    "a c", "b c", "a", "b"), at most 64 phrases per entry; inside a pattern, a word list stands
    for its first entry and gaps are dropped. Phrases under three characters are left out (a
    substring scan for "i" would flag every message).
    """
    first: dict[str, str] = {}
    for name, entries in words.items():
        if entries:
            first[name] = entries[0]
    out: dict[str, None] = {}
    sources = [e for entries in words.values() for e in entries] + list(patterns)
    for entry in sources:
        for phrase in _expand(entry, first):
            if len(phrase) >= 3:
                out[phrase] = None
    return list(out)


def _keyword_inventory(words: Mapping[str, Sequence[str]], patterns: Sequence[str]) -> list[str]:
    """Each run of plain words in the lexicon, as written (no alternatives expanded)."""
    out: dict[str, None] = {}
    for text in [e for entries in words.values() for e in entries] + list(patterns):
        for run in re.split(r"[(){}|?*<>~]|\.\.\.\d*", text):
            run = " ".join(run.lower().split())
            if len(run) >= 3 and not run.isdigit():
                out[run] = None
    return list(out)


def _expand(entry: str, first: Mapping[str, str], limit: int = 64, depth: int = 0) -> list[str]:
    """Literal expansions of a pattern: "(a|b) c?" -> "a c", "b c", "a", "b"."""
    tokens = _Compiler._lex(entry, "phrase inventory")
    results, _ = _expand_seq(tokens, 0, first, limit, depth)
    return [" ".join(r.lower().split()) for r in results if r.strip()]


def _expand_seq(
    tokens: list[str], pos: int, first: Mapping[str, str], limit: int, depth: int
) -> tuple[list[str], int]:
    results = [""]
    while pos < len(tokens) and tokens[pos] != "|" and not tokens[pos].startswith(")"):
        tok = tokens[pos]
        if tok == "(":
            options: list[str] = []
            pos += 1
            while True:
                alt, pos = _expand_seq(tokens, pos, first, limit, depth)
                options.extend(alt)
                if pos < len(tokens) and tokens[pos] == "|":
                    pos += 1
                    continue
                break
            if pos < len(tokens) and tokens[pos] == ")?":
                options.append("")
            pos += 1
        else:
            pos += 1
            opt = tok.endswith("?") and len(tok) > 1
            word = tok[:-1] if opt else tok
            if word.startswith("{") and word.endswith("}"):
                name = word[1:-1]
                sub = first.get(name, "")
                options = _expand(sub, first, 1, depth + 1)[:1] if sub and depth < 4 else [""]
            elif word.startswith(("...", "~", "<")) or word == "*":
                options = [""]
            else:
                options = [word]
            if opt:
                options = [*options, ""]
        results = [f"{r} {o}".strip() for r in results for o in options][:limit]
    return results, pos
