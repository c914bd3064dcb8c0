"""CSV import and export of directory entries, with HSDS-style columns and per-row validation.

Import is tolerant of exports from 211 systems and spreadsheets: column names are matched through
aliases (``service_name``, ``website``, ``state_province``...), unknown columns are ignored and
reported, taxonomy terms are mapped to categories through the search vocabulary, and the delimiter
may be a comma, a semicolon or a tab. A row is imported whole or not at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources as importlib_resources
from typing import Final

from bot.resources.model import (
    CATEGORIES,
    MAX_DESCRIPTION_LENGTH,
    SERVICE_AREA_KINDS,
    AgeRange,
    Resource,
    ServiceAreaKind,
    email_problem,
    phone_problem,
    url_problem,
)
from bot.resources.search import country_code, load_vocabulary, words

COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "name",
    "description",
    "categories",
    "service_area",
    "country",
    "region",
    "city",
    "phone",
    "text_line",
    "url",
    "email",
    "hours",
    "languages",
    "minimum_age",
    "maximum_age",
    "cost",
    "fees_description",
    "assured_date",
    "group_id",
    "is_emergency",
    "verification",
)
"""Columns written by ``write_resources_csv``, in order (HSDS names where one exists)."""

# Other names for each column, as found in HSDS flat exports, 211 exports and spreadsheets.
# Earlier aliases win when a file has several columns for the same field.
_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "id": ("id", "service_id", "resource_id", "record_id", "program_id"),
    "name": (
        "name",
        "service_name",
        "program_name",
        "resource_name",
        "organization_name",
        "agency_name",
        "title",
    ),
    "description": (
        "description",
        "service_description",
        "program_description",
        "details",
        "organization_description",
    ),
    "categories": (
        "categories",
        "category",
        "taxonomy_terms",
        "taxonomy_term",
        "taxonomy",
        "service_taxonomy",
        "taxonomy_name",
        "topics",
        "keywords",
    ),
    "service_area": ("service_area", "service_area_kind", "area_type", "coverage"),
    "country": ("country", "address_country", "country_code", "physical_address_country"),
    "region": (
        "region",
        "state_province",
        "state",
        "province",
        "address_state_province",
        "physical_address_state_province",
        "comunidad",
        "estado",
    ),
    "city": (
        "city",
        "locality",
        "address_city",
        "address_locality",
        "physical_address_city",
        "municipality",
        "town",
        "ciudad",
        "municipio",
    ),
    "phone": ("phone", "phone_number", "phones", "telephone", "phone_1", "main_phone", "telefono"),
    "text_line": ("text_line", "text", "sms", "text_number"),
    "url": ("url", "website", "web", "service_url", "website_url", "organization_url", "web_site"),
    "email": ("email", "service_email", "organization_email", "e_mail"),
    "hours": ("hours", "schedule", "schedule_description", "hours_of_operation", "opening_hours", "horario"),
    "languages": ("languages", "language", "service_languages", "languages_spoken", "idiomas"),
    "minimum_age": ("minimum_age", "min_age", "age_min", "eligibility_minimum_age"),
    "maximum_age": ("maximum_age", "max_age", "age_max", "eligibility_maximum_age"),
    "ages_served": ("ages_served", "ages", "age_range"),
    "cost": ("cost", "cost_type", "fee_type"),
    "fees_description": (
        "fees_description",
        "fees",
        "payment",
        "payment_notes",
        "payment_accepted",
        "payment_options",
    ),
    "assured_date": (
        "assured_date",
        "last_verified",
        "last_verified_on",
        "verified_date",
        "date_verified",
        "last_assured_date",
        "verified_on",
        "last_updated",
    ),
    "group_id": ("group_id",),
    "is_emergency": ("is_emergency", "emergency"),
    "verification": ("verification", "verification_note", "assurer", "verified_by", "source"),
}

_LANGUAGE_NAMES: Final[dict[str, str]] = {
    "english": "en",
    "ingles": "en",
    "spanish": "es",
    "espanol": "es",
    "castellano": "es",
    "french": "fr",
    "frances": "fr",
    "catalan": "ca",
    "catala": "ca",
    "basque": "eu",
    "euskera": "eu",
    "galician": "gl",
    "gallego": "gl",
    "welsh": "cy",
    "cymraeg": "cy",
    "portuguese": "pt",
    "portugues": "pt",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "zh",
    "vietnamese": "vi",
    "arabic": "ar",
    "arabe": "ar",
    "russian": "ru",
    "polish": "pl",
    "urdu": "ur",
    "punjabi": "pa",
    "bengali": "bn",
    "hindi": "hi",
    "somali": "so",
    "haitian creole": "ht",
    "creole": "ht",
    "korean": "ko",
    "tagalog": "tl",
    "german": "de",
    "italian": "it",
    "romanian": "ro",
    "ukrainian": "uk",
}
_COSTS: Final[dict[str, str]] = {
    "free": "free",
    "gratis": "free",
    "gratuito": "free",
    "no cost": "free",
    "free of charge": "free",
    "low cost": "low_cost",
    "low_cost": "low_cost",
    "sliding scale": "sliding_scale",
    "sliding_scale": "sliding_scale",
    "medicaid": "medicaid",
    "insurance": "insurance",
    "seguro": "insurance",
    "fee": "fee",
    "paid": "fee",
    "de pago": "fee",
}
_TRUE: Final = frozenset({"true", "yes", "y", "1", "si", "x"})
_FALSE: Final = frozenset({"false", "no", "n", "0", ""})
_SPLIT_RE: Final = re.compile(r"[;|]")
_LIST_RE: Final = re.compile(r"[;|,]")
_AGES_RE: Final = re.compile(r"^\s*(\d{1,3})?\s*(?:-|–|to|a)\s*(\d{1,3})?\s*$")
_HOST_ONLY_RE: Final = re.compile(r"^[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+(/\S*)?$")
_DATE_FORMATS: Final = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
MAX_IMPORT_ROWS: Final = 50_000


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import produced.

    Attributes:
        resources: Entries from the rows that were valid, in file order.
        errors: (line number, message) for each rejected row; line 1 is the header.
        warnings: (line number, message) for rows imported with something dropped or guessed.
        ignored_columns: Columns that were not understood and were skipped.
    """

    resources: tuple[Resource, ...]
    errors: tuple[tuple[int, str], ...]
    warnings: tuple[tuple[int, str], ...]
    ignored_columns: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every row was imported."""
        return not self.errors


class _RowError(Exception):
    pass


def _column_key(header: str) -> str:
    return "_".join(words(header))


def _map_columns(header: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    keys = [_column_key(h) for h in header]
    mapping: dict[str, int] = {}
    for field_name, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in keys:
                mapping[field_name] = keys.index(alias)
                break
    used = set(mapping.values())
    ignored = [header[i] for i in range(len(header)) if i not in used and header[i].strip()]
    return mapping, ignored


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_resources_csv(
    text: str,
    *,
    default_country: str | None = None,
    group_id: str | None = None,
    today: date | None = None,
) -> ImportReport:
    """Parse directory entries from CSV text.

    Args:
        text: The whole CSV file, header first.
        default_country: Country for rows that name none (e.g. a US 211 export).
        group_id: When set, every entry becomes that group's local entry (a facilitator's upload).
        today: When given, an ``assured_date`` after it is an error.

    Returns:
        The valid entries and, for every other row, its line number and why it was rejected.
    """
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=_sniff_delimiter(first_line))
    try:
        header = next(reader)
    except StopIteration:
        return ImportReport((), ((1, "the file is empty"),), (), ())
    except csv.Error as exc:
        return ImportReport((), ((1, f"cannot read the header: {exc}"),), (), ())
    mapping, ignored = _map_columns(header)
    if "name" not in mapping:
        return ImportReport((), ((1, "no name column (expected 'name' or 'service_name')"),), (), ())
    if "categories" not in mapping:
        return ImportReport(
            (), ((1, "no categories column (expected 'categories' or 'taxonomy_terms')"),), (), ()
        )
    good: list[Resource] = []
    errors: list[tuple[int, str]] = []
    warnings: list[tuple[int, str]] = []
    seen: set[str] = set()
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((line, f"cannot read the row: {exc}"))
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(good) + len(errors) >= MAX_IMPORT_ROWS:
            errors.append((line, f"more than {MAX_IMPORT_ROWS} rows; the rest was not read"))
            break
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
            errors.append((line, f"row has {len(row)} fields but the header has {len(header)}"))
            continue
        notes: list[str] = []
        try:
            resource = _row_to_resource(row, mapping, notes, default_country, group_id, today)
        except _RowError as exc:
            errors.append((line, str(exc)))
            continue
        if resource.id in seen:
            errors.append((line, f"duplicate id {resource.id!r}"))
            continue
        seen.add(resource.id)
        good.append(resource)
        warnings.extend((line, note) for note in notes)
    return ImportReport(tuple(good), tuple(errors), tuple(warnings), tuple(ignored))


def _row_to_resource(
    row: Sequence[str],
    mapping: dict[str, int],
    notes: list[str],
    default_country: str | None,
    group_id: str | None,
    today: date | None,
) -> Resource:
    def get(field_name: str) -> str:
        index = mapping.get(field_name)
        if index is None or index >= len(row):
            return ""
        return row[index].strip()

    def optional(field_name: str) -> str | None:
        return get(field_name) or None

    problems: list[str] = []
    name = get("name")
    if not name:
        raise _RowError("name is empty")

    categories = _parse_categories(get("categories"), notes, problems)

    country_text = get("country")
    country: str | None = default_country
    if country_text:
        country = country_code(country_text)
        if country is None:
            problems.append(f"country {country_text!r} is not a known country or ISO code")
    region = optional("region")
    city = optional("city")

    area_text = get("service_area").lower()
    kind: ServiceAreaKind
    if area_text in SERVICE_AREA_KINDS:
        kind = area_text
    else:
        kind = "city" if city else "region" if region else "national" if country else "online"
        if area_text:
            notes.append(f"service_area {get('service_area')!r} is not a kind; used {kind!r}")

    phone = optional("phone")
    if phone is not None:
        first = _SPLIT_RE.split(phone)[0].strip()
        if first != phone:
            notes.append("several phone numbers; kept the first")
        phone = first or None
        if phone is not None and (problem := phone_problem(phone)):
            problems.append(problem)

    url = optional("url")
    if url is not None:
        if "://" not in url and _HOST_ONLY_RE.match(url):
            url = "https://" + url
        if problem := url_problem(url):
            problems.append(problem)

    email = optional("email")
    if email is not None and (problem := email_problem(email)):
        problems.append(problem)

    languages = _parse_languages(get("languages"), problems)
    ages = _parse_ages(get("minimum_age"), get("maximum_age"), get("ages_served"), problems)

    cost: str | None = None
    cost_text = get("cost")
    if cost_text:
        cost = _COSTS.get(" ".join(words(cost_text)), _COSTS.get(cost_text.lower()))
        if cost is None:
            problems.append(
                f"cost {cost_text!r} is not one of free, low_cost, sliding_scale, medicaid, insurance, fee"
            )

    assured = _parse_date(get("assured_date"), problems)
    if assured is not None and today is not None and assured > today:
        problems.append(f"assured_date {assured.isoformat()} is in the future")

    emergency_text = get("is_emergency").lower()
    is_emergency = emergency_text in _TRUE
    if emergency_text not in _TRUE and emergency_text not in _FALSE:
        problems.append(f"is_emergency {get('is_emergency')!r} must be true or false")

    if problems:
        raise _RowError("; ".join(problems))

    description = get("description")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        description = description[: MAX_DESCRIPTION_LENGTH - 1].rstrip() + "…"
        notes.append(f"description shortened to {MAX_DESCRIPTION_LENGTH} characters")

    resource_id = get("id") or _generated_id(name, city or region or country or "", phone or url)
    try:
        return Resource(
            id=resource_id,
            name=name,
            description=description,
            categories=categories,
            service_area=kind,
            country=country,
            region=region,
            city=city,
            phone=phone,
            text_line=optional("text_line"),
            url=url,
            email=email,
            hours=optional("hours"),
            languages=languages,
            ages_served=ages,
            cost=cost,
            payment_notes=optional("fees_description"),
            assured_date=assured,
            group_id=group_id if group_id is not None else optional("group_id"),
            is_emergency=is_emergency,
            verification=optional("verification"),
        )
    except ValueError as exc:
        raise _RowError(str(exc)) from exc


def _parse_categories(text: str, notes: list[str], problems: list[str]) -> tuple[str, ...]:
    if not text:
        problems.append("no category")
        return ()
    vocabulary = load_vocabulary()
    found: list[str] = []
    unmapped: list[str] = []
    for term in _SPLIT_RE.split(text) if _SPLIT_RE.search(text) else text.split(","):
        term = term.strip()
        if not term:
            continue
        code = "_".join(words(term))
        mapped = (code,) if code in CATEGORIES else vocabulary.categories_of(term)
        if not mapped:
            unmapped.append(term)
        for category in mapped:
            if category not in found:
                found.append(category)
    if not found:
        problems.append(f"no known category in {text!r}")
    elif unmapped:
        notes.append(f"categories not understood and left out: {', '.join(unmapped)}")
    return tuple(found)


def _parse_languages(text: str, problems: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in _LIST_RE.split(text):
        item = item.strip()
        if not item:
            continue
        folded = " ".join(words(item))
        code = _LANGUAGE_NAMES.get(folded)
        if code is None:
            base = re.split(r"[-_]", item)[0].lower()
            code = base if re.fullmatch(r"[a-z]{2}", base) else None
        if code is None or len(code) != 2:
            problems.append(f"language {item!r} is not an ISO 639-1 code or a known name")
            continue
        if code not in out:
            out.append(code)
    return tuple(out)


def _parse_age(text: str, label: str, problems: list[str]) -> int | None:
    if not text:
        return None
    try:
        value = int(float(text))
    except (ValueError, OverflowError):  # "inf" and "nan" parse as floats but are no age
        problems.append(f"{label} {text!r} is not a number")
        return None
    if not 0 <= value <= 120:
        problems.append(f"{label} {value} is out of range")
        return None
    return value


def _parse_ages(minimum: str, maximum: str, combined: str, problems: list[str]) -> AgeRange | None:
    low = _parse_age(minimum, "minimum_age", problems)
    high = _parse_age(maximum, "maximum_age", problems)
    if combined and low is None and high is None:
        match = _AGES_RE.match(combined.lower())
        if match is None:
            problems.append(f"ages_served {combined!r} must look like 0-17")
            return None
        low = int(match.group(1)) if match.group(1) else None
        high = int(match.group(2)) if match.group(2) else None
    if low is None and high is None:
        return None
    if low is not None and high is not None and low > high:
        problems.append(f"minimum_age {low} is above maximum_age {high}")
        return None
    return AgeRange(low, high)


def _parse_date(text: str, problems: list[str]) -> date | None:
    if not text:
        return None
    candidate = text.split("T")[0].split(" ")[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(candidate, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    problems.append(f"assured_date {text!r} is not a date like 2026-11-25")
    return None


def _generated_id(name: str, where: str, contact: str | None) -> str:
    slug = "-".join(words(name))[:40].strip("-") or "entry"
    digest = hashlib.sha1(f"{name}|{where}|{contact}".encode(), usedforsecurity=False)
    return f"{slug}-{digest.hexdigest()[:6]}"


def write_resources_csv(resources: Iterable[Resource]) -> str:
    """Return the entries as CSV text with the ``COLUMNS`` header; ``read_resources_csv`` reads it back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in resources:
        ages = r.ages_served
        writer.writerow(
            [
                r.id,
                r.name,
                r.description,
                ";".join(r.categories),
                r.service_area,
                r.country or "",
                r.region or "",
                r.city or "",
                r.phone or "",
                r.text_line or "",
                r.url or "",
                r.email or "",
                r.hours or "",
                ";".join(r.languages),
                "" if ages is None or ages.minimum_age is None else str(ages.minimum_age),
                "" if ages is None or ages.maximum_age is None else str(ages.maximum_age),
                r.cost or "",
                r.payment_notes or "",
                r.assured_date.isoformat() if r.assured_date else "",
                r.group_id or "",
                "true" if r.is_emergency else "false",
                r.verification or "",
            ]
        )
    return out.getvalue()


@cache
def load_shipped_resources() -> tuple[Resource, ...]:
    """Return the national crisis and help lines that ship with Kindred (``data/resources.csv``).

    Raises:
        ValueError: If the shipped file has a bad row (a packaging error, caught by the tests).
    """
    text = (
        importlib_resources.files("bot.resources")
        .joinpath("data", "resources.csv")
        .read_text(encoding="utf-8")
    )
    report = read_resources_csv(text)
    if report.errors:
        raise ValueError(f"shipped resources.csv has bad rows: {report.errors}")
    return report.resources
