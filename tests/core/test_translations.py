"""Every user-facing string has a Spanish translation with the same {fields}."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from bot.core.i18n import Translator

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"tr": (2,), "trn": (2, 3), "t": None, "tn": (1, 2), "N_": None}


def extracted_ids() -> set[str]:
    ids: set[str] = set()
    for folder in ("bot", "adapters"):
        for _file, _line, message, _comments, _context in extract_from_dir(
                ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS):
            first = message[0] if isinstance(message, tuple) else message
            if first:
                ids.add(first)
    return ids


def test_every_message_id_is_translated_to_spanish() -> None:
    translator = Translator()
    missing = sorted(i for i in extracted_ids() if not translator.has("es", i))
    assert missing == []


def test_translations_keep_their_fields() -> None:
    translator = Translator()
    for msgid in extracted_ids():
        wanted = set(re.findall(r"\{(\w+)\}", msgid))
        spanish = translator.tr("es", msgid, **dict.fromkeys(wanted, "x"))
        assert "{" not in spanish, msgid


def test_unknown_language_falls_back_to_english() -> None:
    translator = Translator()
    assert translator.tr("fr", "Settings:") == "Settings:"
    assert translator.tr("es-MX", "Settings:") == "Configuración:"
