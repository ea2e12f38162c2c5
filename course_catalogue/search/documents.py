"""The one flattening of a stored course into a search document, shared by every backend.

A `Document` is a flat, JSON-serialisable dict. Text that a backend should stem is split by
language into `<kind>_<lang>` keys for the languages in `STEMMERS` (e.g. "title_fr"); text in
any other language, or in an unknown one, goes to `<kind>_other`, which backends only fold and
lowercase. Facet and filter values are plain strings (or lists of strings) so every backend
can count them the same way; numbers are floats and dates ISO strings.

`CARD_FIELDS` are the keys a result card shows; backends return exactly those in `Hit.fields`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from course_catalogue.catalogue.changes import StoredCourse
from course_catalogue.catalogue.codec import read_date, read_decimal
from course_catalogue.catalogue.model import LangText, Location, first_text, lang_text
from course_catalogue.catalogue.provider_keys import slug
from course_catalogue.catalogue.vocabularies import isced_ancestors
from course_catalogue.search.backend import Document
from course_catalogue.search.query import UNDATED_DAY
from course_catalogue.search.semantic import embedder
from course_catalogue.skills import semantic as skill_semantic
from course_catalogue.skills import taxonomy as skill_taxonomy
from course_catalogue.skills.linking import CourseText, link, linker_key, published

MEMO_LIMIT = 50_000
"""Bound of the memos of pure functions of values that repeat across a catalogue (provider and
place names, language tags, ISCED code sets): a reindex computes each once, not once per course."""

STEMMERS: Mapping[str, str] = {
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "sv": "swedish",
    "tr": "turkish",
}
"""Language code -> Snowball stemmer name, for the European languages both tantivy and
OpenSearch stem. Other languages are indexed folded and lowercased only."""

OTHER = "other"
LANGUAGES: tuple[str, ...] = (*STEMMERS, OTHER)
"""The language keys of per-language text fields: the stemmed languages, then OTHER."""
TEXT_KINDS = ("title", "description", "outcomes")
"""Text kinds split per language: keys are f"{kind}_{lang}" for lang in STEMMERS or OTHER."""

CARD_FIELDS = (
    "id",
    "status",
    "title",
    "provider",
    "country",
    "eqf",
    "ects",
    "ects_basis",  # "stated" | "estimated-from-hours" | "converted:<SCHEME>": cards mark estimates
    "modes",
    "languages",
    "schedule",
    "start_date",
    "end_date",
    "price",
    "currency",
    "free",
    "url",
    "keywords",  # autocomplete suggests them as skills (search.tantivy.suggest)
    "cities",  # as published; the region/city facets label their slug values from these
    "regions",
    "geo",  # {"lat", "lon"} of an on-site course, else None
    "skills",  # ESCO skill URIs of the published links: the tantivy skill facet resolves its hashes from them
    "skill_links",  # published ESCO skill links (skills.linking.SkillLink.as_dict): hits explain them
)

# Norwegian Bokmål and Nynorsk share the one Snowball stemmer.
_LANGUAGE_ALIASES = {"nb": "no", "nn": "no"}
_ON_SITE = frozenset({"onsite", "blended", "workbased"})
"""Modes with a place to go to: only such courses (or ones without modes) get a geo point."""


SkillLinks = Sequence[Mapping[str, Any]]
"""A course's published skill links as documents carry them (`SkillLink.as_dict` of each)."""


def to_document(stored: StoredCourse, eligible: Iterable[str] = ()) -> Document:
    """Flatten a stored course into a search document. Pure: same input, same output.

    `eligible`: ids of the funding schemes the course is eligible for (catalogue eligibility,
    looked up by the caller so that documents stay a function of their arguments)."""
    return flatten(course_facts(stored), eligible)


def record_document(
    record: Mapping[str, Any],
    status: str,
    seq: int,
    eligible: Iterable[str] = (),
    skill_links: SkillLinks | None = None,
) -> Document:
    """`to_document` of the stored course whose record (`catalogue.codec.course_to_dict`, as the
    store holds it) is `record`, without building the Course: the full reindex reads records raw.

    Equal to `to_document(StoredCourse(course_from_dict(record), status, seq=seq, ...), eligible)`
    for every record: values are read with the codec's own readers (`record_facts`), and the
    document is assembled by the same `flatten`. `skill_links`: the course's published links when
    the caller has them (`course_skill_links` of `record_skill_text(record)`, computed now or kept
    from an earlier build), else they are computed. Raises KeyError/ValueError on a malformed record.
    """
    return flatten(record_facts(record, status, seq), eligible, skill_links)


def course_facts(stored: StoredCourse) -> CourseFacts:
    """The facts a search document of `stored` is flattened from."""
    course = stored.course
    price = course.price
    return CourseFacts(
        id=course.id,
        status=str(stored.status),
        seq=stored.seq,
        title=course.title,
        description=course.description,
        outcomes=[outcome.text for outcome in course.learning_outcomes],
        provider=course.provider.name,
        country=course.country,
        eqf_level=course.eqf_level,
        languages=course.languages,
        modes=course.modes,
        schedule=course.schedule,
        isced_f=course.isced_f,
        start_date=course.start_date,
        end_date=course.end_date,
        url=course.url,
        keywords=course.keywords,
        ects=course.workload.ects,
        ects_basis=course.workload.ects_basis,
        price=price.amount if price is not None else None,
        currency=price.currency if price is not None else None,
        locations=course.locations,
        stated_skills=tuple(
            (outcome.esco_uri, first_text(outcome.text, ("en",)))
            for outcome in course.learning_outcomes
            if outcome.esco_uri
        ),
    )


def record_facts(record: Mapping[str, Any], status: str, seq: int) -> CourseFacts:
    """`course_facts` of the stored course whose record is `record`, read with the codec's own
    readers (`lang_text`, `read_decimal`, `read_date`, `Location`) so that they are the facts
    `course_from_dict` would give. Raises KeyError/ValueError on a malformed record."""
    price = record.get("price")
    amount = read_decimal(price["amount"]) if price else None
    workload = record.get("workload") or {}
    provider = record["provider"]
    locations = record.get("locations", ())
    return CourseFacts(
        id=record["id"],
        status=str(status),
        seq=seq,
        title=lang_text(record.get("title")),
        description=lang_text(record.get("description")),
        outcomes=[lang_text(outcome.get("text")) for outcome in record.get("learning_outcomes", ())],
        provider=lang_text(provider.get("name")),
        country=provider.get("country"),
        eqf_level=record.get("eqf_level"),
        languages=tuple(record.get("languages", ())),
        modes=tuple(record.get("modes", ())),
        schedule=record.get("schedule"),
        isced_f=tuple(record.get("isced_f", ())),
        start_date=read_date(record.get("start_date")),
        end_date=read_date(record.get("end_date")),
        url=record.get("url"),
        keywords=tuple(record.get("keywords", ())),
        ects=read_decimal(workload.get("ects")),
        ects_basis=workload.get("ects_basis"),
        price=amount,
        currency=price.get("currency") if price else None,
        locations=tuple(Location(**location) for location in locations),
        stated_skills=tuple(
            (outcome["esco_uri"], first_text(lang_text(outcome.get("text")), ("en",)))
            for outcome in record.get("learning_outcomes", ())
            if outcome.get("esco_uri")
        ),
    )


class StoredRecord(NamedTuple):
    """A stored course as a full reindex reads it: its decoded record (`course_to_dict`), its
    status and seq, the funding schemes it is eligible for, and its published skill links when
    they are known already (`record_document`'s arguments)."""

    record: Mapping[str, Any]
    status: str
    seq: int
    eligible: Iterable[str] = ()
    skill_links: SkillLinks | None = None


class CourseFacts(NamedTuple):
    """What a search document is flattened from, read from a Course or from its stored record."""

    id: str
    status: str
    seq: int
    title: LangText
    description: LangText
    outcomes: list[LangText]
    provider: LangText
    country: str | None
    eqf_level: int | None
    languages: tuple[str, ...]
    modes: tuple[str, ...]
    schedule: str | None
    isced_f: tuple[str, ...]
    start_date: date | None
    end_date: date | None
    url: str | None
    keywords: tuple[str, ...]
    ects: Decimal | None
    ects_basis: str | None
    price: Decimal | None
    currency: str | None
    locations: tuple[Location, ...]
    stated_skills: tuple[tuple[str, str], ...] = ()
    """(ESCO URI, outcome text) of the learning outcomes that state a skill."""


def flatten(facts: CourseFacts, eligible: Iterable[str], skill_links: SkillLinks | None = None) -> Document:
    """The search document of `facts` (the one flattening: `to_document`, `record_document`), with
    `skill_links` as its published skill links when given (they must be those of `facts`' text),
    else computed (`skill_fields`)."""
    display = ("en", *facts.languages)
    provider = first_text(facts.provider, display)
    start = facts.start_date
    isced, broad, narrow, detailed = isced_fields(facts.isced_f)
    money = money_fields(facts)
    place = places(facts.locations, facts.modes)
    doc: Document = {
        "id": facts.id,
        "status": facts.status,
        "seq": facts.seq,  # the store's change counter: `search.sync.repair` compares it
        "title": first_text(facts.title, display),
        "titles": joined(facts.title.values()),
        "description": first_text(facts.description, display),
        "outcomes": joined(text for outcome in facts.outcomes for text in outcome.values()),
        "keywords": list(facts.keywords),
        "provider": provider,
        "provider_key": provider_key(provider),
        "country": facts.country,
        "eqf": str(facts.eqf_level) if facts.eqf_level is not None else None,
        "languages": list(facts.languages),
        "modes": list(facts.modes),
        "schedule": facts.schedule,
        "isced": list(isced),
        "isced_broad": list(broad),
        "isced_narrow": list(narrow),
        "isced_detailed": list(detailed),
        "start_date": start.isoformat() if start else None,
        "start_day": float(start.toordinal() if start else UNDATED_DAY),
        "end_date": facts.end_date.isoformat() if facts.end_date else None,
        "url": facts.url,
        "eligible": sorted(eligible),
        "ects": money.ects,
        "ects_basis": money.ects_basis,
        "price": money.price,
        "currency": money.currency,
        "free": money.free,
        "regions": list(place.regions),
        "region_keys": list(place.region_keys),
        "cities": list(place.cities),
        "city_keys": list(place.city_keys),
        "geo": dict(place.geo) if place.geo is not None else None,
    }
    doc.update(skill_fields(facts, skill_links))
    implied = implied_language(facts.languages)
    doc.update(language_texts("title", facts.title, implied))
    doc.update(language_texts("description", facts.description, implied))
    doc.update(language_texts("outcomes", outcome_text(facts.outcomes), implied))
    return doc


def skill_fields(facts: CourseFacts, links: SkillLinks | None = None) -> dict[str, Any]:
    """`skills` (the facet: URIs of the published links) and `skill_links` (the links, for the
    explanations) of a course: its stated ESCO skills and the skills inferred from its text above
    the publication threshold (`skills.linking`). Only stated ones when skills are off. `links`:
    the published links of the course's text when the caller has them (`course_skill_links`)."""
    if links is None:
        links = course_skill_links(skill_text(facts))
    return {"skills": [item["uri"] for item in links], "skill_links": list(links)}


def skill_text(facts: CourseFacts) -> CourseText:
    """What a course's skill links are made from: its title, keywords, outcomes, description and
    stated ESCO skills."""
    return CourseText(
        title=[facts.title],
        keywords=facts.keywords,
        outcomes=facts.outcomes,
        description=[facts.description],
        stated=facts.stated_skills,
    )


def record_skill_text(record: Mapping[str, Any]) -> CourseText:
    """`skill_text` of the course whose stored record is `record`, read with the readers
    `record_facts` uses but only for the fields linking reads (no dates, prices or places).
    Raises KeyError/ValueError/AttributeError on a malformed record."""
    outcomes = record.get("learning_outcomes", ())
    return CourseText(
        title=[lang_text(record.get("title"))],
        keywords=tuple(record.get("keywords", ())),
        outcomes=[lang_text(outcome.get("text")) for outcome in outcomes],
        description=[lang_text(record.get("description"))],
        stated=tuple(
            (outcome["esco_uri"], first_text(lang_text(outcome.get("text")), ("en",)))
            for outcome in outcomes
            if outcome.get("esco_uri")
        ),
    )


def course_skill_links(text: CourseText) -> list[dict[str, Any]]:
    """The published skill links of `text` under the current taxonomy and linker settings."""
    taxonomy = skill_taxonomy.current()
    links = published(link(text, taxonomy, skill_semantic.current(taxonomy, embedder)))
    return [item.as_dict() for item in links]


def skill_key() -> str | None:
    """What the published links of a text depend on besides the text (`skills.linking.linker_key`
    of the current taxonomy and settings), or None when skills are off: links computed under one
    key may be reused while the key is the same."""
    taxonomy = skill_taxonomy.current()
    return None if taxonomy is None else linker_key(taxonomy, skill_semantic.model_name())


def text_digest(text: CourseText) -> str:
    """A digest of everything in `text` that linking reads, in its order (32 hex digits)."""
    parts = (
        [dict(title) for title in text.title],
        list(text.keywords),
        [dict(outcome) for outcome in text.outcomes],
        [dict(description) for description in text.description],
        [list(pair) for pair in text.stated],
    )
    return hashlib.blake2b(orjson.dumps(parts), digest_size=16).hexdigest()


def text_language(tag: str, implied: str | None = None) -> str:
    """The STEMMERS key (or OTHER) for a BCP 47 tag; "und" takes the course's only language."""
    primary = tag.split("-", 1)[0].lower()
    if primary == "und" and implied:
        primary = implied.split("-", 1)[0].lower()
    primary = _LANGUAGE_ALIASES.get(primary, primary)
    return primary if primary in STEMMERS else OTHER


@lru_cache(maxsize=MEMO_LIMIT)
def provider_key(name: str) -> str | None:
    """A stable, URL-safe facet value for a provider (or a place): its name folded to ASCII and
    slugged (the key the store keeps too, for OAI-PMH provider sets)."""
    return slug(name)


def implied_language(languages: tuple[str, ...]) -> str | None:
    """The language "und" text is taken to be in: the course's only language, if it has one."""
    return languages[0] if len(languages) == 1 else None


def language_texts(kind: str, text: LangText, implied: str | None) -> dict[str, str]:
    """`text` split by `text_language` into `<kind>_<lang>` keys (texts of one key joined by a
    newline), in the order their languages first occur in `text`."""
    if not isinstance(implied, str | None):  # a malformed record's, maybe unhashable: not cached
        return _grouped(((f"{kind}_{text_language(tag, implied)}", value) for tag, value in text.items()))
    if len(text) == 1:  # the common case: one text, one key
        for tag, value in text.items():
            return {_field_name(kind, tag, implied): value}
    return _grouped((_field_name(kind, tag, implied), value) for tag, value in text.items())


@lru_cache(maxsize=MEMO_LIMIT)
def _field_name(kind: str, tag: str, implied: str | None) -> str:
    return f"{kind}_{text_language(tag, implied)}"


def _grouped(named: Iterable[tuple[str, str]]) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for name, value in named:
        grouped.setdefault(name, []).append(value)
    return {name: "\n".join(values) for name, values in grouped.items()}


def outcome_text(outcomes: list[LangText]) -> dict[str, str]:
    """The learning outcomes' texts merged per language tag (one per line)."""
    if not outcomes:
        return {}
    merged: dict[str, list[str]] = {}
    for text in outcomes:
        for tag, value in text.items():
            merged.setdefault(tag, []).append(value)
    return {tag: "\n".join(values) for tag, values in merged.items()}


class Money(NamedTuple):
    """The money and credit fields of a document: floats, and what qualifies them."""

    ects: float | None
    ects_basis: str | None
    price: float | None
    currency: str | None
    free: bool | None


def money_fields(facts: CourseFacts) -> Money:
    """ECTS and price as floats; the basis and currency only beside a value."""
    ects, price = facts.ects, facts.price
    return Money(
        float(ects) if ects is not None else None,
        facts.ects_basis if ects is not None else None,
        float(price) if price is not None else None,
        facts.currency if price is not None else None,
        price == 0 if price is not None else None,  # catalogue.model.Price.is_free
    )


class Places(NamedTuple):
    """Region and city names as published with their slugs (the facet values), and the geo point
    of an on-site course. Shared and read-only: copy before changing."""

    regions: tuple[str, ...]
    region_keys: tuple[str, ...]
    cities: tuple[str, ...]
    city_keys: tuple[str, ...]
    geo: Mapping[str, float] | None


_NOWHERE = Places((), (), (), (), None)


def places(locations: tuple[Location, ...], modes: tuple[str, ...]) -> Places:
    """The places of a course: its first location with coordinates gives the geo point, and only
    to a course with a place to go to (or without modes)."""
    if not locations:
        return _NOWHERE
    regions = tuple(
        dict.fromkeys(loc.region.strip() for loc in locations if loc.region and loc.region.strip())
    )
    cities = tuple(dict.fromkeys(loc.city.strip() for loc in locations if loc.city and loc.city.strip()))
    geo = None
    if not modes or _ON_SITE.intersection(modes):
        located = next(
            (loc for loc in locations if loc.latitude is not None and loc.longitude is not None), None
        )
        if located is not None:
            geo = {"lat": float(located.latitude or 0.0), "lon": float(located.longitude or 0.0)}
    return Places(regions, _slugs(regions), cities, _slugs(cities), geo)


def isced_fields(codes: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """ISCED-F codes -> (every code with its ancestors, broad, narrow, detailed codes), each in
    first-seen order. Shared and read-only (few distinct code sets: they are computed once)."""
    try:
        return _isced_cached(codes)
    except TypeError:  # a malformed record's codes may be unhashable: computed, not kept
        return _isced_uncached(codes)


@lru_cache(maxsize=MEMO_LIMIT)
def _isced_cached(codes: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return _isced_uncached(codes)


def _isced_uncached(codes: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return (_isced_chain(codes), _isced_level(codes, 2), _isced_level(codes, 3), _isced_level(codes, 4))


def joined(texts: Iterable[str]) -> str:
    """The distinct `texts`, one per line, in first-seen order."""
    return "\n".join(dict.fromkeys(texts))


def _slugs(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(key for key in map(provider_key, names) if key))


def _isced_level(codes: Iterable[str], length: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(code[:length] for code in codes if len(code) >= length))


def _isced_chain(codes: Iterable[str]) -> tuple[str, ...]:
    chain: dict[str, None] = {}
    for code in codes:
        chain.update(dict.fromkeys(isced_ancestors(code)))
    return tuple(chain)
