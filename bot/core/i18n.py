"""The translation catalogue: English message ids, Spanish (and later) translations from .po files.

Every user-facing string goes through :class:`Translator`. The English text is the message id,
so `pybabel extract -k tr:2 -k trn:2,3 -k N_` finds every string, and a contract test checks
that each one has a Spanish translation.
"""

from __future__ import annotations

import logging
from pathlib import Path

from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "kindred"
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "es")
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "es": "Español"}


def N_(msgid: str) -> str:
    """Mark a string for extraction where it is translated later (tables of message ids)."""
    return msgid


class Translator:
    """Looks up message ids in the language's catalogue and fills in `{named}` fields."""

    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        self._catalogues: dict[str, dict[str, str | tuple[str, ...]]] = {"en": {}}
        for lang in SUPPORTED_LANGUAGES:
            po_path = locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
            if lang == "en" or not po_path.exists():
                continue
            with po_path.open("rb") as handle:
                catalogue = read_po(handle, locale=lang)
            entries: dict[str, str | tuple[str, ...]] = {}
            for message in catalogue:
                if not message.id or message.fuzzy:
                    continue
                key = str(message.id[0] if isinstance(message.id, tuple | list) else message.id)
                if isinstance(message.string, tuple | list):
                    if all(message.string):
                        entries[key] = tuple(str(s) for s in message.string)
                elif message.string:
                    entries[key] = str(message.string)
            self._catalogues[lang] = entries

    @staticmethod
    def normalise(lang: str | None) -> str:
        """The supported language closest to `lang` ("es-MX" → "es"); English otherwise."""
        if not lang:
            return "en"
        base = lang.replace("_", "-").split("-")[0].lower()
        return base if base in SUPPORTED_LANGUAGES else "en"

    def has(self, lang: str, msgid: str) -> bool:
        """Whether `msgid` is translated in `lang` (English always is)."""
        return lang == "en" or msgid in self._catalogues.get(lang, {})

    def __call__(self, lang: str, msgid: str, **fields: object) -> str:
        """The translation of `msgid` in `lang`, with `{fields}` filled in."""
        return self.tr(lang, msgid, **fields)

    def tr(self, lang: str, msgid: str, **fields: object) -> str:
        """The translation of `msgid` in `lang`, with `{fields}` filled in."""
        found = self._catalogues.get(self.normalise(lang), {}).get(msgid, msgid)
        text = found[0] if isinstance(found, tuple) else found
        return self._fill(text, msgid, fields)

    def trn(self, lang: str, singular: str, plural: str, n: int, **fields: object) -> str:
        """The singular or plural form for `n` (English and Spanish share the n == 1 rule)."""
        found = self._catalogues.get(self.normalise(lang), {}).get(singular)
        if isinstance(found, tuple) and len(found) >= 2:
            text = found[0] if n == 1 else found[1]
        else:
            text = singular if n == 1 else plural
        return self._fill(text, singular, {"n": n, **fields})

    @staticmethod
    def _fill(text: str, msgid: str, fields: dict[str, object]) -> str:
        if not fields:
            return text
        try:
            return text.format(**fields)
        except (KeyError, IndexError, ValueError):
            # A broken translation must never cost a member their reply: fall back to English.
            log.error("translation has bad fields", extra={"msgid_len": len(msgid)})
            return msgid.format(**fields)
