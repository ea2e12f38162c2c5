"""The normalised course record: the EU micro-credential standard elements plus catalogue facts.

One `Course` is one bookable learning opportunity as we publish it, whatever feed it came from.
Every field is already normalised (controlled codes, numbers, dates); what the provider actually
wrote is kept beside it in `Course.originals` so a reviewer can see both.

Conventions (the contract every mapping and every consumer relies on):

* Multilingual text is a `LangText`: a mapping of BCP 47 language tag ("en", "fr", "de") to text.
  "und" means the feed did not say which language the text is in.
* Countries are ISO 3166-1 alpha-3 codes ("FRA"), as in the EU country authority table.
* Languages are ISO 639-1 codes where one exists ("en"), else ISO 639-3 ("gsw").
* EQF is an int 1..8; ISCED-F is the 2-, 3- or 4-digit code string ("0613").
* Modes of participation are codes of `catalogue.vocabularies.MODES` ("online", "onsite", ...).
* Money and credits are `Decimal`; currencies are ISO 4217 codes.
* The record carries no storage state (active/withdrawn); that belongs to the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

LangText = Mapping[str, str]
"""Language tag -> text. Use `lang_text()` to build one; empty means absent."""

EMPTY_TEXT: LangText = MappingProxyType({})


def lang_text(value: Mapping[str, str] | str | None = None, lang: str = "und") -> LangText:
    """Build a read-only LangText from a mapping or a single string, dropping blank entries."""
    if value is None:
        return EMPTY_TEXT
    if isinstance(value, str):  # the common case, a single text: one strip, no comprehension
        text = value.strip()
        return MappingProxyType({lang: text}) if text else EMPTY_TEXT
    cleaned = {tag: text.strip() for tag, text in value.items() if text and text.strip()}
    return MappingProxyType(cleaned) if cleaned else EMPTY_TEXT


def _empty_text() -> LangText:
    """Default factory for LangText fields (dataclasses refuse a mappingproxy as a plain default)."""
    return EMPTY_TEXT


def first_text(text: LangText, preferred: tuple[str, ...] = ("en",)) -> str:
    """The text in the first preferred language present, else any text, else ''."""
    for tag in preferred:
        if text.get(tag):
            return text[tag]
    return next(iter(text.values()), "")


@dataclass(frozen=True)
class Organisation:
    """A provider or awarding body."""

    name: LangText
    country: str | None = None  # ISO 3166-1 alpha-3
    homepage: str | None = None
    identifier: str | None = None  # the organisation's IRI or registry id, as published


@dataclass(frozen=True)
class LearningOutcome:
    """One learning outcome; `esco_uri` when the feed links an ESCO skill."""

    text: LangText
    esco_uri: str | None = None
    skill_type: str | None = None  # "knowledge" | "skill" (ELM skill-type vocabulary)


@dataclass(frozen=True)
class Location:
    """Where an on-site course takes place. Coordinates are WGS84 decimal degrees."""

    country: str | None = None  # ISO 3166-1 alpha-3
    region: str | None = None
    city: str | None = None
    postcode: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Price:
    """The price a learner pays; amount 0 means free."""

    amount: Decimal
    currency: str | None = None  # ISO 4217; None only when the amount is 0
    note: str | None = None  # e.g. "plus optional verified certificate"

    @property
    def is_free(self) -> bool:
        return self.amount == 0


@dataclass(frozen=True)
class Workload:
    """Notional workload. `ects_basis` says where the ECTS figure came from.

    ects_basis values:
      "stated"                  the feed gave ECTS
      "estimated-from-hours"    derived from `hours` at `hours_per_ects`
      "converted:<SCHEME>"      converted from another credit scheme (e.g. "converted:SCQF")
    """

    ects: Decimal | None = None
    hours: Decimal | None = None
    ects_basis: str | None = None
    hours_per_ects: Decimal | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a record came from. `provider_ref` is the provider's own id (the guid)."""

    source_id: str
    provider_ref: str
    run_id: int | None = None
    harvested_at: datetime | None = None
    pointer: str | None = None  # line number, XPath or subject IRI inside the feed


@dataclass(frozen=True)
class Course:
    """A normalised learning opportunity. See the module docstring for value conventions."""

    id: str
    title: LangText
    provider: Organisation
    provenance: Provenance
    # standard elements (Council Recommendation 2022, Annex I)
    description: LangText = field(default_factory=_empty_text)
    awarding_bodies: tuple[Organisation, ...] = ()
    learning_outcomes: tuple[LearningOutcome, ...] = ()
    workload: Workload = field(default_factory=Workload)
    eqf_level: int | None = None
    assessment: LangText = field(default_factory=_empty_text)
    assessment_types: tuple[str, ...] = ()  # ELM assessment vocabulary URIs
    modes: tuple[str, ...] = ()  # vocabularies.MODES codes
    schedule: str | None = None  # vocabularies.SCHEDULES code
    quality_assurance: LangText = field(default_factory=_empty_text)
    # optional standard elements
    prerequisites: LangText = field(default_factory=_empty_text)
    identity_verification: str | None = None
    grade: LangText = field(default_factory=_empty_text)
    stackability: LangText = field(default_factory=_empty_text)
    further_information: LangText = field(default_factory=_empty_text)
    # catalogue facts
    languages: tuple[str, ...] = ()
    isced_f: tuple[str, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    duration: str | None = None  # ISO 8601 duration, e.g. "P7W", "PT40H"
    price: Price | None = None
    locations: tuple[Location, ...] = ()
    url: str | None = None
    opportunity_type: str | None = None  # ELM learning-opportunity vocabulary URI
    keywords: tuple[str, ...] = ()
    originals: Mapping[str, str] = field(
        default_factory=_empty_text
    )  # field name -> value as the feed wrote it

    @property
    def country(self) -> str | None:
        """The provider's country (standard element 3)."""
        return self.provider.country


def course_id(source_id: str, provider_ref: str) -> str:
    """Stable, URL-safe id of a course: the same feed item always gets the same id."""
    digest = hashlib.sha256(f"{source_id}\x00{provider_ref}".encode()).hexdigest()
    return digest[:20]


# Field lists derived from the model (with `from __future__ import annotations` a field's type
# is the annotation's text, so "LangText" names exactly the multilingual text fields).
TEXT_FIELDS: frozenset[str] = frozenset(f.name for f in fields(Course) if f.type == "LangText")
"""The Course fields holding multilingual text (`LangText`)."""
BUILT_FIELDS: frozenset[str] = frozenset(
    {"id", "title", "provider", "provenance", "workload", "locations", "originals"}
)
"""Course fields a mapping builds from several targets (identity, provider, workload, places) or
keeps aside (originals); every other field takes a mapped value as it is (`MAPPED_FIELDS`)."""
MAPPED_FIELDS: frozenset[str] = frozenset(f.name for f in fields(Course)) - BUILT_FIELDS
"""The Course fields a mapping target sets directly (mappings.engine)."""
