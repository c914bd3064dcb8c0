"""Text normalization for crisis screening: undoes obfuscation, look-alikes, typos and contractions.

The normalizer turns a raw chat message into a canonical token stream, `" tok tok tok "` (single
spaces, padded at both ends), so that the detector's patterns only ever see one spelling of each
word. All tables (look-alike letters, leetspeak, contractions, chat spellings, known typos, the
words that get fuzzy typo matching) come from the lexicon data files; this module is the generic
machinery and holds no vocabulary of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

#: Messages longer than this are screened on their head and tail only. Chat platforms cap
#: messages well below it (Telegram 4096, Discord 4000), so this only bounds pathological input.
MAX_CHARS = 24_000
_HEAD = 16_000
_TAIL = 8_000

# Combining marks (accents, "zalgo" stacks, variation selectors). Stripping them folds "está" to
# "esta" and removes diacritics piled on letters to dodge filters.
_COMBINING = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff"
    "\ufe00-\ufe0f\ufe20-\ufe2f\U000e0100-\U000e01ef]"
)
# Words spelled out letter by letter: "s u i c i d e", "s-u-i-c-i-d-e", "k.i.l.l". Four or more
# single characters with any separator, or three with a non-space separator ("d-i-e").
_SPACED4 = re.compile(r"(?<![^\W_])[^\W_](?:[ \t.\-_*·•~+|/\\]{1,3}[^\W_](?![^\W_])){3,}")
_SPACED3 = re.compile(r"(?<![^\W_])[^\W_](?:[ \t.\-_*·•~+|/\\]{1,2}[^\W_](?![^\W_])){2}")
_NON_WORD = re.compile(r"[\W_]+")
# Three or more repeats of a letter ("diiiie", "soooo") are squeezed to two.
_REPEAT = re.compile(r"([a-z])\1{2,}")
_TRIPLE = re.compile(r"([a-z])\1\1")
_LEET_CHARS = re.compile(r"[0-9@$|!]")
# Words (apostrophes and asterisks stay inside them) and single punctuation marks or symbols.
_SPLIT = re.compile(r"[\w'*]+|[^\w\s]")
# Tokens: words (with inner apostrophes or masking asterisks: "don't", "s*icide"), line breaks,
# and every other visible character on its own (punctuation, emoji).
_TOKEN = re.compile(r"[^\W_]+(?:[*']+[^\W_]+)*|\n|[^\s\w]")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _has_letter_run(parts: list[str]) -> bool:
    """Three or more one-character tokens in a row: maybe a word spelled out letter by letter."""
    run = 0
    for tok in parts:
        if len(tok) == 1:
            run += 1
            if run >= 3:
                return True
        else:
            run = 0
    return False


def _join_letters(m: re.Match[str]) -> str:
    return _NON_WORD.sub("", m.group())


def _leet_regex(chars: str) -> re.Pattern[str]:
    """Build the regex that finds leetspeak characters standing inside a word."""
    cls = re.escape(chars)
    # A leet character between two letters ("k1ll", "h@rm"), or a "$" opening a word ("$elf").
    # ... or ending a word of letters ("kil|", "di3"), but never "!" there (that is punctuation).
    return re.compile(
        rf"(?<=[a-z])[{cls}](?=[a-z])|(?<![^\W_])\$(?=[a-z]{{2}})|(?<=[a-z]{{2}})[|301](?![\w|])"
    )


def typo_variants(word: str, *, substitutions: bool) -> set[str]:
    """Return the one-edit misspellings of `word` that keep its first letter.

    Deletions, swaps of neighbouring letters and doubled letters are always produced (the typos
    people make most when typing fast); insertions and substitutions of any letter only when
    `substitutions` is true, because they collide with real words far more often.

    Args:
        word: A normalized key word (lower case ASCII letters).
        substitutions: Also produce single-letter insertions and substitutions.

    Returns:
        The variants, never including `word` itself.
    """
    out: set[str] = set()
    n = len(word)
    for i in range(1, n):
        out.add(word[:i] + word[i + 1 :])
        if i < n - 1:
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    for i in range(n):
        out.add(word[: i + 1] + word[i] + word[i + 1 :])
    if substitutions:
        for i in range(1, n + 1):
            for c in _ALPHABET:
                out.add(word[:i] + c + word[i:])
                if i < n and c != word[i]:
                    out.add(word[:i] + c + word[i + 1 :])
    out.discard(word)
    return {v for v in out if len(v) >= 3}


class Normalizer:
    """Canonicalizes message text into a padded, space-separated token string.

    Args:
        config: The merged lexicon tables: `characters` (remove, lookalikes, quotes, dashes),
            `leet`, `tokens` (whole-token replacements), `suffixes` (contraction endings) and
            `fuzzy` (key words for typo matching, `never_correct`, `mask_words`).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        chars: Mapping[str, Any] = config.get("characters", {})
        table: dict[int, str | None] = {}
        for ch in chars.get("remove", []):
            table[ord(ch)] = None
        for group in ("lookalikes", "quotes", "dashes", "spaces"):
            for src, dst in chars.get(group, {}).items():
                for ch in src:
                    table[ord(ch)] = dst
        self._fold = table
        leet: Mapping[str, str] = config.get("leet", {})
        self._leet_map = {k: v for k, v in leet.items() if len(k) == 1}
        self._leet_re = _leet_regex("".join(self._leet_map)) if self._leet_map else None
        self._suffixes: tuple[tuple[str, str], ...] = tuple(
            sorted(config.get("suffixes", {}).items(), key=lambda kv: -len(kv[0]))
        )
        self._tokens: dict[str, str] = {}
        for section in config.get("tokens", {}).values():
            for src, dst in section.items():
                self._tokens[self._plain(src)] = self._render(dst)
        fuzzy: Mapping[str, Any] = config.get("fuzzy", {})
        self._fuzzy_words: tuple[str, ...] = tuple(self._plain(w) for w in fuzzy.get("words", []))
        self._fuzzy_long: frozenset[str] = frozenset(
            self._plain(w) for w in fuzzy.get("words_with_substitutions", [])
        )
        self._never: frozenset[str] = frozenset(self._plain(w) for w in fuzzy.get("never_correct", []))
        self._mask_words: tuple[str, ...] = tuple(
            sorted({self._plain(w) for w in fuzzy.get("mask_words", [])} | set(self._fuzzy_words))
        )
        self._typos: dict[str, str] = {}
        self._table: dict[str, str] = dict(self._tokens)

    # -- building -------------------------------------------------------------------------------

    def _plain(self, text: str) -> str:
        """Fold a lexicon entry's characters the same way as messages (no token rewriting)."""
        return " ".join(self._fold_chars(text).split())

    def _render(self, value: str) -> str:
        return " ".join(value.lower().split())

    def build_typos(self, protected: Iterable[str]) -> int:
        """Generate the typo table for the fuzzy key words.

        A variant is dropped when it is itself a word used anywhere in the lexicon (`protected`),
        listed in `never_correct`, already a token rewrite, or reachable from two key words.

        Args:
            protected: Every word the lexicon uses; these are never "corrected".

        Returns:
            The number of typo spellings now recognized.
        """
        keep = set(protected) | set(self._never) | set(self._tokens) | set(self._fuzzy_words)
        seen: dict[str, str | None] = {}
        for word in self._fuzzy_words:
            if not word.isalpha() or len(word) < 3:
                continue
            long = word in self._fuzzy_long or len(word) >= 7
            for v in typo_variants(word, substitutions=long):
                if v in keep:
                    continue
                prev = seen.get(v, word)
                seen[v] = word if prev == word else None
        self._typos = {v: w for v, w in seen.items() if w is not None}
        self._table = {**self._typos, **self._tokens}
        return len(self._typos)

    @property
    def typo_table(self) -> Mapping[str, str]:
        """The generated typo spellings, mapped to the key word they stand for."""
        return self._typos

    @property
    def token_table(self) -> Mapping[str, str]:
        """The explicit whole-token rewrites from the lexicon."""
        return self._tokens

    # -- per message ----------------------------------------------------------------------------

    def _fold_chars(self, text: str) -> str:
        """Character-level folding: case, look-alikes, invisible characters, accents."""
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
            text = text.lower().translate(self._fold)
            if not text.isascii():
                text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
        else:
            text = text.lower()
        return text

    def _unmask(self, tok: str) -> str:
        """Resolve a word with masking asterisks ("s*icide") against the key words."""
        stripped = tok.replace("*", "")
        if "'" in tok or not stripped:
            return stripped
        n = len(tok)
        for word in self._mask_words:
            if len(word) == n and all(a == b or a == "*" for a, b in zip(tok, word, strict=True)):
                return word
        # One asterisk standing for two letters ("s*cide").
        for word in self._mask_words:
            if len(word) == n + 1 and "*" in tok:
                i = tok.index("*")
                if word[:i] == tok[:i] and word[i + 2 :] == tok[i + 1 :]:
                    return word
        return self._typos.get(stripped, stripped)

    def _map_token(self, tok: str) -> str:
        if len(tok) == 1:
            return tok
        if "*" in tok:
            tok = self._unmask(tok)
            hit = self._tokens.get(tok)
            return tok if hit is None else hit
        if "'" in tok:
            for suffix, repl in self._suffixes:
                if tok.endswith(suffix) and len(tok) > len(suffix):
                    base = tok[: -len(suffix)]
                    return self._tokens.get(base, self._typos.get(base, base)) + repl
            return tok.replace("'", "")
        return self._typos.get(tok, tok)

    def normalize(self, text: str) -> str:
        """Return the canonical form of `text`: `" tok tok ... "` with single spaces.

        Args:
            text: Raw message text, any length, any characters.

        Returns:
            The normalized token string, padded with one space at each end.
        """
        if len(text) > MAX_CHARS:
            text = text[:_HEAD] + "\n" + text[-_TAIL:]
        text = text.lower() if text.isascii() else self._fold_chars(text)
        # The de-obfuscation steps are each guarded by a cheap test; most messages skip them all.
        if _TRIPLE.search(text) is not None:
            text = _REPEAT.sub(r"\1\1", text)  # "diiiie" -> "diie"
        parts = _SPLIT.findall(text)
        retokenize = False
        if _has_letter_run(parts):  # "s u i c i d e", "s-u-i-c-i-d-e"
            joined = _SPACED3.sub(_join_letters, _SPACED4.sub(_join_letters, text))
            retokenize = joined != text
            text = joined
        if self._leet_re is not None and _LEET_CHARS.search(text) is not None:
            lm = self._leet_map
            plain = self._leet_re.sub(lambda m: lm.get(m.group(), "s"), text)
            retokenize = retokenize or plain != text
            text = plain
        if "\n" in text:
            text = text.replace("\n", " . ")  # a line break ends a sentence
            retokenize = True
        if retokenize:
            parts = _SPLIT.findall(text)
        get = self._table.get
        out = [get(t, t) for t in parts]
        norm = " ".join(out)
        if "'" in norm or "*" in norm or "  " in norm:
            # Rare: a possessive, a quote mark, a masked word, or a dropped token.
            norm = " ".join([t for t in self._fix_marked(parts, out) if t])
        return " " + norm + " " if norm else " "

    def _fix_marked(self, parts: list[str], out: list[str]) -> list[str]:
        """Slow path for tokens with quotes, apostrophes or masking asterisks."""
        table = self._table
        fixed: list[str] = []
        for raw, mapped in zip(parts, out, strict=True):
            if mapped != raw or ("'" not in raw and "*" not in raw) or raw in ("'", "*"):
                fixed.append(mapped)
                continue
            for tok in _TOKEN.findall(raw):
                hit = table.get(tok)
                if hit is None:
                    hit = self._map_token(tok)
                    hit = table.get(hit, hit)
                fixed.append(hit)
        return fixed

    def normalize_phrase(self, phrase: str) -> str:
        """Normalize a lexicon phrase exactly like a message, without the padding."""
        return self.normalize(phrase).strip()
