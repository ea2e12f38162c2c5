"""The query model shared by every search backend, the API and the HTML pages.

Facets and sort options are declared here as data; backends translate them, the web layer
renders them. A `SearchResult` is the single structure both JSON and HTML are built from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from course_catalogue.search.errors import QueryError

MAX_QUERY_LENGTH = 500
MAX_PAGE_SIZE = 100
MAX_PAGE = 500  # deeper than this needs the cursor
MAX_FILTER_VALUES = 100
"""Filter values one search may name, every facet together: each toggle link of a result page
repeats the query, so the page grows with values x links; a person selects a handful."""
MAX_CURSOR_LENGTH = 2000
"""Longest cursor token read (one a search writes is a few hundred characters)."""
MAX_CURSOR_POSITION = 10**9
"""Hits a cursor may say were delivered before it (no index holds more courses)."""
DEFAULT_RADIUS_KM = 50.0  # `near` without `within_km`
MAX_RADIUS_KM = 1000.0
RETRIEVALS = ("keyword", "hybrid")
"""Retrieval methods: `keyword` (the text index alone) or `hybrid` (keyword and sentence-vector
retrieval fused; search.tantivy.hybrid). A backend without vectors answers `hybrid` as `keyword`."""
UNDATED_DAY = 10**8
"""The `start_day` of a course without a start date: after every real day number."""


@dataclass(frozen=True)
class Range:
    """A bucket of a numeric facet: [low, high) with None meaning open-ended.

    In a `relative` facet low/high are day offsets from Query.today, unless `absolute`."""

    key: str
    label: str
    low: float | None
    high: float | None
    absolute: bool = False


@dataclass(frozen=True)
class FacetSpec:
    """A facet as data. `field` is the document field counted; `ranges` makes it a numeric
    bucket facet (`relative`: buckets are day offsets from Query.today, resolved per query by
    `facet_ranges`). `filter_field` is the field its filter uses when that differs (a broad
    ISCED code selects every course under it). A facet with a `parent` is a drill-down: it is
    counted only when its parent (or itself) has a selection, and then lists only values that
    extend a selected parent value (ISCED codes nest by prefix: 06 > 061 > 0613)."""

    name: str
    label: str
    field: str
    ranges: tuple[Range, ...] = ()
    size: int = 50
    filter_field: str | None = None
    parent: str | None = None
    relative: bool = False
    pattern: str | None = None
    """A regular expression every value of a closed vocabulary matches (EQF levels, ISCED-F
    codes): a value that does not is a QueryError (400), not a search that silently finds
    nothing. Open vocabularies (countries as published, slugs) have none."""
    pattern_hint: str = ""

    @property
    def filter_on(self) -> str:
        return self.filter_field or self.field


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

START_RANGES = (
    Range("started", "Already started", None, 0),
    Range("30d", "In the next 30 days", 0, 30),
    Range("1-3m", "In 1 to 3 months", 30, 91),
    Range("3-6m", "In 3 to 6 months", 91, 183),
    Range("later", "In more than 6 months", 183, None),
    Range("undated", "No fixed date", UNDATED_DAY, None, absolute=True),
)
"""Start date buckets, in days from Query.today; an open upper end stops before UNDATED_DAY."""

ISCED = "[0-9]{2,4}"
ISCED_HINT = "an ISCED-F 2013 field code of 2 to 4 digits"
FACETS: tuple[FacetSpec, ...] = (
    FacetSpec("country", "Country", "country"),
    FacetSpec("region", "Region", "region_keys"),  # values: slugs of the published names
    FacetSpec("city", "City", "city_keys"),
    FacetSpec("eqf", "EQF level", "eqf", pattern="[1-8]", pattern_hint="a level from 1 to 8"),
    FacetSpec("language", "Language", "languages"),
    FacetSpec("mode", "Mode", "modes"),
    FacetSpec("schedule", "Schedule", "schedule"),
    FacetSpec(
        "field", "Field of study", "isced_broad", filter_field="isced", pattern=ISCED, pattern_hint=ISCED_HINT
    ),
    FacetSpec(
        "field_narrow",
        "Narrow field",
        "isced_narrow",
        filter_field="isced",
        parent="field",
        pattern=ISCED,
        pattern_hint=ISCED_HINT,
    ),
    FacetSpec(
        "field_detailed",
        "Detailed field",
        "isced_detailed",
        filter_field="isced",
        parent="field_narrow",
        pattern=ISCED,
        pattern_hint=ISCED_HINT,
    ),
    FacetSpec("start", "Start date", "start_day", ranges=START_RANGES, relative=True),
    FacetSpec("provider", "Provider", "provider_key", size=200),  # the page shows 8, then "show all"
    FacetSpec("ects", "Workload (ECTS)", "ects", ranges=ECTS_RANGES),
    FacetSpec("price", "Price", "price", ranges=PRICE_RANGES),
    FacetSpec("funding", "Funding eligibility", "eligible"),  # values: eligibility scheme ids
    FacetSpec(
        "skill", "Skill (ESCO)", "skills", size=30, pattern=r"https?://.+", pattern_hint="an ESCO skill URI"
    ),  # values: ESCO skill URIs of published links (stated, or inferred above the threshold)
)
FACETS_BY_NAME: Mapping[str, FacetSpec] = MappingProxyType({f.name: f for f in FACETS})
LABELLED_FIELDS: Mapping[str, str] = MappingProxyType(
    {"provider_key": "provider", "region_keys": "regions", "city_keys": "cities"}
)
"""Slug facet field -> the card field holding the published names the slugs were made from."""


def facet_ranges(spec: FacetSpec, query: Query) -> tuple[Range, ...]:
    """The buckets of a range facet for `query`, with absolute bounds (day numbers for a
    `relative` facet: `date.toordinal()`)."""
    if not spec.relative:
        return spec.ranges
    base = (query.today or date.today()).toordinal()
    resolved = []
    for r in spec.ranges:
        if r.absolute:
            resolved.append(r)
        else:
            low = None if r.low is None else base + r.low
            high = UNDATED_DAY if r.high is None else base + r.high
            resolved.append(Range(r.key, r.label, low, high))
    return tuple(resolved)


def range_aggregation(spec: FacetSpec, query: Query, only: Collection[str] | None = None) -> dict[str, Any]:
    """The Elasticsearch-style range aggregation of a range facet (of its buckets keyed in
    `only`, when given); tantivy and OpenSearch both take this JSON, so both engines count the
    same buckets."""
    ranges = []
    for bucket in facet_ranges(spec, query):
        if only is not None and bucket.key not in only:
            continue
        entry: dict[str, Any] = {"key": bucket.key}
        if bucket.low is not None:
            entry["from"] = float(bucket.low)
        if bucket.high is not None:
            entry["to"] = float(bucket.high)
        ranges.append(entry)
    return {"range": {"field": spec.field, "ranges": ranges}}


def requested_facets(query: Query) -> tuple[FacetSpec, ...]:
    """The facets a result of `query` holds, in FACETS order: all of them unless
    `query.facets` names some (an empty tuple asks for none)."""
    if query.facets is None:
        return FACETS
    wanted = set(query.facets)
    return tuple(spec for spec in FACETS if spec.name in wanted)


def counted(spec: FacetSpec, query: Query) -> bool:
    """Whether `spec` is counted for `query`: always, unless it is a drill-down whose parent
    and itself have no selection."""
    return spec.parent is None or bool(query.filters.get(spec.parent) or query.filters.get(spec.name))


def keeps_value(spec: FacetSpec, query: Query, value: str) -> bool:
    """Whether a counted value of `spec` is listed: a drill-down lists only values extending a
    selected parent value (its own selected values are always listed by the caller)."""
    parents = query.filters.get(spec.parent, ()) if spec.parent else ()
    if not parents:
        return True
    return any(value != p and value.startswith(p) for p in parents)


SORTS = ("relevance", "start_date", "ects", "price", "title", "distance")
""""distance" needs `Query.near`; "relevance" without search words orders by start date."""


@dataclass(frozen=True)
class Query:
    """A validated search request. Build it with `Query.create`, which raises QueryError on bad input.

    Filters: facet name -> selected values; values of one facet are OR-ed, facets are AND-ed.
    `text` is user text, never query syntax: backends must escape or tokenise it themselves.
    `near` (lat, lon in WGS84 degrees) keeps only courses with a geo point (on-site courses
    with coordinates) within `within_km` of it. `cursor` is the `next_cursor` of the previous
    page of the same search: with it, `page` is ignored and the page after that one is returned.
    """

    text: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    page: int = 1
    page_size: int = 20
    sort: str = "relevance"
    include_withdrawn: bool = False
    include_past: bool = False
    today: date | None = None  # "past" is judged against this; None means date.today()
    near: tuple[float, float] | None = None
    within_km: float | None = None
    cursor: str | None = None
    facets: tuple[str, ...] | None = None
    retrieval: str = "keyword"
    any_words: bool = False
    """Find courses with any of the words instead of all (most): the fallback a search page
    offers when no course has them all (`search.assist`)."""

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
        if flags.get("facets") is not None:
            flags["facets"] = tuple(dict.fromkeys(name.strip() for name in flags["facets"] if name.strip()))
        if flags.get("near") is not None and flags.get("within_km") is None:
            flags["within_km"] = DEFAULT_RADIUS_KM
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
            if spec.pattern:
                wrong = [v for v in kept if not re.fullmatch(spec.pattern, v)]
                if wrong:
                    raise QueryError(f"{name} must be {spec.pattern_hint}, not {wrong[0][:40]!r}")
            if kept:
                clean[name] = kept
        _check_filter_count(sum(len(values) for values in clean.values()))
        query = cls(text, MappingProxyType(clean), page, page_size, sort, **flags)
        _check_options(query)
        return query

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
    _check_filter_count(sum(len(values) for values in query.filters.values()))
    _check_options(query)


def _check_filter_count(count: int) -> None:
    if count > MAX_FILTER_VALUES:
        raise QueryError(f"a search takes at most {MAX_FILTER_VALUES} filter values, not {count}")


def _check_options(query: Query) -> None:
    if query.retrieval not in RETRIEVALS:
        raise QueryError(f"retrieval must be one of {', '.join(RETRIEVALS)}")
    unknown_facets = [name for name in query.facets or () if name not in FACETS_BY_NAME]
    if unknown_facets:
        raise QueryError(f"unknown facet {unknown_facets[0]!r}; facets are {', '.join(FACETS_BY_NAME)}")
    if query.near is not None:
        lat, lon = query.near
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise QueryError("near must be a latitude (-90..90) and a longitude (-180..180)")
    if query.within_km is not None:
        if query.near is None:
            raise QueryError("within_km needs near")
        if not (math.isfinite(query.within_km) and 0 < query.within_km <= MAX_RADIUS_KM):
            raise QueryError(f"within_km must be more than 0 and at most {MAX_RADIUS_KM:g}")
    if query.sort == "distance" and query.near is None:
        raise QueryError("sort=distance needs near")
    if query.cursor is not None:
        read_cursor(query)  # raises QueryError when it is not a cursor of this search


@dataclass(frozen=True)
class Cursor:
    """Where the previous page of a search ended (search_after semantics).

    `after`: the backend's sort values of the last hit, the id (or an id-ending key) last, so
    hits that did not change are neither repeated nor skipped when others are added. `seen`:
    hits delivered before the next page (its position). Backends whose engine cannot continue
    after a relevance score store no `after` and continue at offset `seen` instead."""

    sort: str
    after: tuple[Any, ...]
    seen: int


def make_cursor(query: Query, sort: str, after: tuple[Any, ...], seen: int) -> str:
    """The opaque token of a Cursor, bound to `query`'s search (text, filters, sort, geo, flags)."""
    payload = [_fingerprint(query), sort, list(after), seen]
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(query: Query) -> Cursor | None:
    """The Cursor of `query.cursor`; QueryError when it is malformed or from another search."""
    if query.cursor is None:
        return None
    decoded = _decode(query.cursor)
    if decoded is None:
        raise QueryError("cursor is not valid; start again from the first page")
    fingerprint, cursor = decoded
    if fingerprint != _fingerprint(query):
        raise QueryError("cursor belongs to another search; start again from the first page")
    return cursor


def _decode(token: str) -> tuple[str, Cursor] | None:
    """The fingerprint and Cursor of a token made by `make_cursor`; None for anything else (a
    token that is too long, not strict base64url, not the JSON shape, or holds other types)."""
    if len(token) > MAX_CURSOR_LENGTH:
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        fingerprint, sort, after, seen = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        return None
    valid = (
        isinstance(fingerprint, str)
        and isinstance(sort, str)
        and isinstance(after, list)
        and all(_sort_value(value) for value in after)
        and type(seen) is int
        and 0 <= seen <= MAX_CURSOR_POSITION
    )
    return (fingerprint, Cursor(sort, tuple(after), seen)) if valid else None


def _sort_value(value: Any) -> bool:
    """What `make_cursor` writes as a sort value: text, a finite number (not a bool) or null."""
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    return (isinstance(value, int) and abs(value) < 2**63) or (
        isinstance(value, float) and math.isfinite(value)
    )


def _fingerprint(query: Query) -> str:
    parts = [
        query.text,
        sorted((k, list(v)) for k, v in query.filters.items()),
        query.sort,
        query.page_size,
        query.include_withdrawn,
        query.include_past,
        str(query.today),
        list(query.near) if query.near else None,
        query.within_km,
        query.retrieval,
        query.any_words,
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:12]


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
    distance_km: float | None = None  # from Query.near, when given


@dataclass(frozen=True)
class SearchResult:
    query: Query
    total: int
    hits: tuple[Hit, ...]
    facets: tuple[Facet, ...]
    next_cursor: str | None = None  # the cursor of the next page; None after the last hit
    offset: int | None = None  # hits before this page; None means query.offset (no cursor)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))

    @property
    def start(self) -> int:
        """Hits before this page (for numbering the hits)."""
        return self.query.offset if self.offset is None else self.offset
