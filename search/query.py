"""The query model shared by every search backend, the API and the HTML pages.

Facets and sort options are declared here as data; backends translate them, the web layer
renders them. A `SearchResult` is the single structure both JSON and HTML are built from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from search.errors import QueryError

MAX_QUERY_LENGTH = 500
MAX_PAGE_SIZE = 100
MAX_PAGE = 500  # deeper than this needs the cursor


@dataclass(frozen=True)
class Range:
    """A bucket of a numeric facet: [low, high) with None meaning open-ended."""

    key: str
    label: str
    low: float | None
    high: float | None


@dataclass(frozen=True)
class FacetSpec:
    """A facet as data. `field` is the document field; `ranges` makes it a numeric bucket facet."""

    name: str
    label: str
    field: str
    ranges: tuple[Range, ...] = ()
    size: int = 50


ECTS_RANGES = (
    Range("0-1", "under 1 ECTS", None, 1),
    Range("1-5", "1 to 5 ECTS", 1, 5),
    Range("5-15", "5 to 15 ECTS", 5, 15),
    Range("15-30", "15 to 30 ECTS", 15, 30),
    Range("30-", "30 ECTS or more", 30, None),
)
PRICE_RANGES = (
    Range("free", "Free", 0, 0.005),
    Range("0-100", "under 100", 0.005, 100),
    Range("100-500", "100 to 500", 100, 500),
    Range("500-2000", "500 to 2000", 500, 2000),
    Range("2000-", "2000 or more", 2000, None),
)

FACETS: tuple[FacetSpec, ...] = (
    FacetSpec("country", "Country", "country"),
    FacetSpec("eqf", "EQF level", "eqf"),
    FacetSpec("language", "Language", "languages"),
    FacetSpec("mode", "Mode", "modes"),
    FacetSpec("field", "Field of study", "isced_broad"),
    FacetSpec("provider", "Provider", "provider_key", size=20),
    FacetSpec("ects", "Workload (ECTS)", "ects", ranges=ECTS_RANGES),
    FacetSpec("price", "Price", "price", ranges=PRICE_RANGES),
    FacetSpec("funding", "Funding eligibility", "eligible"),  # values: eligibility scheme ids
)
FACETS_BY_NAME: Mapping[str, FacetSpec] = MappingProxyType({f.name: f for f in FACETS})

ValueLabeller = Callable[[str], str | None]
"""Facet value -> display label, or None when it has none."""
_VALUE_LABELLERS: dict[str, ValueLabeller] = {}


def register_value_labeller(facet: str, labeller: ValueLabeller) -> None:
    """Label the values of a facet whose values are not a fixed vocabulary (e.g. funding scheme
    ids -> scheme names). Registered at startup by whoever knows the labels; replaces any earlier."""
    _VALUE_LABELLERS[facet] = labeller


def registered_label(facet: str, value: str) -> str | None:
    """The registered label of a facet value, or None."""
    labeller = _VALUE_LABELLERS.get(facet)
    return labeller(value) if labeller is not None else None


SORTS = ("relevance", "start_date", "ects", "price", "title")


@dataclass(frozen=True)
class Query:
    """A validated search request. Build it with `Query.create`, which raises QueryError on bad input.

    Filters: facet name -> selected values; values of one facet are OR-ed, facets are AND-ed.
    `text` is user text, never query syntax: backends must escape or tokenise it themselves.
    """

    text: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    page: int = 1
    page_size: int = 20
    sort: str = "relevance"
    include_withdrawn: bool = False
    include_past: bool = False
    today: date | None = None  # "past" is judged against this; None means date.today()

    @classmethod
    def create(
        cls,
        text: str = "",
        filters: Mapping[str, tuple[str, ...] | list[str]] | None = None,
        page: int = 1,
        page_size: int = 20,
        sort: str = "relevance",
        **flags: Any,
    ) -> Query:
        text = " ".join((text or "").split())
        if len(text) > MAX_QUERY_LENGTH:
            raise QueryError(f"query text is longer than {MAX_QUERY_LENGTH} characters")
        if not 1 <= page <= MAX_PAGE:
            raise QueryError(f"page must be between 1 and {MAX_PAGE}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise QueryError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}")
        clean: dict[str, tuple[str, ...]] = {}
        for name, values in (filters or {}).items():
            spec = FACETS_BY_NAME.get(name)
            if spec is None:
                raise QueryError(f"unknown filter {name!r}; filters are {', '.join(FACETS_BY_NAME)}")
            kept = tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
            if spec.ranges:
                known = {r.key for r in spec.ranges}
                unknown = [v for v in kept if v not in known]
                if unknown:
                    raise QueryError(f"unknown {name} range {unknown[0]!r}; use one of {', '.join(known)}")
            if kept:
                clean[name] = kept
        return cls(text, MappingProxyType(clean), page, page_size, sort, **flags)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def validate(query: Query) -> None:
    """Re-check what Query.create checks, for queries built without it; raises QueryError."""
    if len(query.text) > MAX_QUERY_LENGTH:
        raise QueryError(f"query text is longer than {MAX_QUERY_LENGTH} characters")
    if not 1 <= query.page <= MAX_PAGE or not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise QueryError(f"page must be 1..{MAX_PAGE} and page_size 1..{MAX_PAGE_SIZE}")
    if query.sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}")
    unknown = [name for name in query.filters if name not in FACETS_BY_NAME]
    if unknown:
        raise QueryError(f"unknown filter {unknown[0]!r}")


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    values: tuple[FacetValue, ...]


@dataclass(frozen=True)
class Hit:
    """One result: the course id, its score and the summary fields a result card shows."""

    id: str
    score: float
    fields: Mapping[str, Any]
    snippet: str | None = None  # highlighted HTML fragment; only <b> tags, everything else escaped


@dataclass(frozen=True)
class SearchResult:
    query: Query
    total: int
    hits: tuple[Hit, ...]
    facets: tuple[Facet, ...]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))
