"""Friendly time-zone and country look-ups: "Madrid", "Spain", "españa", "US/Eastern", "ES"."""

from __future__ import annotations

import unicodedata
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.core import get_global


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("_", " ")


@cache
def _zones_by_city() -> dict[str, str]:
    cities: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/")):
            cities.setdefault(_fold(zone.rsplit("/", 1)[1]), zone)
    return cities


@cache
def _countries() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in ("en", "es"):
        for code, name in Locale.parse(lang).territories.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(_fold(name), code)
    names.update({"usa": "US", "uk": "GB", "america": "US", "eeuu": "US", "ee uu": "US",
                  "england": "GB", "scotland": "GB", "wales": "GB", "inglaterra": "GB"})
    return names


def find_country(text: str) -> str | None:
    """An ISO 3166 alpha-2 code for a code or a country name in English or Spanish."""
    folded = _fold(text)
    if len(folded) == 2 and folded.isalpha():
        code = folded.upper()
        code = "GB" if code == "UK" else code
        return code if code in get_global("territory_zones") or code in _countries().values() \
            else None
    return _countries().get(folded)


def find_timezone(text: str) -> str | None:
    """An IANA zone for an IANA name, a city, or a country (its main zone)."""
    raw = text.strip()
    if not raw or len(raw) > 64:
        return None
    try:
        ZoneInfo(raw)
        if "/" in raw or raw.upper() == "UTC":
            return "UTC" if raw.upper() == "UTC" else raw
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    folded = _fold(raw)
    for zone in available_timezones():
        if zone.lower() == raw.lower():
            return zone
    city = _zones_by_city().get(folded)
    if city:
        return city
    country = find_country(raw)
    if country:
        return country_zones(country)[0] if country_zones(country) else None
    return None


# Where CLDR lists several zones alphabetically, the one most people live in goes first.
_MAIN_ZONE = {"US": "America/New_York", "ES": "Europe/Madrid", "MX": "America/Mexico_City",
              "CA": "America/Toronto", "AU": "Australia/Sydney", "BR": "America/Sao_Paulo",
              "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago",
              "PT": "Europe/Lisbon", "EC": "America/Guayaquil", "RU": "Europe/Moscow"}


def country_zones(code: str) -> tuple[str, ...]:
    """The IANA zones of a country, main one first."""
    zones = list(get_global("territory_zones").get(code.upper(), ()))
    main = _MAIN_ZONE.get(code.upper())
    if main in zones:
        zones.remove(main)
        zones.insert(0, main)
    return tuple(zones)
