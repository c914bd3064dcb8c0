"""The fields a facilitator fills in or edits, and how a typed answer becomes an entry's value.

Parsing reuses the CSV importer's tolerant rules (language names, costs, ages "3-17", a web
address without "https://", dates), so a value typed in a chat and the same value in a CSV file
mean the same thing. Problems come back as message ids to translate.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from bot.core.i18n import N_
from bot.resources.cards import COST_LABELS
from bot.resources.csvio import read_resources_csv
from bot.resources.model import (
    CATEGORIES,
    MAX_DESCRIPTION_LENGTH,
    MAX_NAME_LENGTH,
    AgeRange,
    Resource,
    category_names,
    email_problem,
    phone_problem,
)
from bot.resources.search import ResourceIndex, load_vocabulary, words

MAX_SHORT_TEXT: Final = 300


class FieldProblem(ValueError):
    """A typed value does not fit its field; `msgid` (with `fields`) says why, to translate."""

    def __init__(self, msgid: str, **fields: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.fields = fields


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field facilitators fill in.

    Attributes:
        name: Its name in `/resource edit ID FIELD VALUE`.
        aliases: Other names accepted (Spanish, HSDS).
        question: What the guided flow asks (a message id).
        required: Whether it can be skipped.
    """

    name: str
    aliases: tuple[str, ...]
    question: str
    required: bool = False
    keys: tuple[str, ...] = field(default=())


FIELDS: Final[tuple[FieldSpec, ...]] = (
    FieldSpec("name", ("nombre", "title"), N_("What is the service called?"), True, ("name",)),
    FieldSpec("categories", ("category", "categorias", "categoria", "topics", "temas"),
              N_("Which topics does it help with? Send numbers or words, e.g. “8” or "
                 "“food, housing”:"), True, ("categories",)),
    FieldSpec("description", ("descripcion", "desc", "about"),
              N_("In a sentence or two: what does it offer, and for whom?"),
              keys=("description",)),
    FieldSpec("phone", ("telefono", "tel", "phone_number"), N_("Phone number to call?"),
              keys=("phone",)),
    FieldSpec("text", ("texto", "sms", "text_line"),
              N_("How to reach it by text message, e.g. “Text HOME to 741741”?"),
              keys=("text_line",)),
    FieldSpec("url", ("website", "web", "link", "enlace"), N_("Website?"), keys=("url",)),
    FieldSpec("hours", ("horario", "schedule"),
              N_("Opening hours, e.g. “Mon–Fri 9–5” or “24/7”?"), keys=("hours",)),
    FieldSpec("languages", ("idiomas", "language", "idioma"),
              N_("Which languages is it offered in, e.g. “English, Spanish”?"),
              keys=("languages",)),
    FieldSpec("cost", ("coste", "costo", "precio", "price"),
              N_("What does it cost? free, low cost, sliding scale, Medicaid, insurance or fee."),
              keys=("cost",)),
    FieldSpec("ages", ("edades", "age", "edad", "ages_served"),
              N_("Which children's ages does it serve, e.g. “0-17” or “5-”?"),
              keys=("ages_served",)),
    FieldSpec("where", ("donde", "area", "place", "lugar", "city", "ciudad"),
              N_("Where does it serve? A town and state or region (e.g. “Austin, Texas”), "
                 "“online”, or skip if it serves your group's whole area."),
              keys=("service_area", "country", "region", "city")),
    FieldSpec("email", ("correo", "e-mail", "mail"), N_("E-mail address?"), keys=("email",)),
    FieldSpec("payment", ("pago", "fees", "fees_description", "payment_notes"),
              N_("Fees and payment accepted?"), keys=("payment_notes",)),
    FieldSpec("verified", ("verificado", "assured_date", "checked"),
              N_("When were these details last checked? A date like 2026-03-02, or “today”."),
              keys=("assured_date",)),
)
"""Every field facilitators may set, in the guided order."""

ADD_STEPS: Final[tuple[str, ...]] = (
    "name", "categories", "description", "phone", "text", "url", "hours", "languages", "cost",
    "ages", "where",
)
"""The fields the guided `/resource add` asks, one message each."""

_BY_NAME: Final[dict[str, FieldSpec]] = {f.name: f for f in FIELDS}
_ALIASES: Final[dict[str, str]] = {
    **{a: f.name for f in FIELDS for a in f.aliases}, **{f.name: f.name for f in FIELDS}}
_EXTRA_COSTS: Final[dict[str, str]] = {
    "bajo coste": "low_cost", "bajo costo": "low_cost", "barato": "low_cost",
    "segun ingresos": "sliding_scale", "escala movil": "sliding_scale",
    "escala": "sliding_scale", "cuota segun ingresos": "sliding_scale",
    "pago": "fee", "de pago": "fee", "fee": "fee", "paid": "fee",
    "seguro medico": "insurance", "medicaid": "medicaid", "free": "free", "gratis": "free",
}
_TODAY_WORDS: Final = frozenset({"today", "hoy", "now", "ahora"})
_ONLINE_WORDS: Final = frozenset({"online", "en linea", "internet", "web", "virtual", "remote",
                                  "anywhere", "en cualquier lugar"})
_HOST_RE: Final = re.compile(r"^[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+(/\S*)?$")
_SPLIT_RE: Final = re.compile(r"[,;/+]|\s+(?:and|y|e|&)\s+")


def field_spec(name: str) -> FieldSpec | None:
    """The field called `name` (English, Spanish or an HSDS alias), or None."""
    return _BY_NAME.get(_ALIASES.get(" ".join(words(name)).replace(" ", "_"), ""))


def category_menu(lang: str) -> str:
    """The numbered category list shown with the categories question."""
    names = category_names()
    return "\n".join(f"{i} {names[code].display(lang)}" for i, code in enumerate(CATEGORIES, 1))


def current_value(spec: FieldSpec, values: Mapping[str, object], lang: str) -> str:
    """The field's value in `values`, as text a facilitator would type ("" when empty)."""
    if spec.name == "categories":
        codes = values.get("categories") or ()
        assert isinstance(codes, tuple)
        return ", ".join(category_names()[c].display(lang) for c in codes)
    if spec.name == "languages":
        codes = values.get("languages") or ()
        assert isinstance(codes, tuple)
        return ", ".join(codes)
    if spec.name == "ages":
        ages = values.get("ages_served")
        if not isinstance(ages, AgeRange):
            return ""
        low, high = ages.minimum_age, ages.maximum_age
        return f"{'' if low is None else low}-{'' if high is None else high}"
    if spec.name == "where":
        area = values.get("service_area")
        if area == "online":
            return "online"
        place = [str(v) for v in (values.get("city"), values.get("region")) if v]
        return ", ".join(place)
    value = values.get(spec.keys[0])
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _one_value(column: str, value: str) -> Resource | None:
    """Parse one CSV column's value through the importer (None if it rejects it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    contact, contact_value = ("url", "https://example.org") if column != "url" else ("phone", "911")
    writer.writerow(["name", "categories", contact, column])
    writer.writerow(["x", "crisis", contact_value, value])
    report = read_resources_csv(out.getvalue())
    return report.resources[0] if report.resources and not report.errors else None


def parse_categories(text: str) -> tuple[str, ...]:
    """Category codes from numbers ("2, 8"), codes, their names in English or Spanish, or words.

    Raises:
        FieldProblem: If a part names no category.
    """
    names = {" ".join(words(name)): code
             for code, entry in category_names().items() for name in entry.names.values()}
    vocabulary = load_vocabulary()
    found: list[str] = []
    unknown: list[str] = []
    for part in _SPLIT_RE.split(text):
        part = part.strip()
        if not part:
            continue
        folded = " ".join(words(part))
        codes: tuple[str, ...]
        if folded.isascii() and folded.isdigit() and len(folded) <= 3 \
                and 1 <= int(folded) <= len(CATEGORIES):
            codes = (CATEGORIES[int(folded) - 1],)
        elif folded.replace(" ", "_") in CATEGORIES:
            codes = (folded.replace(" ", "_"),)
        elif folded in names:
            codes = (names[folded],)
        else:
            codes = vocabulary.categories_of(part)
        if not codes:
            unknown.append(part[:40])
        for code in codes:
            if code not in found:
                found.append(code)
    if unknown or not found:
        raise FieldProblem(N_("I don't know the topic “{words}”. Send the numbers from the list, "
                              "e.g. “8” or “2, 5”."), words=", ".join(unknown) or text[:40])
    return tuple(found)


def parse_where(text: str, *, index: ResourceIndex, country: str) -> dict[str, object]:
    """Service area from "Austin, Texas", "Texas", "online" (in the group's country by default).

    Raises:
        FieldProblem: If the place cannot be understood.
    """
    folded = " ".join(words(text))
    if folded in _ONLINE_WORDS:
        return {"service_area": "online", "country": country, "region": None, "city": None}
    place = index.search(text, country=country, group_id=None, limit=0).place
    town = text.split(",", 1)[0].strip() if "," in text else ""
    if place is not None and place.kind in ("city", "region") and place.region:
        known = place.city if place.kind == "city" else place.region
        if town and " ".join(words(town)) != " ".join(words(known or "")) and len(town) <= 100:
            # "Austin, Texas" with a town the directory does not know yet: that town, in the
            # region found ("Getafe, Madrid" is Getafe, not the city of Madrid).
            return {"service_area": "city", "country": place.country, "region": place.region,
                    "city": town}
    if place is not None and place.kind == "city" and place.region:
        return {"service_area": "city", "country": place.country, "region": place.region,
                "city": place.city}
    if place is not None and place.kind == "region" and place.region:
        return {"service_area": "region", "country": place.country, "region": place.region,
                "city": None}
    if place is not None and place.kind == "country":
        return {"service_area": "national", "country": place.country, "region": None, "city": None}
    if "," in text:
        city, region = (part.strip() for part in text.split(",", 1))
        if city and region and len(city) <= 100 and len(region) <= 100:
            return {"service_area": "city", "country": country, "region": region, "city": city}
    raise FieldProblem(N_("I don't know that place. Write the town and its state or region, "
                          "e.g. “Austin, Texas”, or “online”."))


def parse_field(
    name: str, text: str, *, index: ResourceIndex, country: str, today: date
) -> dict[str, object]:
    """The entry values one typed answer sets (Resource keyword arguments).

    Args:
        name: A field name from FIELDS.
        text: What the facilitator typed (not empty).
        index: The search index, to recognise places.
        country: The group's country, for places named without one.
        today: For "today" and to refuse dates in the future.

    Raises:
        FieldProblem: If the value does not fit the field.
    """
    text = " ".join(text.split())
    if name == "name":
        if len(text) > MAX_NAME_LENGTH:
            raise FieldProblem(N_("Please keep the name under {n} characters."), n=MAX_NAME_LENGTH)
        return {"name": text}
    if name == "description":
        if len(text) > MAX_DESCRIPTION_LENGTH:
            raise FieldProblem(N_("Please keep the description under {n} characters."),
                               n=MAX_DESCRIPTION_LENGTH)
        return {"description": text}
    if name == "categories":
        return {"categories": parse_categories(text)}
    if name == "phone":
        if phone_problem(text) is not None:
            raise FieldProblem(N_("That does not look like a phone number. Send the digits, "
                                  "e.g. 512-555-0142."))
        return {"phone": text}
    if name == "url":
        candidate = text if "://" in text or not _HOST_RE.match(text) else "https://" + text
        parsed = _one_value("url", candidate)
        if parsed is None or parsed.url is None:
            raise FieldProblem(N_("That does not look like a web address. Send it like "
                                  "example.org or https://example.org/help."))
        return {"url": parsed.url}
    if name == "email":
        if email_problem(text) is not None:
            raise FieldProblem(N_("That does not look like an e-mail address."))
        return {"email": text}
    if name in ("text", "hours", "payment"):
        if len(text) > MAX_SHORT_TEXT:
            raise FieldProblem(N_("Please keep it under {n} characters."), n=MAX_SHORT_TEXT)
        key = {"text": "text_line", "hours": "hours", "payment": "payment_notes"}[name]
        return {key: text}
    if name == "languages":
        parsed = _one_value("languages", text.replace(" y ", ", ").replace(" and ", ", "))
        if parsed is None or not parsed.languages:
            raise FieldProblem(N_("Send languages by name or code, e.g. “English, Spanish” or "
                                  "“en, es”."))
        return {"languages": parsed.languages}
    if name == "cost":
        folded = " ".join(words(text))
        code = _EXTRA_COSTS.get(folded)
        if code is None:
            labels = {" ".join(words(label)): c for c, label in COST_LABELS.items()}
            code = labels.get(folded)
        if code is None:
            parsed = _one_value("cost", text)
            code = parsed.cost if parsed is not None else None
        if code is None:
            raise FieldProblem(N_("Send one of: free, low cost, sliding scale, Medicaid, "
                                  "insurance, fee."))
        return {"cost": code}
    if name == "ages":
        cleaned = text.replace("+", "-").replace(" to ", "-").replace(" a ", "-")
        parsed = _one_value("ages_served", cleaned)
        if parsed is None or parsed.ages_served is None:
            raise FieldProblem(N_("Send ages like “0-17”, or “5-” for five and older."))
        return {"ages_served": parsed.ages_served}
    if name == "where":
        return parse_where(text, index=index, country=country)
    if name == "verified":
        if " ".join(words(text)) in _TODAY_WORDS:
            return {"assured_date": today}
        parsed = _one_value("assured_date", text)
        if parsed is None or parsed.assured_date is None:
            raise FieldProblem(N_("Send a date like 2026-03-02, or “today”."))
        if parsed.assured_date > today:
            raise FieldProblem(N_("That date is in the future."))
        return {"assured_date": parsed.assured_date}
    raise FieldProblem(N_("I don't know that field."))


def cleared(name: str) -> dict[str, object]:
    """The values that empty an optional field."""
    spec = _BY_NAME[name]
    if name == "where":
        return {"service_area": "national", "region": None, "city": None}
    if name == "description":
        return {"description": ""}
    if name == "languages":
        return {"languages": ()}
    return dict.fromkeys(spec.keys)
