"""Resource directory domain model: the Resource entry, its category codes and field validation."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources as importlib_resources
from typing import Final, Literal, NamedTuple
from urllib.parse import urlsplit

CATEGORIES: Final[tuple[str, ...]] = (
    "crisis",
    "mental_health",
    "parenting_support",
    "disability",
    "education",
    "respite_childcare",
    "housing",
    "food",
    "money",
    "legal",
    "transport",
    "health",
)
"""Fixed category codes, in display order."""

ServiceAreaKind = Literal["national", "region", "city", "online"]
SERVICE_AREA_KINDS: Final[tuple[ServiceAreaKind, ...]] = ("national", "region", "city", "online")

COSTS: Final[tuple[str, ...]] = (
    "free",
    "low_cost",
    "sliding_scale",
    "medicaid",
    "insurance",
    "fee",
)
"""Cost codes: what a family pays. Details go in ``Resource.payment_notes``."""

_COUNTRY_RE: Final = re.compile(r"^[A-Z]{2}$")
_LANGUAGE_RE: Final = re.compile(r"^[a-z]{2}$")
_PHONE_EXT_RE: Final = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d{1,6}\s*$", re.IGNORECASE)
_PHONE_RE: Final = re.compile(r"^\+?[\d\s().\-/]+$")
_EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_HOST_RE: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]+)+$")

MAX_NAME_LENGTH: Final = 200
MAX_DESCRIPTION_LENGTH: Final = 2000


class AgeRange(NamedTuple):
    """Child ages a service takes (HSDS ``minimum_age``/``maximum_age``); None means no bound."""

    minimum_age: int | None
    maximum_age: int | None

    def contains(self, age: int) -> bool:
        """Return True if a child of ``age`` years is within the range."""
        if self.minimum_age is not None and age < self.minimum_age:
            return False
        return self.maximum_age is None or age <= self.maximum_age


def phone_problem(phone: str) -> str | None:
    """Return why ``phone`` is not a usable phone number, or None if it is.

    Short codes (911, 988, 111, 024) count: they are what crisis lines publish.
    """
    core = _PHONE_EXT_RE.sub("", phone.strip())
    if not core or not _PHONE_RE.match(core):
        return f"phone {phone!r} has characters a phone number cannot have"
    digits = sum(ch.isdigit() for ch in core)
    if digits < 3 or digits > 15:
        return f"phone {phone!r} must have between 3 and 15 digits"
    return None


def url_problem(url: str) -> str | None:
    """Return why ``url`` is not an http(s) address, or None if it is."""
    if any(ch.isspace() for ch in url):
        return f"url {url!r} contains spaces"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"url {url!r} must start with http:// or https://"
    host = parts.hostname or ""
    if not _HOST_RE.match(host):
        return f"url {url!r} has no valid host name"
    return None


def email_problem(email: str) -> str | None:
    """Return why ``email`` is not an e-mail address, or None if it is."""
    return None if _EMAIL_RE.match(email) else f"email {email!r} is not an e-mail address"


@dataclass(frozen=True, slots=True)
class Resource:
    """One directory entry. Field names follow Open Referral HSDS where one fits.

    Attributes:
        id: Stable identifier (HSDS ``service.id``).
        name: Service name as the provider publishes it.
        description: What it offers and for whom, in the provider's main language.
        categories: Category codes from ``CATEGORIES``; the first is the main one.
        service_area: "national", "region", "city" or "online".
        country: ISO 3166-1 alpha-2 code; None only for online services open to any country.
        region: State, province, nation or autonomous community, for region and city entries.
        city: City or town, for city entries.
        phone: Number to call, as published (HSDS ``phone.number``).
        text_line: How to reach it by text, e.g. "Text HOME to 741741".
        url: Provider's public page.
        email: Contact address.
        hours: Opening hours as free text (HSDS ``schedule.description``).
        languages: ISO 639-1 codes the service is offered in.
        ages_served: Child ages taken, or None when not limited.
        cost: A code from ``COSTS`` or None when unknown.
        payment_notes: Fees and payment accepted (HSDS ``fees_description``).
        assured_date: Date the details were last verified (HSDS ``assured_date``).
        group_id: None for deployment-wide entries; a group id for that group's local entries.
        is_emergency: True for the emergency number itself (911, 999, 112).
        verification: Where the details were checked (provider page, call, etc.).
    """

    id: str
    name: str
    description: str = ""
    categories: tuple[str, ...] = ()
    service_area: ServiceAreaKind = "national"
    country: str | None = None
    region: str | None = None
    city: str | None = None
    phone: str | None = None
    text_line: str | None = None
    url: str | None = None
    email: str | None = None
    hours: str | None = None
    languages: tuple[str, ...] = ()
    ages_served: AgeRange | None = None
    cost: str | None = None
    payment_notes: str | None = None
    assured_date: date | None = None
    group_id: str | None = None
    is_emergency: bool = False
    verification: str | None = None

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """Return every reason this entry is invalid (empty when valid)."""
        out: list[str] = []
        if not self.id.strip():
            out.append("id is empty")
        if not self.name.strip():
            out.append("name is empty")
        elif len(self.name) > MAX_NAME_LENGTH:
            out.append(f"name is longer than {MAX_NAME_LENGTH} characters")
        if len(self.description) > MAX_DESCRIPTION_LENGTH:
            out.append(f"description is longer than {MAX_DESCRIPTION_LENGTH} characters")
        if not self.categories:
            out.append("no category")
        unknown = [c for c in self.categories if c not in CATEGORIES]
        if unknown:
            out.append(f"unknown categories {', '.join(unknown)}")
        if len(set(self.categories)) != len(self.categories):
            out.append("a category is repeated")
        if self.service_area not in SERVICE_AREA_KINDS:
            out.append(f"service_area must be one of {', '.join(SERVICE_AREA_KINDS)}")
        if self.country is None:
            if self.service_area != "online":
                out.append("country is required unless the service is online")
        elif not _COUNTRY_RE.match(self.country):
            out.append(f"country {self.country!r} is not an ISO 3166 alpha-2 code")
        if self.service_area in ("region", "city") and not (self.region or "").strip():
            out.append(f"a {self.service_area} entry needs a region")
        if self.service_area == "city" and not (self.city or "").strip():
            out.append("a city entry needs a city")
        if self.phone is not None and (problem := phone_problem(self.phone)):
            out.append(problem)
        if self.url is not None and (problem := url_problem(self.url)):
            out.append(problem)
        if self.email is not None and (problem := email_problem(self.email)):
            out.append(problem)
        if self.phone is None and self.text_line is None and self.url is None and self.email is None:
            out.append("needs at least one of phone, text_line, url or email")
        bad_languages = [code for code in self.languages if not _LANGUAGE_RE.match(code)]
        if bad_languages:
            out.append(f"languages {', '.join(bad_languages)} are not ISO 639-1 codes")
        if self.ages_served is not None:
            low, high = self.ages_served
            for bound in (low, high):
                if bound is not None and not 0 <= bound <= 120:
                    out.append(f"age {bound} is out of range")
            if low is not None and high is not None and low > high:
                out.append("minimum_age is above maximum_age")
        if self.cost is not None and self.cost not in COSTS:
            out.append(f"cost must be one of {', '.join(COSTS)}")
        if self.is_emergency and "crisis" not in self.categories:
            out.append("an emergency number must be in the crisis category")
        return out

    def visible_to(self, group_id: str | None) -> bool:
        """Return True if members of ``group_id`` may see this entry."""
        return self.group_id is None or self.group_id == group_id

    @property
    def is_crisis_line(self) -> bool:
        """True for entries in the crisis category (emergency numbers included)."""
        return "crisis" in self.categories


@dataclass(frozen=True, slots=True)
class CategoryName:
    """Display names of one category, to be copied into the translation catalogue."""

    code: str
    key: str
    names: dict[str, str]

    def display(self, language: str) -> str:
        """Return the name in ``language``, falling back to English."""
        return self.names.get(language) or self.names["en"]


@cache
def category_names() -> dict[str, CategoryName]:
    """Return the shipped display names of every category, keyed by code, in display order."""
    raw = tomllib.loads(
        importlib_resources.files("bot.resources")
        .joinpath("data", "categories.toml")
        .read_text(encoding="utf-8")
    )
    out: dict[str, CategoryName] = {}
    for code in CATEGORIES:
        table = raw[code]
        names = {k: str(v) for k, v in table.items() if k != "key"}
        out[code] = CategoryName(code=code, key=str(table["key"]), names=names)
    return out
