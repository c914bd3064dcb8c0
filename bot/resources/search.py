"""Resource search: everyday words and typos to categories, place detection, visibility and ranking.

The index is built once from a sequence of entries and answers queries without touching storage.
Vocabulary (English and Spanish) lives in ``data/vocabulary.toml`` and place names in
``data/places.toml``; both are data so facilitators' words can be added without code changes.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources as importlib_resources
from typing import Any, Final, Literal

from rapidfuzz import process
from rapidfuzz.distance import OSA
from unidecode import unidecode

from bot.resources.model import CATEGORIES, Resource

MAX_QUERY_CHARS: Final = 300
MAX_QUERY_TOKENS: Final = 40
_CATEGORY_BIT: Final[dict[str, int]] = {code: 1 << i for i, code in enumerate(CATEGORIES)}
_CRISIS_BIT: Final = _CATEGORY_BIT["crisis"]
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9]+")
_CAMEL_RE: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_APOSTROPHES: Final = str.maketrans("", "", "'`\u2019\u2018\u00b4")

# Ranking weights. Category evidence dominates; text, place and language order entries within it.
_W_MAIN_CATEGORY: Final = 60.0
_W_OTHER_CATEGORY: Final = 45.0
_W_TOPIC_OVERLAP: Final = 20.0
_W_NAME_PHRASE: Final = 15.0
_W_NAME_TOKEN: Final = 25.0
_W_DESCRIPTION_TOKEN: Final = 8.0
_FUZZY_FACTOR: Final = 0.6
_W_SYNONYM: Final = 3.0
_STEM_FACTOR: Final = 0.7
_W_OPEN_ALL_HOURS: Final = 10.0
_ALL_HOURS_RE: Final = re.compile(r"\b24\s*(?:/\s*7|h\b|hours|horas|hrs)", re.IGNORECASE)
_W_LANGUAGE: Final = 10.0
_W_OTHER_LANGUAGE: Final = -5.0
_W_QUERY_LANGUAGE: Final = 5.0
_W_GROUP_LOCAL: Final = 15.0

_STEM_PREFIX: Final = 5
_KIND_NATIONAL: Final = 0
_KIND_REGION: Final = 1
_KIND_CITY: Final = 2
_KIND_ONLINE: Final = 3
_KIND_CODE: Final = {"national": 0, "region": 1, "city": 2, "online": 3}

PlaceKind = Literal["country", "region", "city"]


def fold(text: str) -> str:
    """Lower-case ``text``, strip accents and apostrophes ("Don't" -> "dont", "Málaga" -> "malaga")."""
    return unidecode(text).translate(_APOSTROPHES).lower()


def words(text: str) -> list[str]:
    """Split ``text`` into folded word tokens."""
    return _TOKEN_RE.findall(fold(text))


def name_words(name: str) -> set[str]:
    """Return the words of an entry name, plus the parts of joined words ("LawHelp" -> law, help)."""
    out = set(words(name))
    for token in _TOKEN_RE.findall(unidecode(name)):
        parts = _CAMEL_RE.findall(token)
        if len(parts) > 1:
            out.update(part.lower() for part in parts)
    return out


def _max_typo_distance(length: int) -> int:
    # Short words are too easily confused with other short words to correct safely, and two
    # edits on a word under ten letters turn real words into others ("counting" -> "cutting").
    if length < 5:
        return 0
    return 1 if length < 10 else 2


# --------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """What the vocabulary found in a token sequence.

    Attributes:
        mask: Bit mask of the categories found.
        covered: For each token, whether a term covered it.
        topics: Names of the topics found, in query order.
        evidence: Language -> how many tokens were in terms of only that language.
    """

    mask: int
    covered: list[bool]
    topics: list[str]
    evidence: dict[str, float]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Everyday terms grouped into topics that point to categories, in English and Spanish.

    Attributes:
        phrases: Folded token tuple -> bit mask of categories.
        phrase_topics: Folded token tuple -> names of the topics listing it.
        phrase_languages: Folded token tuple -> languages the term was listed under.
        topic_words: Topic name -> its one-word terms, used as synonyms when ranking.
        topic_masks: Topic name -> bit mask of its categories.
        stopwords: Folded word -> languages it is a stopword in.
        not_typos: Real words that must never be "corrected" into a vocabulary term.
        negators: Words that cancel a crisis term just after them ("not suicidal").
        negation_breaks: Words that end a negation's reach ("and", "pero").
        max_phrase_len: Longest phrase, in tokens.
        known_words: Every word that appears in a phrase.
        single_terms: Words that are terms on their own.
        correction_targets: Words typos are corrected to, by first letter and length.
    """

    phrases: Mapping[tuple[str, ...], int]
    phrase_topics: Mapping[tuple[str, ...], tuple[str, ...]]
    phrase_languages: Mapping[tuple[str, ...], frozenset[str]]
    topic_words: Mapping[str, frozenset[str]]
    topic_masks: Mapping[str, int]
    stopwords: Mapping[str, frozenset[str]]
    not_typos: frozenset[str]
    negators: frozenset[str]
    negation_breaks: frozenset[str]
    max_phrase_len: int
    known_words: frozenset[str]
    single_terms: frozenset[str]
    correction_targets: Mapping[str, Mapping[int, tuple[str, ...]]]

    @classmethod
    def from_toml(cls, text: str) -> Vocabulary:
        """Build a vocabulary from the text of a ``vocabulary.toml`` file.

        Raises:
            ValueError: If a topic names an unknown category or none.
        """
        raw = tomllib.loads(text)
        phrases: dict[tuple[str, ...], int] = defaultdict(int)
        topics_of: dict[tuple[str, ...], list[str]] = defaultdict(list)
        languages: dict[tuple[str, ...], set[str]] = defaultdict(set)
        topic_words: dict[str, set[str]] = defaultdict(set)
        topic_masks: dict[str, int] = {}
        stopwords: dict[str, set[str]] = defaultdict(set)
        for language, terms in raw.get("stopwords", {}).items():
            for term in terms:
                for word in words(str(term)):
                    stopwords[word].add(str(language))
        unknown_sections = set(raw) - {"topics", "stopwords", "not_typos", "negation"}
        if unknown_sections:
            raise ValueError(f"vocabulary has unknown sections {sorted(unknown_sections)}")
        for topic, table in raw.get("topics", {}).items():
            codes = table.get("categories", [])
            if not codes or any(code not in _CATEGORY_BIT for code in codes):
                raise ValueError(f"topic {topic!r} must name categories from CATEGORIES")
            # A key that is not a language code is almost always a table that TOML attached to
            # the topic above it by mistake.
            stray = [k for k in table if k != "categories" and not re.fullmatch(r"[a-z]{2}", k)]
            if stray:
                raise ValueError(f"topic {topic!r} has keys that are not language codes: {stray}")
            bits = 0
            for code in codes:
                bits |= _CATEGORY_BIT[code]
            topic_masks[topic] = bits
            for language, terms in table.items():
                if language == "categories":
                    continue
                for term in terms:
                    key = tuple(words(str(term)))
                    if not key:
                        continue
                    phrases[key] |= bits
                    if topic not in topics_of[key]:
                        topics_of[key].append(topic)
                    languages[key].add(str(language))
                    if len(key) == 1 and key[0] not in stopwords and not key[0].isdigit():
                        topic_words[topic].add(key[0])
        not_typos = frozenset(
            w for terms in raw.get("not_typos", {}).values() for term in terms for w in words(str(term))
        )
        negation = raw.get("negation", {})
        negators = frozenset(w for t in negation.get("negators", []) for w in words(str(t)))
        breaks = frozenset(w for t in negation.get("breaks", []) for w in words(str(t)))
        known = frozenset(w for key in phrases for w in key)
        targets: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
        for word in sorted(known):
            if len(word) >= 5 and not word.isdigit() and word not in stopwords:
                targets[word[0]][len(word)].append(word)
        single = frozenset(key[0] for key in phrases if len(key) == 1)
        return cls(
            phrases=dict(phrases),
            phrase_topics={k: tuple(v) for k, v in topics_of.items()},
            phrase_languages={k: frozenset(v) for k, v in languages.items()},
            topic_words={k: frozenset(v) for k, v in topic_words.items()},
            topic_masks=topic_masks,
            stopwords={k: frozenset(v) for k, v in stopwords.items()},
            not_typos=not_typos,
            negators=negators,
            negation_breaks=breaks,
            max_phrase_len=max((len(k) for k in phrases), default=1),
            known_words=known,
            single_terms=single,
            correction_targets={
                letter: {n: tuple(v) for n, v in by_length.items()} for letter, by_length in targets.items()
            },
        )

    def correct(self, word: str) -> str | None:
        """Return the vocabulary word ``word`` is a likely typo of, or None."""
        if word in self.known_words:
            return word
        if word in self.not_typos or word in self.stopwords or word.isdigit():
            return None
        for suffix in ("s", "es"):
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 3 and stem in self.known_words:
                return stem
        distance = _max_typo_distance(len(word))
        if distance == 0:
            return None
        # Typos rarely change the first letter; requiring it keeps "anger" from becoming "danger".
        choices_by_length = self.correction_targets.get(word[0], {})
        best: tuple[int, str] | None = None
        for length in range(len(word) - distance, len(word) + distance + 1):
            choices = choices_by_length.get(length)
            if not choices:
                continue
            found = process.extractOne(word, choices, scorer=OSA.distance, score_cutoff=distance)
            if found is not None and (best is None or found[1] < best[0]):
                best = (int(found[1]), str(found[0]))
        return None if best is None else best[1]

    def categories_of(self, text: str) -> tuple[str, ...]:
        """Return the categories a free-text term (e.g. a 211 taxonomy term) maps to."""
        code = "_".join(words(text))
        if code in _CATEGORY_BIT:
            return (code,)
        original = words(text)
        tokens = [self.correct(t) or t for t in original]
        found = self.match_phrases(tokens, [False] * len(tokens))
        if any(
            t != o and t not in self.single_terms and not c
            for t, o, c in zip(tokens, original, found.covered, strict=True)
        ):
            tokens = [
                t if (t == o or t in self.single_terms or c) else o
                for t, o, c in zip(tokens, original, found.covered, strict=True)
            ]
            found = self.match_phrases(tokens, [False] * len(tokens))
        return mask_to_categories(found.mask)

    def match_phrases(self, tokens: Sequence[str], blocked: Sequence[bool]) -> PhraseMatch:
        """Find vocabulary terms in ``tokens``, longest first, never crossing blocked tokens."""
        mask = 0
        covered = [False] * len(tokens)
        topics: list[str] = []
        evidence: dict[str, float] = defaultdict(float)
        i = 0
        while i < len(tokens):
            if blocked[i]:
                i += 1
                continue
            matched = 0
            for length in range(min(self.max_phrase_len, len(tokens) - i), 0, -1):
                if any(blocked[i : i + length]):
                    continue
                key = tuple(tokens[i : i + length])
                bits = self.phrases.get(key)
                if bits is None:
                    continue
                for j in range(i, i + length):
                    covered[j] = True
                matched = length
                if bits & _CRISIS_BIT and self._negated(tokens, i):
                    break
                mask |= bits
                topics.extend(t for t in self.phrase_topics[key] if t not in topics)
                langs = self.phrase_languages[key]
                if len(langs) == 1:
                    evidence[next(iter(langs))] += float(length)
                break
            i += matched or 1
        return PhraseMatch(mask, covered, topics, dict(evidence))

    def _negated(self, tokens: Sequence[str], start: int) -> bool:
        """Return True if a negation governs the term starting at ``start``."""
        if tokens[start] in self.negators:
            return False  # the term carries its own negation: "no quiero vivir"
        for j in range(start - 1, max(-1, start - 4), -1):
            if tokens[j] in self.negation_breaks:
                return False
            if tokens[j] in self.negators:
                return True
        return False


def mask_to_categories(mask: int) -> tuple[str, ...]:
    """Return the category codes set in ``mask``, in ``CATEGORIES`` order."""
    return tuple(code for code in CATEGORIES if mask & _CATEGORY_BIT[code])


def _read_data(name: str) -> str:
    return importlib_resources.files("bot.resources").joinpath("data", name).read_text(encoding="utf-8")


@cache
def load_vocabulary() -> Vocabulary:
    """Return the shipped vocabulary (cached)."""
    return Vocabulary.from_toml(_read_data("vocabulary.toml"))


# --------------------------------------------------------------------------- places


@dataclass(frozen=True, slots=True)
class DetectedPlace:
    """A place named in a query.

    Attributes:
        kind: "country", "region" or "city".
        country: ISO 3166 alpha-2 code.
        region: Display name of the region, for region and city places when known.
        city: Display name of the city, for city places.
    """

    kind: PlaceKind
    country: str
    region: str | None = None
    city: str | None = None

    @property
    def label(self) -> str:
        """Human-readable name of the place, e.g. "Austin, Texas"."""
        if self.kind == "city":
            return f"{self.city}, {self.region}" if self.region else str(self.city)
        if self.kind == "region":
            return str(self.region)
        return self.country


@dataclass(frozen=True, slots=True)
class _PlaceCandidate:
    kind: PlaceKind
    country: str
    region_keys: frozenset[str]
    city_key: str | None
    region_display: str | None
    city_display: str | None
    weight: int


@dataclass(slots=True)
class _PlaceBook:
    """Place names: country, region and city names and codes, from data and entries."""

    names: dict[tuple[str, ...], list[_PlaceCandidate]] = field(default_factory=dict)
    codes: dict[str, list[_PlaceCandidate]] = field(default_factory=dict)
    lowercase_codes: frozenset[str] = frozenset()
    region_alias: dict[tuple[str, str], str] = field(default_factory=dict)
    region_display: dict[tuple[str, str], str] = field(default_factory=dict)
    city_alias: dict[tuple[str, str], str] = field(default_factory=dict)
    country_names: dict[str, str] = field(default_factory=dict)
    max_len: int = 1
    fuzzy_names: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)

    def add_name(self, name: str, candidate: _PlaceCandidate) -> None:
        key = tuple(words(name))
        if not key:
            return
        bucket = self.names.setdefault(key, [])
        if candidate not in bucket:
            bucket.append(candidate)
        self.max_len = max(self.max_len, len(key))

    def region_key(self, country: str, region: str) -> str:
        folded = " ".join(words(region))
        return self.region_alias.get((country, folded), folded)

    def city_key(self, country: str, city: str) -> str:
        folded = " ".join(words(city))
        return self.city_alias.get((country, folded), folded)


@cache
def _places_data() -> dict[str, Any]:
    return tomllib.loads(_read_data("places.toml"))


def country_code(name: str) -> str | None:
    """Return the ISO alpha-2 code for a country name or code ("Spain", "España", "us"), or None."""
    folded = " ".join(words(name))
    for code, table in _places_data().get("countries", {}).items():
        options = [code, *table.get("codes", []), *table.get("names", [])]
        if any(" ".join(words(option)) == folded for option in options):
            return str(code)
    return None


def _is_code(alias: str) -> bool:
    return len(alias) == 2 and alias.isalpha() and alias.isupper()


def _build_places(entries: Sequence[Resource]) -> _PlaceBook:
    data = _places_data()
    book = _PlaceBook(lowercase_codes=frozenset(str(c).lower() for c in data.get("lowercase_codes", [])))
    for code, table in data.get("countries", {}).items():
        candidate = _PlaceCandidate("country", code, frozenset(), None, None, None, 1)
        book.country_names[code] = code
        for name in table.get("names", []):
            book.add_name(name, candidate)
        for alias in [code, *table.get("codes", [])]:
            book.codes.setdefault(alias.lower(), []).append(candidate)
    for country, regions in data.get("regions", {}).items():
        for display, aliases in regions.items():
            key = " ".join(words(display))
            book.region_display[(country, key)] = display
            candidate = _PlaceCandidate("region", country, frozenset({key}), None, display, None, 1)
            book.add_name(display, candidate)
            book.region_alias[(country, key)] = key
            for alias in aliases:
                book.region_alias[(country, " ".join(words(alias)))] = key
                if _is_code(alias):
                    book.codes.setdefault(alias.lower(), []).append(candidate)
                else:
                    book.add_name(alias, candidate)
    city_regions: dict[tuple[str, str], set[str]] = defaultdict(set)
    city_display: dict[tuple[str, str], str] = {}
    city_names: dict[tuple[str, str], set[str]] = defaultdict(set)
    city_weight: dict[tuple[str, str], int] = defaultdict(int)
    for table in data.get("cities", []):
        country = str(table["country"])
        key = " ".join(words(table["name"]))
        ident = (country, key)
        city_display[ident] = str(table["name"])
        city_regions[ident].add(book.region_key(country, str(table["region"])))
        city_names[ident].add(str(table["name"]))
        for alias in table.get("aliases", []):
            book.city_alias[(country, " ".join(words(alias)))] = key
            city_names[ident].add(alias)
    for entry in entries:
        if entry.country is None:
            continue
        if entry.city:
            ident = (entry.country, book.city_key(entry.country, entry.city))
            city_display.setdefault(ident, entry.city)
            city_names[ident].add(entry.city)
            city_weight[ident] += 1
            if entry.region:
                city_regions[ident].add(book.region_key(entry.country, entry.region))
        if entry.region:
            key = book.region_key(entry.country, entry.region)
            if (entry.country, key) not in book.region_display:
                book.region_display[(entry.country, key)] = entry.region
                candidate = _PlaceCandidate(
                    "region", entry.country, frozenset({key}), None, entry.region, None, 1
                )
                book.add_name(entry.region, candidate)
    for ident, names in city_names.items():
        country, key = ident
        regions = frozenset(city_regions[ident])
        region_display = None
        if len(regions) == 1:
            region_display = book.region_display.get((country, next(iter(regions))))
        candidate = _PlaceCandidate(
            "city", country, regions, key, region_display, city_display[ident], city_weight[ident]
        )
        for name in names:
            if _is_code(name):
                book.codes.setdefault(name.lower(), []).append(candidate)
            else:
                book.add_name(name, candidate)
    single: dict[tuple[str, int], list[str]] = defaultdict(list)
    for name_key in book.names:
        if len(name_key) == 1 and len(name_key[0]) >= 5:
            single[(name_key[0][0], len(name_key[0]))].append(name_key[0])
    book.fuzzy_names = {k: tuple(sorted(v)) for k, v in single.items()}
    return book


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of search results.

    Attributes:
        entries: The entries on this page, best first.
        total: How many entries matched in all.
        categories: Categories understood from the query, in ``CATEGORIES`` order.
        place: The place understood from the query, or None.
        is_crisis: True if the query is about a crisis; crisis lines then come first.
        language: Language used to prefer entries (the member's, or the query's when clear).
    """

    entries: tuple[Resource, ...]
    total: int
    categories: tuple[str, ...]
    place: DetectedPlace | None
    is_crisis: bool
    language: str


@dataclass(slots=True)
class _Query:
    mask: int = 0
    topic_names: list[str] = field(default_factory=list)
    topics: list[tuple[str, str | None]] = field(default_factory=list)
    place: _PlaceCandidate | None = None
    language: str | None = None


# --------------------------------------------------------------------------- index


class ResourceIndex:
    """In-memory search index over directory entries; build once, query many times.

    Args:
        resources: The entries to search (deployment-wide and group-local together).
        vocabulary: Category vocabulary; the shipped one by default.
    """

    def __init__(self, resources: Sequence[Resource], vocabulary: Vocabulary | None = None):
        self._vocab = vocabulary or load_vocabulary()
        self._resources: tuple[Resource, ...] = tuple(resources)
        self._places = _build_places(self._resources)
        n = len(self._resources)
        self._kind: list[int] = [0] * n
        self._country: list[str | None] = [None] * n
        self._region: list[str | None] = [None] * n
        self._city: list[str | None] = [None] * n
        self._languages: list[frozenset[str]] = [frozenset()] * n
        self._crisis_bonus: list[float] = [0.0] * n
        self._crisis_tier: list[int] = [0] * n
        self._emergency: list[bool] = [r.is_emergency for r in self._resources]
        self._mask: list[int] = [0] * n
        self._name_tokens: list[tuple[str, ...]] = [()] * n
        # Entries grouped by (main category, all categories) and country: the category part of a
        # score is computed once per group, not once per entry.
        signatures: dict[tuple[int, int], int] = {}
        self._members: dict[tuple[int, str | None], list[int]] = defaultdict(list)
        self._by_country: dict[str | None, list[int]] = defaultdict(list)
        self._name_postings: dict[str, list[int]] = defaultdict(list)
        self._text_postings: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(self._resources):
            mask = 0
            for code in entry.categories:
                mask |= _CATEGORY_BIT[code]
            main = _CATEGORY_BIT[entry.categories[0]] if entry.categories else 0
            signature = signatures.setdefault((main, mask), len(signatures))
            self._members[(signature, entry.country)].append(i)
            self._mask[i] = mask
            self._kind[i] = _KIND_CODE[entry.service_area]
            self._country[i] = entry.country
            self._by_country[entry.country].append(i)
            if entry.country and entry.region:
                self._region[i] = self._places.region_key(entry.country, entry.region)
            if entry.country and entry.city:
                self._city[i] = self._places.city_key(entry.country, entry.city)
            self._languages[i] = frozenset(entry.languages)
            if mask & _CRISIS_BIT:
                # In a crisis query the emergency number comes first, then the other crisis
                # lines, whatever else matches; among lines, those open around the clock.
                self._crisis_tier[i] = 2 if entry.is_emergency else 1
                if entry.hours and _ALL_HOURS_RE.search(entry.hours):
                    self._crisis_bonus[i] = _W_OPEN_ALL_HOURS
            self._name_tokens[i] = tuple(words(entry.name))
            in_name = _with_singulars(name_words(entry.name))
            for word in in_name:
                self._name_postings[word].append(i)
            for word in _with_singulars(set(words(entry.description))) - in_name:
                self._text_postings[word].append(i)
        # Plain dicts from here on, so a lookup can never add a key.
        self._members = dict(self._members)
        self._by_country = dict(self._by_country)
        self._name_postings = dict(self._name_postings)
        self._text_postings = dict(self._text_postings)
        self._signatures: tuple[tuple[int, int], ...] = tuple(signatures)
        self._countries: tuple[str | None, ...] = tuple(self._by_country)
        by_length: dict[int, list[str]] = defaultdict(list)
        by_prefix: dict[str, list[str]] = defaultdict(list)
        # Typos are matched against name words only ("samaritns"): descriptions are full of
        # ordinary words that other ordinary words are one letter away from.
        for word in self._name_postings:
            if len(word) >= 4 and not word.isdigit() and word not in self._vocab.not_typos:
                by_length[len(word)].append(word)
        for word in set(self._name_postings) | set(self._text_postings):
            if len(word) >= _STEM_PREFIX:
                by_prefix[word[:_STEM_PREFIX]].append(word)
        self._words_by_length = {k: tuple(sorted(v)) for k, v in by_length.items()}
        self._words_by_prefix = {k: tuple(sorted(v)) for k, v in by_prefix.items()}
        self._fuzzy_cache: dict[str, tuple[str, ...]] = {}
        self._size = max(1, n)
        self._log_size = math.log1p(self._size)

    @property
    def resources(self) -> tuple[Resource, ...]:
        """The indexed entries, in the order given."""
        return self._resources

    # ----------------------------------------------------------------- query analysis

    def _fuzzy_entry_words(self, word: str) -> tuple[str, ...]:
        cached = self._fuzzy_cache.get(word)
        if cached is not None:
            return cached
        distance = _max_typo_distance(len(word))
        found: list[str] = []
        if distance:
            for length in range(len(word) - distance, len(word) + distance + 1):
                choices = self._words_by_length.get(length)
                if choices:
                    found.extend(
                        str(match[0])
                        for match in process.extract(
                            word, choices, scorer=OSA.distance, score_cutoff=distance, limit=5
                        )
                    )
        result = tuple(found[:8])
        if len(self._fuzzy_cache) > 20_000:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[word] = result
        return result

    def _analyse(self, query: str, country: str | None) -> _Query:
        vocab, places = self._vocab, self._places
        raw_tokens = _TOKEN_RE.findall(unidecode(query[:MAX_QUERY_CHARS]).translate(_APOSTROPHES))[
            :MAX_QUERY_TOKENS
        ]
        letters = [t for t in raw_tokens if t.isalpha()]
        all_caps = bool(letters) and all(t.isupper() for t in letters) and len(letters) > 1
        tokens = [t.lower() for t in raw_tokens]
        n = len(tokens)
        is_place = [False] * n
        mentions: list[list[_PlaceCandidate]] = []

        # Places first, longest name first, so "new mexico" is not Mexico and "Ciudad de México"
        # is not "de" + Mexico.
        i = 0
        while i < n:
            matched = 0
            for length in range(min(places.max_len, n - i), 0, -1):
                key = tuple(tokens[i : i + length])
                candidates = places.names.get(key)
                if candidates and length == 1 and self._ambiguous_word(tokens[i], raw_tokens[i], all_caps):
                    candidates = None
                if not candidates and length == 1:
                    code_ok = (raw_tokens[i].isupper() and not all_caps) or (
                        tokens[i] in places.lowercase_codes
                    )
                    if len(tokens[i]) == 2 and code_ok:
                        candidates = places.codes.get(tokens[i])
                if candidates:
                    mentions.append(candidates)
                    for j in range(i, i + length):
                        is_place[j] = True
                    matched = length
                    break
            i += matched or 1

        corrected: list[str] = []
        was_corrected: list[bool] = []
        for i, token in enumerate(tokens):
            if is_place[i] or token in vocab.known_words or token in vocab.stopwords:
                corrected.append(token)
                was_corrected.append(False)
                continue
            if token in self._name_postings or token in self._text_postings:
                corrected.append(token)
                was_corrected.append(False)
                continue
            fixed = vocab.correct(token)
            corrected.append(fixed or token)
            was_corrected.append(fixed is not None and fixed != token)
        found = vocab.match_phrases(corrected, is_place)
        # A correction counts only if the word is a term by itself or completed a phrase:
        # otherwise "billing" would become "killing" (of "killing myself") for nothing.
        reverted = False
        for i, token in enumerate(corrected):
            if was_corrected[i] and not found.covered[i] and token not in vocab.single_terms:
                corrected[i] = tokens[i]
                was_corrected[i] = False
                reverted = True
        if reverted:
            found = vocab.match_phrases(corrected, is_place)
        covered, evidence = found.covered, defaultdict(float, found.evidence)

        for i, token in enumerate(corrected):
            if is_place[i]:
                continue
            langs = vocab.stopwords.get(token)
            if langs is not None and len(langs) == 1:
                evidence[next(iter(langs))] += 0.5

        out = _Query(mask=found.mask, topic_names=found.topics)
        for i, token in enumerate(corrected):
            if is_place[i] or token in vocab.stopwords:
                continue
            original = tokens[i] if was_corrected[i] else None
            known = (
                covered[i]
                or token in self._name_postings
                or token in self._text_postings
                or (original is not None)
            )
            if not known and not mentions and len(token) >= 5:
                found_place = self._fuzzy_place(token)
                if found_place:
                    mentions.append(found_place)
                    continue
            out.topics.append((token, original))
        out.place = self._resolve_place(mentions, country)
        if evidence:
            best = max(evidence.items(), key=lambda kv: kv[1])
            others = sum(v for k, v in evidence.items() if k != best[0])
            if best[1] > others:
                out.language = best[0]
        return out

    def _ambiguous_word(self, token: str, raw: str, all_caps: bool) -> bool:
        # A one-word place that is also an everyday word ("Reading", "Mobile") counts only when
        # written with a capital, and never in an all-capitals query.
        if token in self._vocab.known_words or token in self._vocab.stopwords:
            return all_caps or not raw[:1].isupper()
        return False

    def _fuzzy_place(self, token: str) -> list[_PlaceCandidate] | None:
        """Return the place ``token`` is a likely typo of ("madird"), under the vocabulary's rules."""
        distance = _max_typo_distance(len(token))
        if distance == 0 or token in self._vocab.not_typos:
            return None
        best: tuple[int, str] | None = None
        for length in range(len(token) - distance, len(token) + distance + 1):
            choices = self._places.fuzzy_names.get((token[0], length))
            if not choices:
                continue
            found = process.extractOne(token, choices, scorer=OSA.distance, score_cutoff=distance)
            if found is not None and (best is None or found[1] < best[0]):
                best = (int(found[1]), str(found[0]))
        return None if best is None else self._places.names.get((best[1],))

    def _resolve_place(
        self, mentions: list[list[_PlaceCandidate]], country: str | None
    ) -> _PlaceCandidate | None:
        if not mentions:
            return None
        flat = [c for group in mentions for c in group]
        countries = {c.country for c in flat if c.kind == "country"}
        regions = {(c.country, key) for c in flat if c.kind == "region" for key in c.region_keys}
        preferred = next(iter(countries)) if len(countries) == 1 else country

        def pick(options: list[_PlaceCandidate]) -> _PlaceCandidate:
            return max(
                options,
                key=lambda c: (
                    c.country in countries,
                    c.country == preferred,
                    bool(regions) and any((c.country, k) in regions for k in c.region_keys),
                    c.weight,
                ),
            )

        cities = [c for c in flat if c.kind == "city"]
        if regions:
            in_region = [c for c in cities if any((c.country, k) in regions for k in c.region_keys)]
            cities = in_region or cities
        if cities:
            return pick(cities)
        region_options = [c for c in flat if c.kind == "region"]
        if region_options:
            return pick(region_options)
        return pick([c for c in flat if c.kind == "country"])

    # ----------------------------------------------------------------- search

    def search(
        self,
        query: str,
        *,
        country: str | None,
        group_id: str | None,
        language: str = "en",
        limit: int = 3,
        offset: int = 0,
        category: str | None = None,
    ) -> SearchResult:
        """Find the entries that best answer ``query``.

        Args:
            query: What the member typed, in any words, with or without a place.
            country: The group's country (ISO alpha-2); a place in the query overrides it.
            group_id: The asking group: its local entries are included, other groups' are not.
            language: The member's language (ISO 639-1); entries in it rank higher.
            limit: Page size.
            offset: Entries to skip (for "more").
            category: Restrict to this category code (e.g. from a category button).

        Returns:
            The page of entries, the total, and what was understood from the query. In a crisis
            query the emergency number comes first, then the other crisis lines, then the rest;
            otherwise the emergency number is left out. Entries of other groups are never
            included. Equal scores keep the order the entries were given in. A query with no
            topic and no place finds nothing, so the caller can offer the category buttons.

        Raises:
            ValueError: If ``category`` is not one of ``CATEGORIES``.
        """
        parsed = self._analyse(query, country)
        topic_masks = [self._vocab.topic_masks[t] for t in parsed.topic_names]
        if category is not None:
            if category not in _CATEGORY_BIT:
                raise ValueError(f"unknown category {category!r}")
            topic_masks.append(_CATEGORY_BIT[category])
        mask = parsed.mask
        for topic_mask in topic_masks:
            mask |= topic_mask
        is_crisis = bool(mask & _CRISIS_BIT)
        place = parsed.place
        place_country = place.country if place else country
        scope: tuple[str | None, ...] = self._countries if place_country is None else (place_country, None)

        scores: dict[int, float] = {}
        if topic_masks:
            members = self._members
            for signature, (main, entry_mask) in enumerate(self._signatures):
                base = _category_score(main, entry_mask, topic_masks)
                if base:
                    for code in scope:
                        for i in members.get((signature, code), ()):
                            scores[i] = base
        query_words = {token for token, _ in parsed.topics}
        for token, original in parsed.topics:
            for i, weight in self._text_hits(token, original).items():
                scores[i] = scores.get(i, 0.0) + weight
        for i, weight in self._name_phrase_hits(parsed.topics).items():
            scores[i] = scores.get(i, 0.0) + weight
        # Synonyms of the topics found rank, within a category, the entries that talk about them.
        for topic in parsed.topic_names:
            synonyms = self._vocab.topic_words.get(topic, frozenset()) - query_words
            touched: set[int] = set()
            for word in synonyms:
                touched.update(self._name_postings.get(word, ()))
                touched.update(self._text_postings.get(word, ()))
            for i in touched:
                if i in scores:
                    scores[i] += _W_SYNONYM
        if category is not None:
            required = _CATEGORY_BIT[category]
            scores = {i: v for i, v in scores.items() if self._mask[i] & required}
        if not topic_masks and not parsed.topics:
            # Nothing asked for: everything in a named place, else nothing (the caller shows the
            # category buttons rather than an arbitrary list).
            if place is None:
                scores = {}
            else:
                scores = dict.fromkeys((i for code in scope for i in self._by_country.get(code, ())), 0.0)

        query_language = parsed.language or language
        language_scores: dict[frozenset[str], float] = {}
        resources = self._resources
        countries = self._country
        languages = self._languages
        crisis_bonus = self._crisis_bonus
        crisis_tier = self._crisis_tier
        emergency = self._emergency
        ranked: list[tuple[int, float, int]] = []
        for i, score in scores.items():
            if not is_crisis and emergency[i]:
                continue  # the emergency number answers crisis queries only, not "emergency room"
            entry_country = countries[i]
            if entry_country is not None and place_country is not None and (entry_country != place_country):
                continue
            entry = resources[i]
            own = entry.group_id is not None
            if own and entry.group_id != group_id:
                continue
            # A group's own entries are local to it by definition, wherever they are filed.
            place_score = self._place_score(i, place, place_country, own and place is None)
            if place_score is None:
                continue
            score += place_score
            if own:
                score += _W_GROUP_LOCAL
            langs = languages[i]
            if langs:
                lang_score = language_scores.get(langs)
                if lang_score is None:
                    lang_score = _W_LANGUAGE if language in langs else _W_OTHER_LANGUAGE
                    if query_language != language and query_language in langs:
                        lang_score += _W_QUERY_LANGUAGE
                    language_scores[langs] = lang_score
                score += lang_score
            tier = 0
            if is_crisis:
                score += crisis_bonus[i]
                tier = crisis_tier[i]
            ranked.append((tier, score, -i))

        offset = max(0, offset)
        limit = max(0, limit)
        top = heapq.nlargest(offset + limit, ranked)[offset:]
        return SearchResult(
            entries=tuple(resources[-neg] for _, _, neg in top),
            total=len(ranked),
            categories=mask_to_categories(mask),
            place=_to_detected(place),
            is_crisis=is_crisis,
            language=query_language,
        )

    def _name_phrase_hits(self, topics: Sequence[tuple[str, str | None]]) -> dict[int, float]:
        """Bonus for entries whose name has two query words side by side ("school meals")."""
        hits: dict[int, float] = {}
        for (first, _), (second, _) in itertools.pairwise(topics):
            both = set(self._name_postings.get(first, ())) & set(self._name_postings.get(second, ()))
            for i in both:
                tokens = self._name_tokens[i]
                if any(a == first and b == second for a, b in itertools.pairwise(tokens)):
                    hits[i] = hits.get(i, 0.0) + _W_NAME_PHRASE
        return hits

    def _text_hits(self, token: str, original: str | None) -> dict[int, float]:
        hits: dict[int, float] = {}

        def add(word: str, factor: float) -> None:
            factor *= self._rarity(word)
            weight = _W_NAME_TOKEN * factor
            for i in self._name_postings.get(word, ()):
                if hits.get(i, 0.0) < weight:
                    hits[i] = weight
            weight = _W_DESCRIPTION_TOKEN * factor
            for i in self._text_postings.get(word, ()):
                if hits.get(i, 0.0) < weight:
                    hits[i] = weight

        exact = token in self._name_postings or token in self._text_postings
        add(token, 1.0)
        if original is not None and original != token:
            add(original, 1.0)
        for word in self._stem_relatives(token):
            add(word, _STEM_FACTOR)
        vocab = self._vocab
        if not exact and token not in vocab.known_words and token not in vocab.not_typos:
            for word in self._fuzzy_entry_words(token):
                add(word, _FUZZY_FACTOR)
        return hits

    def _rarity(self, word: str) -> float:
        """Inverse document frequency scaled to 0..1: "samaritans" ~1, "crisis" in 200 names ~0.4."""
        count = len(self._name_postings.get(word, ())) + len(self._text_postings.get(word, ()))
        if count == 0:
            return 0.0
        return math.log1p(self._size / count) / self._log_size

    def _stem_relatives(self, token: str) -> tuple[str, ...]:
        """Entry words sharing most of their beginning with ``token`` ("autism" ~ "autistic")."""
        if len(token) < _STEM_PREFIX:
            return ()
        out = []
        for word in self._words_by_prefix.get(token[:_STEM_PREFIX], ()):
            if word == token:
                continue
            shared = _common_prefix(word, token)
            if shared >= max(_STEM_PREFIX, 0.75 * min(len(word), len(token))):
                out.append(word)
        return tuple(out)

    def _scope(self, place: _PlaceCandidate | None, country: str | None) -> Iterable[int]:
        target = place.country if place else country
        if target is None:
            return range(len(self._resources))
        return [*self._by_country.get(target, ()), *self._by_country.get(None, ())]

    def _place_score(
        self, i: int, place: _PlaceCandidate | None, country: str | None, local: bool
    ) -> float | None:
        """Return how well entry ``i`` serves the place, or None if it does not serve it."""
        kind = self._kind[i]
        entry_country = self._country[i]
        named = place is not None and place.kind != "country"
        if kind == _KIND_ONLINE:
            if entry_country is None:
                # International directories are a last resort, after the country's own services.
                return 0.0
            if country is not None and entry_country != country:
                return None
            return 5.0 if named else 30.0
        if country is not None and entry_country != country:
            return None
        if place is None or place.kind == "country":
            # No town named: what serves the whole country first, then wider areas first.
            # A service of another town rarely helps, but is better than nothing.
            if kind == _KIND_NATIONAL or local:
                return 30.0
            return 12.0 if kind == _KIND_REGION else 5.0
        # A town or region was named: what serves it comes first, by more than a text match can
        # make up, then the country-wide services. Between the town's own services and its
        # region's the margin is small, so the better match of words wins.
        if kind == _KIND_NATIONAL:
            return 15.0
        if place.kind == "city":
            if kind == _KIND_CITY and self._city[i] == place.city_key:
                return 60.0
            if kind == _KIND_REGION and self._region[i] in place.region_keys:
                return 50.0
            return None
        if self._region[i] in place.region_keys:
            return 60.0 if kind == _KIND_REGION else 50.0
        return None

    def category_counts(self, *, country: str | None, group_id: str | None) -> dict[str, int]:
        """Return how many visible entries each category has in ``country`` (for buttons)."""
        counts = dict.fromkeys(CATEGORIES, 0)
        for i in self._scope(None, country):
            entry = self._resources[i]
            if entry.visible_to(group_id):
                for code in entry.categories:
                    counts[code] += 1
        return counts


def _category_score(main: int, entry_mask: int, topic_masks: Sequence[int]) -> float:
    """Category part of a score: each topic counts once, more for the entry's main category.

    Summing over topics favours entries that answer every part of "wheelchair bus"; within a
    topic, an entry covering more of its categories fits better (suicide is crisis + mental
    health: a line that is both beats a crisis line for something else).
    """
    total = 0.0
    for topic_mask in topic_masks:
        overlap = entry_mask & topic_mask
        if overlap:
            total += _W_MAIN_CATEGORY if main & topic_mask else _W_OTHER_CATEGORY
            total += _W_TOPIC_OVERLAP * (overlap.bit_count() - 1)
    return total


def _with_singulars(tokens: set[str]) -> set[str]:
    """Add the singular of plain English plurals, so "IEPs" is found by "iep"."""
    extra = {t[:-1] for t in tokens if len(t) >= 4 and t.endswith("s") and not t.endswith("ss")}
    return tokens | extra


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low
        mask ^= low


def _to_detected(place: _PlaceCandidate | None) -> DetectedPlace | None:
    if place is None:
        return None
    if place.kind == "country":
        return DetectedPlace("country", place.country)
    if place.kind == "region":
        return DetectedPlace("region", place.country, region=place.region_display)
    return DetectedPlace("city", place.country, region=place.region_display, city=place.city_display)


# --------------------------------------------------------------------------- crisis lines


def crisis_lines(
    resources: Iterable[Resource],
    *,
    country: str,
    language: str,
    imminent: bool,
    limit: int | None = None,
) -> list[Resource]:
    """Return the crisis lines to give a member, best first: the crisis capability's only source.

    Lines of ``country`` (national first, then the local ones passed in, e.g. a group's own) come
    in the order of the directory, with lines offered in ``language`` before the others. The
    emergency number comes first when ``imminent`` (severity 3) and last otherwise, so it is always
    there. International lines (online, no country) are added only when the country has none.

    Args:
        resources: Entries the member may see (shipped plus their group's); visibility is the
            caller's to apply, as this function has no group.
        country: The group's or member's country, ISO alpha-2.
        language: The member's language, ISO 639-1.
        imminent: True at severity 3 (plan, means, in progress).
        limit: At most this many lines, the emergency number included when imminent.
    """
    lines = [r for r in resources if r.is_crisis_line]
    own = [r for r in lines if r.country == country]
    if not any(not r.is_emergency for r in own):
        own.extend(r for r in lines if r.country is None)
    order = {id(r): n for n, r in enumerate(own)}

    def rank(entry: Resource) -> tuple[int, int, int, int]:
        # The emergency number leads when danger is imminent, and closes the list otherwise.
        emergency = (0 if imminent else 2) if entry.is_emergency else 1
        speaks = 0 if (not entry.languages or language in entry.languages) else 1
        area = {"national": 0, "region": 1, "city": 1, "online": 2}[entry.service_area]
        return (emergency, speaks, area, order[id(entry)])

    ranked = sorted(own, key=rank)
    return ranked if limit is None else ranked[:limit]
