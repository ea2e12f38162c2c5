"""The one flattening of a stored course into a search document, shared by every backend.

A `Document` is a flat, JSON-serialisable dict. Text that a backend should stem is split by
language into `<kind>_<lang>` keys for the languages in `STEMMERS` (e.g. "title_fr"); text in
any other language, or in an unknown one, goes to `<kind>_other`, which backends only fold and
lowercase. Facet and filter values are plain strings (or lists of strings) so every backend
can count them the same way; numbers are floats and dates ISO strings.

`CARD_FIELDS` are the keys a result card shows; backends return exactly those in `Hit.fields`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from catalogue.changes import StoredCourse
from catalogue.codec import read_date, read_decimal
from catalogue.model import LangText, Location, first_text, lang_text
from catalogue.vocabularies import isced_ancestors
from search.backend import Document
from search.query import UNDATED_DAY

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
    "keywords",  # autocomplete suggests them as skills (search.tantivy_suggest)
    "cities",  # as published; the region/city facets label their slug values from these
    "regions",
    "geo",  # {"lat", "lon"} of an on-site course, else None
)

# Norwegian Bokmål and Nynorsk share the one Snowball stemmer.
_LANGUAGE_ALIASES = {"nb": "no", "nn": "no"}
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_ON_SITE = frozenset({"onsite", "blended", "workbased"})
"""Modes with a place to go to: only such courses (or ones without modes) get a geo point."""


def to_document(stored: StoredCourse, eligible: Iterable[str] = ()) -> Document:
    """Flatten a stored course into a search document. Pure: same input, same output.

    `eligible`: ids of the funding schemes the course is eligible for (catalogue eligibility,
    looked up by the caller so that documents stay a function of their arguments)."""
    course = stored.course
    price = course.price
    return _flatten(
        _Facts(
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
        ),
        eligible,
    )


def record_document(
    record: Mapping[str, Any], status: str, seq: int, eligible: Iterable[str] = ()
) -> Document:
    """`to_document` of the stored course whose record (`catalogue.codec.course_to_dict`, as the
    store holds it) is `record`, without building the Course: the full reindex reads records raw.

    Equal to `to_document(StoredCourse(course_from_dict(record), status, seq=seq, ...), eligible)`
    for every record: values are read with the codec's own readers (`lang_text`, `read_decimal`,
    `read_date`), and the
    document is assembled by the same `_flatten`. Raises KeyError/ValueError on a malformed record.
    """
    price = record.get("price")
    amount = read_decimal(price["amount"]) if price else None
    workload = record.get("workload") or {}
    return _flatten(
        _Facts(
            id=record["id"],
            status=str(status),
            seq=seq,
            title=lang_text(record.get("title")),
            description=lang_text(record.get("description")),
            outcomes=[lang_text(outcome.get("text")) for outcome in record.get("learning_outcomes", ())],
            provider=lang_text(record["provider"].get("name")),
            country=record["provider"].get("country"),
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
            locations=tuple(Location(**location) for location in record.get("locations", ())),
        ),
        eligible,
    )


class _Facts(NamedTuple):
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


def _flatten(facts: _Facts, eligible: Iterable[str]) -> Document:
    display = ("en", *facts.languages)
    provider = first_text(facts.provider, display)
    start = facts.start_date
    doc: Document = {
        "id": facts.id,
        "status": facts.status,
        "seq": facts.seq,  # the store's change counter: `search.sync.repair` compares it
        "title": first_text(facts.title, display),
        "titles": _joined(facts.title.values()),
        "description": first_text(facts.description, display),
        "outcomes": _joined(text for outcome in facts.outcomes for text in outcome.values()),
        "keywords": list(facts.keywords),
        "provider": provider,
        "provider_key": provider_key(provider),
        "country": facts.country,
        "eqf": str(facts.eqf_level) if facts.eqf_level is not None else None,
        "languages": list(facts.languages),
        "modes": list(facts.modes),
        "schedule": facts.schedule,
        "isced": _isced_chain(facts.isced_f),
        "isced_broad": _isced_level(facts.isced_f, 2),
        "isced_narrow": _isced_level(facts.isced_f, 3),
        "isced_detailed": _isced_level(facts.isced_f, 4),
        "start_date": start.isoformat() if start else None,
        "start_day": float(start.toordinal() if start else UNDATED_DAY),
        "end_date": facts.end_date.isoformat() if facts.end_date else None,
        "url": facts.url,
        "eligible": sorted(eligible),
        **_money_fields(facts),
        **_place_fields(facts),
    }
    implied = facts.languages[0] if len(facts.languages) == 1 else None
    doc.update(_per_language("title", facts.title, implied))
    doc.update(_per_language("description", facts.description, implied))
    doc.update(_per_language("outcomes", _outcome_text(facts.outcomes), implied))
    return doc


def text_language(tag: str, implied: str | None = None) -> str:
    """The STEMMERS key (or OTHER) for a BCP 47 tag; "und" takes the course's only language."""
    primary = tag.split("-", 1)[0].lower()
    if primary == "und" and implied:
        primary = implied.split("-", 1)[0].lower()
    primary = _LANGUAGE_ALIASES.get(primary, primary)
    return primary if primary in STEMMERS else OTHER


def provider_key(name: str) -> str | None:
    """A stable, URL-safe facet value for a provider (or a place): its name folded to ASCII and
    slugged."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG_JUNK.sub("-", folded.lower()).strip("-")
    return slug or None


def _per_language(kind: str, text: LangText, implied: str | None) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for tag, value in text.items():
        grouped.setdefault(text_language(tag, implied), []).append(value)
    return {f"{kind}_{lang}": "\n".join(values) for lang, values in grouped.items()}


def _outcome_text(outcomes: list[LangText]) -> dict[str, str]:
    merged: dict[str, list[str]] = {}
    for text in outcomes:
        for tag, value in text.items():
            merged.setdefault(tag, []).append(value)
    return {tag: "\n".join(values) for tag, values in merged.items()}


def _money_fields(facts: _Facts) -> dict[str, Any]:
    ects, price = facts.ects, facts.price
    return {
        "ects": float(ects) if ects is not None else None,
        "ects_basis": facts.ects_basis if ects is not None else None,
        "price": float(price) if price is not None else None,
        "currency": facts.currency if price is not None else None,
        "free": price == 0 if price is not None else None,  # catalogue.model.Price.is_free
    }


def _place_fields(facts: _Facts) -> dict[str, Any]:
    """Region and city names as published with their slugs (the facet values), and the geo
    point of an on-site course: its first location with coordinates."""
    regions = list(
        dict.fromkeys(loc.region.strip() for loc in facts.locations if loc.region and loc.region.strip())
    )
    cities = list(dict.fromkeys(loc.city.strip() for loc in facts.locations if loc.city and loc.city.strip()))
    geo = None
    if not facts.modes or _ON_SITE.intersection(facts.modes):
        located = next(
            (loc for loc in facts.locations if loc.latitude is not None and loc.longitude is not None), None
        )
        if located is not None:
            geo = {"lat": float(located.latitude or 0.0), "lon": float(located.longitude or 0.0)}
    return {
        "regions": regions,
        "region_keys": _slugs(regions),
        "cities": cities,
        "city_keys": _slugs(cities),
        "geo": geo,
    }


def _slugs(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(key for key in map(provider_key, names) if key))


def _isced_level(codes: Iterable[str], length: int) -> list[str]:
    return list(dict.fromkeys(code[:length] for code in codes if len(code) >= length))


def _isced_chain(codes: Iterable[str]) -> list[str]:
    chain: dict[str, None] = {}
    for code in codes:
        chain.update(dict.fromkeys(isced_ancestors(code)))
    return list(chain)


def _joined(texts: Iterable[str]) -> str:
    return "\n".join(dict.fromkeys(texts))
