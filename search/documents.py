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
from typing import Any

from catalogue.changes import StoredCourse
from catalogue.model import Course, LangText, first_text
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
    display = ("en", *course.languages)
    provider = first_text(course.provider.name, display)
    doc: Document = {
        "id": course.id,
        "status": str(stored.status),
        "seq": stored.seq,  # the store's change counter: `search.sync.repair` compares it
        "title": first_text(course.title, display),
        "titles": _joined(course.title.values()),
        "description": first_text(course.description, display),
        "outcomes": _joined(text for o in course.learning_outcomes for text in o.text.values()),
        "keywords": list(course.keywords),
        "provider": provider,
        "provider_key": provider_key(provider),
        "country": course.country,
        "eqf": str(course.eqf_level) if course.eqf_level is not None else None,
        "languages": list(course.languages),
        "modes": list(course.modes),
        "schedule": course.schedule,
        "isced": _isced_chain(course.isced_f),
        "isced_broad": _isced_level(course.isced_f, 2),
        "isced_narrow": _isced_level(course.isced_f, 3),
        "isced_detailed": _isced_level(course.isced_f, 4),
        "start_date": course.start_date.isoformat() if course.start_date else None,
        "start_day": float(course.start_date.toordinal() if course.start_date else UNDATED_DAY),
        "end_date": course.end_date.isoformat() if course.end_date else None,
        "url": course.url,
        "eligible": sorted(eligible),
        **_money_fields(course),
        **_place_fields(course),
    }
    implied = course.languages[0] if len(course.languages) == 1 else None
    doc.update(_per_language("title", course.title, implied))
    doc.update(_per_language("description", course.description, implied))
    doc.update(_per_language("outcomes", _outcome_text(course), implied))
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


def _outcome_text(course: Course) -> dict[str, str]:
    merged: dict[str, list[str]] = {}
    for outcome in course.learning_outcomes:
        for tag, value in outcome.text.items():
            merged.setdefault(tag, []).append(value)
    return {tag: "\n".join(values) for tag, values in merged.items()}


def _money_fields(course: Course) -> dict[str, Any]:
    ects = course.workload.ects
    price = course.price
    return {
        "ects": float(ects) if ects is not None else None,
        "ects_basis": course.workload.ects_basis if ects is not None else None,
        "price": float(price.amount) if price is not None else None,
        "currency": price.currency if price is not None else None,
        "free": price.is_free if price is not None else None,
    }


def _place_fields(course: Course) -> dict[str, Any]:
    """Region and city names as published with their slugs (the facet values), and the geo
    point of an on-site course: its first location with coordinates."""
    regions = list(
        dict.fromkeys(loc.region.strip() for loc in course.locations if loc.region and loc.region.strip())
    )
    cities = list(
        dict.fromkeys(loc.city.strip() for loc in course.locations if loc.city and loc.city.strip())
    )
    geo = None
    if not course.modes or _ON_SITE.intersection(course.modes):
        located = next(
            (loc for loc in course.locations if loc.latitude is not None and loc.longitude is not None), None
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
