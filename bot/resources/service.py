"""Resources as members and facilitators use them: `/resources` search and `/resource` directory tools.

Guarantees:
    * A member's search answers where it was asked (in the group, or privately on platforms that
      answer commands privately), with at most three short cards a page and crisis lines first
      for a crisis query; other groups' own entries are never shown.
    * Only the group's facilitators change its own entries; deployment-wide entries change only
      through `kindred resources import`. Every change is audited (who, what, when; never text).
    * An import stores every valid row and none of an invalid one, and names each invalid row by
      its line number.
    * A change is searchable, and its crisis lines are given in crisis replies, as soon as it
      is saved.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from unidecode import unidecode

from bot.core.actions import Action, Button, FormField, ShowForm
from bot.core.commands import CommandSpec, Param
from bot.core.context import ButtonContext, CommandContext, FormContext, Situation
from bot.core.events import InboundEvent, MessageReceived
from bot.core.i18n import N_, Translator
from bot.core.identity import ChatRef, UserRef
from bot.core.models import Group
from bot.core.ports import Clock
from bot.core.roles import Role
from bot.resources.cards import card, category_index, category_label, list_line
from bot.resources.csvio import read_resources_csv
from bot.resources.directory import ResourceDirectory
from bot.resources.fields import (
    ADD_STEPS,
    FieldProblem,
    FieldSpec,
    category_menu,
    cleared,
    current_value,
    field_spec,
    parse_field,
)
from bot.resources.model import CATEGORIES, Resource
from bot.resources.ports import ResourcesStore, StoredResource
from bot.resources.search import MAX_QUERY_CHARS, ResourceIndex, SearchResult, words

log = logging.getLogger(__name__)

StoreFactory = Callable[[], AbstractAsyncContextManager[ResourcesStore]]
FormsSupported = Callable[[str], bool]

PAGE_SIZE: Final = 3
MAX_PAYLOAD_BYTES: Final = 60
MAX_PAGE: Final = 10_000
DRAFT_IDLE: Final = timedelta(minutes=30)
QUERY_TTL: Final = timedelta(hours=12)
MAX_KEPT_QUERIES: Final = 5_000
MAX_LIST_LINES: Final = 40
MAX_ERRORS_SHOWN: Final = 15
MAX_GROUP_IMPORT_ROWS: Final = 2_000
FORM_NAME: Final = "resource_add"

SKIP_WORDS: Final = frozenset({"skip", "omitir", "saltar", "pasar", "no", "none", "ninguno", "nada"})
CANCEL_WORDS: Final = frozenset({"cancel", "cancelar", "stop", "parar", "salir", "quit"})
DONE_WORDS: Final = frozenset({"done", "save", "listo", "guardar", "fin", "terminar"})
CLEAR_WORDS: Final = frozenset({"clear", "none", "borrar", "ninguno", "nada", "vaciar"})

_APOSTROPHES: Final = str.maketrans("", "", "'`\u2019\u2018\u00b4")
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9]+")
_NUMBER_RE: Final = re.compile(r"[0-9]{1,18}")
_FIELD_NAMES: Final = ("name, categories, description, phone, text, url, email, hours, languages, "
                       "cost, payment, ages, where, verified")


@dataclass(slots=True)
class _Draft:
    """An entry being filled in one message at a time (the guided `/resource add` and edit)."""

    group: Group
    chat: ChatRef
    user: UserRef
    steps: tuple[str, ...]
    values: dict[str, object]
    touched_at: datetime
    position: int = 0
    editing: StoredResource | None = None


@dataclass(frozen=True, slots=True)
class _Query:
    """What a results page shows: the words, a category filter, and the page."""

    text: str
    category: str | None
    page: int


class ResourceService:
    """Searches the directory for members and lets facilitators keep their group's own entries.

    Args:
        store: Unit-of-work factory.
        directory: The process's view of the stored directory.
        translator: The catalogue.
        clock: The time (drafts expire, imports refuse future dates).
        default_region: Country for chats with no group (`DEFAULT_REGION`).
        forms_supported: Whether a platform shows forms (Discord modals); the guided flow is
            used everywhere else.
    """

    def __init__(
        self,
        *,
        store: StoreFactory,
        directory: ResourceDirectory,
        translator: Translator,
        clock: Clock,
        default_region: str,
        forms_supported: FormsSupported | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._tr = translator
        self._clock = clock
        self._default_region = default_region
        self._forms_supported = forms_supported or (lambda _platform: False)
        self._drafts: dict[tuple[str, str], _Draft] = {}
        self._queries: dict[str, tuple[_Query, datetime]] = {}

    # -- commands ----------------------------------------------------------------------------
    def commands(self) -> list[CommandSpec]:
        """The commands this capability owns."""
        ref = Param(name="ref", kind="word")
        return [
            CommandSpec(
                name="resources", role=Role.MEMBER, usage=N_("/resources [what] [where]"),
                summary=N_("find help: crisis lines, respite, food, school support and more"),
                params=(Param(name="query", kind="rest", optional=True),), handler=self.search),
            CommandSpec(
                name="resource", role=Role.FACILITATOR,
                usage=N_("/resource add|edit|remove|list|import"),
                summary=N_("keep this group's own resources (a CSV file with /resource import)"),
                where="group",
                subcommands=(
                    CommandSpec(name="add", role=Role.FACILITATOR, where="group",
                                usage=N_("/resource add"), summary="", handler=self.add),
                    CommandSpec(name="edit", role=Role.FACILITATOR, where="group",
                                usage=N_("/resource edit ID [FIELD VALUE]"), summary="",
                                params=(ref, Param(name="field", kind="word", optional=True),
                                        Param(name="value", kind="rest", optional=True)),
                                handler=self.edit),
                    CommandSpec(name="remove", role=Role.FACILITATOR, where="group",
                                usage=N_("/resource remove ID"), summary="", params=(ref,),
                                handler=self.remove),
                    CommandSpec(name="list", role=Role.FACILITATOR, where="group",
                                usage=N_("/resource list"), summary="", handler=self.list_own),
                    CommandSpec(name="import", role=Role.FACILITATOR, where="group",
                                usage=N_("/resource import (send it with a CSV file)"),
                                summary="", handler=self.import_csv),
                ),
            ),
        ]

    # -- search ------------------------------------------------------------------------------
    async def search(self, ctx: CommandContext) -> Sequence[Action]:
        """`/resources [what] [where]`: the best entries, or the category buttons with no words."""
        query = ctx.args.text("query").strip()
        visibility = "p" if ctx.event.interaction is not None and ctx.in_group else "g"
        index = await self._directory.index()
        group = _home_group(ctx)
        if not words(query):
            text, buttons = self._menu(ctx, index, group, visibility)
            return [ctx.answer(text, buttons)]
        text, buttons = self._page(ctx, index, group, visibility, _Query(query, None, 0))
        return [ctx.answer(text, buttons)]

    def _menu(
        self, situation: Situation, index: ResourceIndex, group: Group | None, visibility: str,
        *, intro: str | None = None,
    ) -> tuple[str, tuple[tuple[Button, ...], ...]]:
        country = group.region if group else self._default_region
        counts = index.category_counts(country=country, group_id=group.key if group else None)
        shown = [code for code in CATEGORIES if counts.get(code)]
        if not shown:
            return situation.t("I have no resources for {country} yet. A facilitator can add "
                               "some with /resource add.", country=country), ()
        buttons = [Button(label=category_label(code, situation.lang),
                          payload=f"res:c:{visibility}:{category_index(code)}") for code in shown]
        rows = tuple(tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2))
        text = intro or situation.t("What kind of help are you looking for? Pick a topic, or "
                                    "send what you need in your own words, e.g. "
                                    "/resources respite care Austin")
        return text, rows

    def _page(
        self, situation: Situation, index: ResourceIndex, group: Group | None, visibility: str,
        query: _Query,
    ) -> tuple[str, tuple[tuple[Button, ...], ...]]:
        country = group.region if group else self._default_region
        offset = query.page * PAGE_SIZE
        result = index.search(query.text, country=country, group_id=group.key if group else None,
                              language=situation.lang, limit=PAGE_SIZE, offset=offset,
                              category=query.category)
        if not result.entries:
            if query.page > 0:
                return situation.t("That was everything I found."), ()
            return self._menu(situation, index, group, visibility, intro=situation.t(
                "I found nothing for that. Try other words, e.g. “food bank”, “respite” or "
                "“IEP”, or pick a topic:"))
        lines: list[str] = []
        if query.page == 0:
            header = self._header(situation, result, query, country)
            if header:
                lines.append(header)
        for number, entry in enumerate(result.entries, start=offset + 1):
            lines.append(card(self._tr, situation.lang, entry, number))
        shown_to = offset + len(result.entries)
        if result.total > PAGE_SIZE:
            lines.append(situation.t("{first}–{last} of {total}", first=offset + 1, last=shown_to,
                                     total=result.total))
        buttons: tuple[tuple[Button, ...], ...] = ()
        if shown_to < result.total and query.page < MAX_PAGE:
            payload = self._more_payload(visibility, _Query(query.text, query.category,
                                                            query.page + 1))
            buttons = ((Button(label=situation.t("More"), payload=payload),),)
        return "\n\n".join(lines), buttons

    def _header(self, situation: Situation, result: SearchResult, query: _Query,
                country: str) -> str:
        if result.is_crisis:
            # The emergency number leads a crisis query's results (only the asker's own visible).
            number = next((r.phone for r in result.entries if r.is_emergency and r.phone), None)
            if number is None:
                return ""
            return situation.t("If you or your child are in danger right now, call {number} now.",
                               number=number)
        topics = list(result.categories[:3]) if not query.category else [query.category]
        parts = []
        if topics:
            parts.append(", ".join(category_label(code, situation.lang) for code in topics))
        if result.place is not None and result.place.kind != "country":
            parts.append(result.place.label)
        return " · ".join(parts) + ":" if parts else ""

    def _more_payload(self, visibility: str, query: _Query) -> str:
        """A compact "More" payload: the words themselves when they fit, else a short-lived token."""
        category = "-" if query.category is None else str(category_index(query.category))
        tokens = ".".join(_query_tokens(query.text))
        payload = f"res:m:{visibility}:{query.page}:{category}:{tokens}"
        if len(payload) <= MAX_PAYLOAD_BYTES and tokens.isascii():
            return payload
        now = self._clock.now()
        if len(self._queries) >= MAX_KEPT_QUERIES:
            for key in [k for k, (_, at) in self._queries.items() if at < now]:
                del self._queries[key]
            while len(self._queries) >= MAX_KEPT_QUERIES:
                del self._queries[next(iter(self._queries))]
        token = secrets.token_urlsafe(6)
        self._queries[token] = (query, now + QUERY_TTL)
        return f"res:t:{visibility}:{token}"

    def _pressed_query(self, parts: tuple[str, ...]) -> _Query | None:
        kind = parts[0]
        if kind == "c" and len(parts) == 3:
            return _Query("", _category(parts[2]), 0) if _category(parts[2]) else None
        page = _small_int(parts[2]) if kind == "m" and len(parts) == 5 else None
        if kind == "m" and page is not None:
            category = None if parts[3] == "-" else _category(parts[3])
            if parts[3] != "-" and category is None:
                return None
            return _Query(parts[4].replace(".", " "), category, min(page, MAX_PAGE))
        if kind == "t" and len(parts) == 3:
            kept = self._queries.get(parts[2])
            if kept is None or kept[1] < self._clock.now():
                return None
            return kept[0]
        return None

    # -- buttons -----------------------------------------------------------------------------
    async def on_button(self, ctx: ButtonContext) -> Sequence[Action]:
        """Category buttons, "More", the guided form's Skip/Done/Cancel, and remove confirmations."""
        parts = ctx.parts
        if not parts:
            return [ctx.toast(ctx.t("That button is no longer active."))]
        kind = parts[0]
        if kind in ("c", "m", "t"):
            visibility = parts[1] if len(parts) > 1 and parts[1] in ("p", "g") else "g"
            query = self._pressed_query(parts)
            if query is None:
                return [ctx.toast(ctx.t("That search has expired. Please send /resources again."))]
            index = await self._directory.index()
            text, buttons = self._page(ctx, index, _home_group(ctx), visibility, query)
            return [_press_answer(ctx, visibility, text, buttons)]
        if kind == "d" and len(parts) == 2:
            draft = self._draft_for(ctx.meta.chat, ctx.meta.sender)
            if draft is None:
                return [ctx.toast(ctx.t("You have no resource form open."))]
            if parts[1] not in ("skip", "done", "cancel"):
                return [ctx.toast(ctx.t("That button is no longer active."))]
            return await self._answer(ctx, draft, parts[1])
        number = _small_int(parts[2]) if kind in ("rm", "keep") and len(parts) == 3 else None
        if number is not None:
            return await self._confirm_remove(ctx, parts[1], number, kind == "rm")
        return [ctx.toast(ctx.t("That button is no longer active."))]

    # -- facilitator tools -------------------------------------------------------------------
    async def add(self, ctx: CommandContext) -> Sequence[Action]:
        """`/resource add`: a form where the platform has them, else one question per message."""
        group = ctx.group
        assert group is not None and group.id is not None
        interaction = ctx.event.interaction
        if interaction is not None and self._forms_supported(ctx.meta.chat.platform):
            return [ShowForm(
                to=ctx.meta.sender, chat=ctx.meta.chat, form=FORM_NAME,
                title=ctx.t("New resource for this group"), interaction=interaction,
                fields=(FormField(name="name", label=ctx.t("Name")),
                        FormField(name="categories", label=ctx.t("Topics, e.g. food, housing")),
                        FormField(name="phone", label=ctx.t("Phone")),
                        FormField(name="url", label=ctx.t("Website")),
                        FormField(name="description", label=ctx.t("What it offers, for whom"),
                                  long=True)))]
        values: dict[str, object] = {"country": group.region, "service_area": "national",
                                     "assured_date": ctx.now.date()}
        draft = _Draft(group=group, chat=ctx.meta.chat, user=ctx.meta.sender, steps=ADD_STEPS,
                       values=values, touched_at=ctx.now)
        self._drafts[(ctx.meta.chat.key, ctx.meta.sender.key)] = draft
        intro = ctx.t("Adding a resource for {group}. I'll ask {n} short questions: answer each "
                      "with a message here. Send “skip” to leave one empty, “done” to save, or "
                      "“cancel” to stop.", group=group.title or ctx.t("this group"),
                      n=len(ADD_STEPS))
        text, buttons = self._question(ctx, draft)
        return [ctx.answer(intro + "\n\n" + text, buttons)]

    async def edit(self, ctx: CommandContext) -> Sequence[Action]:
        """`/resource edit ID FIELD VALUE`; with no value, asks for it; with no field, every field."""
        group = ctx.group
        assert group is not None and group.id is not None
        ref = ctx.args.text("ref")
        async with self._store() as store:
            stored = await _find_own(store, group, ref)
        if stored is None:
            return [ctx.answer(_not_found(ctx, ref))]
        values = _values_of(stored.resource)
        field_name = ctx.args.text("field")
        if not field_name:
            steps = ADD_STEPS
        else:
            spec = field_spec(field_name)
            if spec is None:
                return [ctx.answer(ctx.t("I don't know the field “{field}”. Fields: {fields}.",
                                         field=field_name[:40], fields=_FIELD_NAMES))]
            value = ctx.args.text("value").strip()
            if value:
                return await self._edit_one(ctx, group, stored, spec, value)
            steps = (spec.name,)
        draft = _Draft(group=group, chat=ctx.meta.chat, user=ctx.meta.sender, steps=steps,
                       values=values, touched_at=ctx.now, editing=stored)
        self._drafts[(ctx.meta.chat.key, ctx.meta.sender.key)] = draft
        intro = ctx.t("Editing #{number} {name}. Send a new value, “skip” to keep the one shown, "
                      "“done” to save, or “cancel” to stop.", number=stored.number,
                      name=stored.resource.name)
        text, buttons = self._question(ctx, draft)
        return [ctx.answer(intro + "\n\n" + text, buttons)]

    async def _edit_one(self, ctx: CommandContext, group: Group, stored: StoredResource,
                        spec: FieldSpec, value: str) -> Sequence[Action]:
        values = _values_of(stored.resource)
        if " ".join(words(value)) in CLEAR_WORDS and not spec.required:
            values.update(cleared(spec.name))
        else:
            index = await self._directory.index()
            try:
                values.update(parse_field(spec.name, value, index=index, country=group.region,
                                          today=ctx.now.date()))
            except FieldProblem as problem:
                return [ctx.answer(ctx.t(problem.msgid, **problem.fields))]
        try:
            resource = Resource(id=stored.resource.id, group_id=group.key, **values)  # type: ignore[arg-type]
        except ValueError as exc:
            return [ctx.answer(_incomplete(ctx, exc))]
        number = await self._save(ctx, group, resource, stored)
        return [ctx.answer(ctx.t("Updated #{number}:", number=number) + "\n"
                           + card(self._tr, ctx.lang, resource))]

    async def remove(self, ctx: CommandContext) -> Sequence[Action]:
        """`/resource remove ID`: asks to confirm with a button."""
        group = ctx.group
        assert group is not None and group.id is not None
        ref = ctx.args.text("ref")
        async with self._store() as store:
            stored = await _find_own(store, group, ref)
        if stored is None:
            return [ctx.answer(_not_found(ctx, ref))]
        visibility = "p" if ctx.event.interaction is not None and ctx.in_group else "g"
        buttons = ((Button(label=ctx.t("Remove"), payload=f"res:rm:{visibility}:{stored.number}"),
                    Button(label=ctx.t("Keep it"),
                           payload=f"res:keep:{visibility}:{stored.number}")),)
        return [ctx.answer(ctx.t("Remove #{number} {name} from this group's resources?",
                                 number=stored.number, name=stored.resource.name), buttons)]

    async def _confirm_remove(self, ctx: ButtonContext, visibility: str, number: int,
                              confirmed: bool) -> Sequence[Action]:
        async with self._store() as store:
            stored = await store.resources.get(number)
            if stored is None or stored.group_id is None:
                return [ctx.toast(ctx.t("That entry is already gone."))]
            if not _facilitates(ctx, stored.group_id):
                return [ctx.toast(ctx.t("Sorry, only a group facilitator can remove resources."))]
            if not confirmed:
                return [_press_answer(ctx, visibility, ctx.t("Kept #{number} {name}.",
                                                             number=number,
                                                             name=stored.resource.name), ())]
            await store.resources.remove(number)
            await store.resources.bump_version()
            await store.audit.record(at=ctx.now, actor=ctx.meta.sender, action="resource.remove",
                                     subject=f"resource:{number}", group_id=stored.group_id)
            await store.commit()
        await self._directory.changed()
        return [_press_answer(ctx, visibility, ctx.t("Removed #{number} {name}.", number=number,
                                                     name=stored.resource.name), ())]

    async def list_own(self, ctx: CommandContext) -> Sequence[Action]:
        """`/resource list`: the group's own entries with their numbers."""
        group = ctx.group
        assert group is not None and group.id is not None
        async with self._store() as store:
            own = await store.resources.in_group(group.id)
        if not own:
            return [ctx.answer(ctx.t("This group has no resources of its own yet. Add one with "
                                     "/resource add, or send a CSV file with /resource import."))]
        lines = [ctx.tn("This group's own resource ({n}):", "This group's own resources ({n}):",
                        len(own))]
        lines += [list_line(self._tr, ctx.lang, s.number, s.resource) for s in own[:MAX_LIST_LINES]]
        if len(own) > MAX_LIST_LINES:
            lines.append(ctx.t("…and {n} more.", n=len(own) - MAX_LIST_LINES))
        lines.append(ctx.t("Change one with /resource edit ID FIELD VALUE, remove one with "
                           "/resource remove ID."))
        return [ctx.answer("\n".join(lines))]

    async def import_csv(self, ctx: CommandContext) -> Sequence[Action]:
        """`/resource import` with a CSV file: good rows stored, bad rows named by line number."""
        group = ctx.group
        assert group is not None and group.id is not None
        attachment = ctx.event.attachment
        if attachment is None:
            return [ctx.answer(ctx.t("Send a CSV file with /resource import written as its "
                                     "caption. Columns: name, categories, and at least one of "
                                     "phone, text_line, url or email; HSDS and 211 column names "
                                     "work too."))]
        text = _decode(attachment.content)
        report = read_resources_csv(text, default_country=group.region, group_id=group.key,
                                    today=ctx.now.date())
        good = list(report.resources)
        errors = list(report.errors)
        if len(good) > MAX_GROUP_IMPORT_ROWS:
            good = good[:MAX_GROUP_IMPORT_ROWS]
            errors.append((0, f"only the first {MAX_GROUP_IMPORT_ROWS} entries were imported"))
        added = updated = 0
        if good:
            async with self._store() as store:
                added, updated = await store.resources.upsert_many(
                    [(r, group.id) for r in good], at=ctx.now)
                await store.resources.bump_version()
                await store.audit.record(
                    at=ctx.now, actor=ctx.meta.sender, action="resource.import",
                    subject=f"group:{group.id}", group_id=group.id,
                    detail=f"added={added} updated={updated} rejected={len(report.errors)}")
                await store.commit()
            await self._directory.changed()
        lines = [ctx.tn("Imported {n} entry for this group ({added} new, {updated} updated).",
                        "Imported {n} entries for this group ({added} new, {updated} updated).",
                        len(good), added=added, updated=updated)]
        if errors:
            lines.append(ctx.tn("{n} row was not imported:", "{n} rows were not imported:",
                                len(errors)))
            for line, problem in errors[:MAX_ERRORS_SHOWN]:
                lines.append(ctx.t("line {line}: {problem}", line=line, problem=problem)
                             if line else f"• {problem}")
            if len(errors) > MAX_ERRORS_SHOWN:
                lines.append(ctx.t("…and {n} more.", n=len(errors) - MAX_ERRORS_SHOWN))
        return [ctx.answer("\n".join(lines))]

    # -- the form (Discord modal) ------------------------------------------------------------
    async def on_form(self, ctx: FormContext) -> Sequence[Action]:
        """A submitted `/resource add` form: saved whole, or nothing saved and every problem named."""
        group = _facilitator_group(ctx)
        interaction = ctx.event.interaction
        if group is None or group.id is None:
            return [ctx.private(ctx.t("Sorry, only a group facilitator can add resources."),
                                interaction=interaction)]
        typed = {k: v.strip() for k, v in ctx.event.values}
        values: dict[str, object] = {"country": group.region, "service_area": "national",
                                     "assured_date": ctx.now.date()}
        problems: list[str] = []
        index = await self._directory.index()
        for name in ("name", "categories", "phone", "url", "description"):
            value = typed.get(name, "")
            if not value:
                if name in ("name", "categories"):
                    label = ctx.t("Name") if name == "name" else ctx.t("Topics, e.g. food, housing")
                    problems.append(ctx.t("{field} is needed.", field=label))
                continue
            try:
                values.update(parse_field(name, value, index=index, country=group.region,
                                          today=ctx.now.date()))
            except FieldProblem as problem:
                problems.append(ctx.t(problem.msgid, **problem.fields))
        resource: Resource | None = None
        if not problems:
            try:
                resource = Resource(id=_new_id(str(values["name"])), group_id=group.key,
                                    **values)  # type: ignore[arg-type]
            except ValueError as exc:
                problems.append(_incomplete(ctx, exc))
        if resource is None:
            return [ctx.private("\n".join([*problems, ctx.t("Nothing was saved. Please try "
                                                             "/resource add again.")]),
                                interaction=interaction)]
        number = await self._save(ctx, group, resource, None)
        return [ctx.private(_saved_text(self._tr, ctx, number, resource), interaction=interaction)]

    # -- the guided flow ---------------------------------------------------------------------
    async def on_message(self, event: InboundEvent, situation: Situation) -> Sequence[Action]:
        """The next message of a facilitator with an open guided form answers its question."""
        if not isinstance(event, MessageReceived) or event.edited:
            return []
        draft = self._draft_for(event.meta.chat, event.meta.sender)
        if draft is None:
            return []
        return await self._answer(situation, draft, event.text)

    def _draft_for(self, chat: ChatRef, user: UserRef) -> _Draft | None:
        key = (chat.key, user.key)
        draft = self._drafts.get(key)
        if draft is None:
            return None
        if self._clock.now() - draft.touched_at > DRAFT_IDLE:
            del self._drafts[key]
            return None
        return draft

    async def _answer(self, situation: Situation, draft: _Draft, text: str) -> Sequence[Action]:
        key = (draft.chat.key, draft.user.key)
        draft.touched_at = situation.now
        word = " ".join(words(text))
        if word in CANCEL_WORDS:
            self._drafts.pop(key, None)
            return [situation.reply(situation.t("Cancelled. Nothing was saved."))]
        if word in DONE_WORDS:
            return await self._finish(situation, draft)
        spec = field_spec(draft.steps[draft.position])
        assert spec is not None
        if word in SKIP_WORDS or not text.strip():
            if spec.required and not current_value(spec, draft.values, situation.lang):
                text, buttons = self._question(situation, draft)
                return [situation.reply(situation.t("This one is needed.") + "\n" + text, buttons)]
        else:
            index = await self._directory.index()
            try:
                draft.values.update(parse_field(spec.name, text, index=index,
                                                country=draft.group.region,
                                                today=situation.now.date()))
            except FieldProblem as problem:
                question, buttons = self._question(situation, draft)
                return [situation.reply(situation.t(problem.msgid, **problem.fields) + "\n"
                                        + question, buttons)]
        draft.position += 1
        if draft.position >= len(draft.steps):
            return await self._finish(situation, draft)
        question, buttons = self._question(situation, draft)
        return [situation.reply(question, buttons)]

    def _question(self, situation: Situation, draft: _Draft) -> tuple[str, tuple[tuple[Button, ...], ...]]:
        spec = field_spec(draft.steps[draft.position])
        assert spec is not None
        lines = []
        prefix = f"({draft.position + 1}/{len(draft.steps)}) " if len(draft.steps) > 1 else ""
        lines.append(prefix + situation.t(spec.question))
        if spec.name == "categories":
            lines.append(category_menu(situation.lang))
        now = current_value(spec, draft.values, situation.lang) if draft.editing else ""
        if now:
            lines.append(situation.t("Now: {value}", value=now))
        row = []
        if not spec.required or now:
            row.append(Button(label=situation.t("Skip"), payload="res:d:skip"))
        if draft.editing is not None or draft.position >= 2:
            row.append(Button(label=situation.t("Save now"), payload="res:d:done"))
        row.append(Button(label=situation.t("Cancel"), payload="res:d:cancel"))
        return "\n".join(lines), (tuple(row),)

    async def _finish(self, situation: Situation, draft: _Draft) -> Sequence[Action]:
        key = (draft.chat.key, draft.user.key)
        if not _facilitates(situation, draft.group.id):
            self._drafts.pop(key, None)
            return [situation.reply(situation.t("Sorry, only a group facilitator can add "
                                                "resources."))]
        for required in ("name", "categories"):
            spec = field_spec(required)
            assert spec is not None
            if not current_value(spec, draft.values, situation.lang):
                draft.position = draft.steps.index(required) if required in draft.steps else 0
                question, buttons = self._question(situation, draft)
                return [situation.reply(situation.t("This one is needed.") + "\n" + question,
                                        buttons)]
        resource_id = draft.editing.resource.id if draft.editing else _new_id(
            str(draft.values["name"]))
        try:
            resource = Resource(id=resource_id, group_id=draft.group.key,
                                **draft.values)  # type: ignore[arg-type]
        except ValueError as exc:
            if "needs at least one of" in str(exc) and "phone" in draft.steps:
                draft.position = draft.steps.index("phone")
                question, buttons = self._question(situation, draft)
                return [situation.reply(_incomplete(situation, exc) + "\n" + question, buttons)]
            self._drafts.pop(key, None)
            return [situation.reply(_incomplete(situation, exc) + "\n"
                                    + situation.t("Nothing was saved."))]
        self._drafts.pop(key, None)
        number = await self._save(situation, draft.group, resource, draft.editing)
        if draft.editing is not None:
            return [situation.reply(situation.t("Updated #{number}:", number=number) + "\n"
                                    + card(self._tr, situation.lang, resource))]
        return [situation.reply(_saved_text(self._tr, situation, number, resource))]

    async def _save(self, situation: Situation, group: Group, resource: Resource,
                    editing: StoredResource | None) -> int:
        assert group.id is not None
        async with self._store() as store:
            if editing is None:
                stored = None
                for _attempt in range(3):
                    try:
                        stored = await store.resources.add(resource, group_id=group.id,
                                                           at=situation.now)
                        break
                    except ValueError:  # an id already used in this group: draw another
                        resource = dataclasses.replace(resource, id=_new_id(resource.name))
                assert stored is not None
                number, action = stored.number, "resource.add"
            else:
                number, action = editing.number, "resource.edit"
                await store.resources.update(number, resource, at=situation.now)
            await store.resources.bump_version()
            await store.audit.record(at=situation.now, actor=situation.meta.sender, action=action,
                                     subject=f"resource:{number}", group_id=group.id)
            await store.commit()
        await self._directory.changed()
        return number


# -- helpers ---------------------------------------------------------------------------------
def _home_group(situation: Situation) -> Group | None:
    """The group whose region and own entries a search uses.

    The chat's group; in a private chat, the one group the person staffs (the bot keeps no list
    of ordinary members' groups).
    """
    if situation.group is not None:
        return situation.group
    if not situation.in_group and len(situation.staff_groups) == 1:
        return situation.staff_groups[0][0]
    return None


def _facilitates(situation: Situation, group_id: int | None) -> bool:
    if group_id is None:
        return False
    if situation.group is not None and situation.group.id == group_id:
        return situation.role >= Role.FACILITATOR
    return any(g.id == group_id and r >= Role.FACILITATOR for g, r in situation.staff_groups)


def _facilitator_group(situation: Situation) -> Group | None:
    if situation.group is not None:
        return situation.group if situation.role >= Role.FACILITATOR else None
    staffed = [g for g, r in situation.staff_groups if r >= Role.FACILITATOR]
    return staffed[0] if len(staffed) == 1 else None


def _press_answer(ctx: ButtonContext, visibility: str, text: str,
                  buttons: tuple[tuple[Button, ...], ...]) -> Action:
    """Answer a press the way the message with the button was answered: privately or in the chat."""
    if visibility == "p":
        return ctx.private(text, buttons, interaction=ctx.event.interaction)
    return ctx.reply(text, buttons)


def _category(text: str) -> str | None:
    number = _small_int(text)
    if number is None or number >= len(CATEGORIES):
        return None
    return CATEGORIES[number]


def _small_int(text: str) -> int | None:
    """A plain decimal number that fits a 64-bit column, or None (never "²" or 30 digits)."""
    return int(text) if _NUMBER_RE.fullmatch(text) else None


def _query_tokens(text: str) -> list[str]:
    """The query as the search reads it (accents folded, case kept: "TX" and "Reading" matter)."""
    flat = unidecode(text[:MAX_QUERY_CHARS]).translate(_APOSTROPHES)
    return _TOKEN_RE.findall(flat)


def _values_of(resource: Resource) -> dict[str, object]:
    return {f.name: getattr(resource, f.name) for f in dataclasses.fields(resource)
            if f.name not in ("id", "group_id")}


def _new_id(name: str) -> str:
    slug = "-".join(words(name)[:4])[:40].strip("-") or "entry"
    return f"{slug}-{secrets.token_hex(3)}"


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


async def _find_own(store: ResourcesStore, group: Group, ref: str) -> StoredResource | None:
    """One of the group's own entries by its number ("12", "#12") or its id."""
    assert group.id is not None
    number = _small_int(ref.removeprefix("#"))
    if number is not None:
        stored = await store.resources.get(number)
        if stored is not None and stored.group_id == group.id:
            return stored
    return await store.resources.find(group.id, ref)


def _not_found(situation: Situation, ref: str) -> str:
    return situation.t("There is no entry {ref} among this group's own resources. /resource list "
                       "shows them with their numbers.", ref=ref[:40])


def _incomplete(situation: Situation, problem: ValueError) -> str:
    if "needs at least one of" in str(problem):
        return situation.t("It needs a way to reach it: a phone number, a text line, a website "
                           "or an e-mail.")
    return situation.t("That is not possible: {problem}", problem=str(problem)[:300])


def _saved_text(tr: Translator, situation: Situation, number: int, resource: Resource) -> str:
    return "\n".join([
        situation.t("Saved as #{number}. Members of this group will find it with /resources:",
                    number=number),
        card(tr, situation.lang, resource),
        situation.t("Change it with /resource edit {number} FIELD VALUE.", number=number)])

