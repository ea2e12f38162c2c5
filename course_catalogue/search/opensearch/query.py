"""Translate a `search.query.Query` into one OpenSearch `_search` request body.

User text is never query syntax here either: it is cut into words and "quoted phrases" by the
same `split_text` the embedded engine uses, and each one becomes `match` / `match_phrase`
clauses (never `query_string` or `simple_query_string`), which the engine analyses with each
field's own analyzer. The relevance policy is the embedded engine's, shared through
`search.analysis`: per word a `dis_max` over the per-language title (x3), outcomes (x1.5)
and description (x1) fields, provider (x2) and keywords (x1.5), plus a fuzzy match on the
folded titles at 0.5 (edit distance 1 for 5-8 letters, 2 for longer: fuzziness "AUTO:5,9");
all words must match, stop words are optional, and with four or more words one in four may
be missing. Stop words are recognised client-side with the Snowball lists tantivy ships, so
both engines agree on them.

Facet filters go to `post_filter` (so hits are filtered but counting is not), and every facet
is counted inside a `filter` aggregation holding the OTHER facets' filters: its own selection
never narrows its own counts. Visibility (withdrawn, past) and the geo radius are plain query
filters and apply to hits and counts alike. Drill-down facets (`FacetSpec.parent`) are only
aggregated when `search.query.counted` says so.

Sorting uses the embedded engine's keyword sort keys (ending in the id) and, for relevance and
distance, the id as tie-break; a cursor continues with `search_after` on the same sort values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from course_catalogue.search.analysis import (
    FIELD_BOOSTS,
    FOLDED_BOOSTS,
    FUZZY_BOOST,
    FUZZY_FIELD,
    TIE_BREAKER,
    build_stopword_analyzers,
    split_text,
)
from course_catalogue.search.documents import CARD_FIELDS, LANGUAGES
from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import (
    FACETS_BY_NAME,
    FacetSpec,
    Query,
    counted,
    facet_ranges,
    range_aggregation,
    read_cursor,
    requested_facets,
)
from course_catalogue.search.snippets import SNIPPET_CHARS

MAX_WORDS = 8
"""Fewer than the embedded engine's 32: each word expands to ~50 field clauses plus fuzzy
expansions, and OpenSearch rejects queries over `indices.query.bool.max_clause_count` (1024)."""
MAX_TOKEN = 40  # the index analyzers' `length` filter drops longer tokens
FUZZINESS = "AUTO:5,9"  # none under 5 letters, 1 edit up to 8, 2 from 9: `fuzzy_distance`'s rule
HIGHLIGHT_START = "\ue000"  # private-use characters as highlight tags: the engine's output is
HIGHLIGHT_END = "\ue001"  # then escaped by us, never trusted as HTML (see opensearch.results)
LABEL_FIELDS: Mapping[str, str] = {
    "provider_key": "provider.raw",
    "region_keys": "regions",
    "city_keys": "cities",
}
"""Slug facet field -> keyword field of the published names (a sub-aggregation labels buckets)."""
LABEL_CANDIDATES = 10  # names per bucket: a course in several cities has several
SOURCE_FIELDS = (*CARD_FIELDS, "description_*")
SORTS: Mapping[str, list[Any]] = {
    # The embedded engine's sort keys: missing values last, ties by title then id (start date)
    # or by id, so paging is stable and a cursor needs one value.
    "start_date": [{"sort_start": "asc"}],
    "ects": [{"sort_ects": "asc"}],
    "price": [{"sort_price": "asc"}],
    "title": [{"sort_title": "asc"}],
    "relevance": [{"_score": "desc"}, {"id": "asc"}],
}


class RequestBuilder:
    """Builds `_search` bodies. Holds the stop-word analyzers, so make one and reuse it."""

    def __init__(self) -> None:
        self._stopwords = build_stopword_analyzers()

    def body(self, query: Query) -> dict[str, Any]:
        """The whole request: text, visibility, geo, post_filter, facet aggregations, sort, page.

        With a cursor: `search_after` its sort values (QueryError if it was made for another
        sort). `effective_sort(body)` names the sort used."""
        text = self.text(query.text)
        filters = facet_filters(query)
        body: dict[str, Any] = {
            "query": {
                "bool": {"must": [text or {"match_all": {}}], "filter": visibility(query) + geo(query)}
            },
            "from": query.offset,
            "size": query.page_size,
            "track_total_hits": True,
            "_source": {"includes": list(SOURCE_FIELDS)},
        }
        aggregations = facet_aggregations(query, filters)
        if aggregations:
            body["aggs"] = aggregations
        if filters:
            body["post_filter"] = {"bool": {"filter": list(filters.values())}}
        sort = "start_date" if text is None and query.sort == "relevance" else query.sort
        body["sort"] = sort_clauses(sort, query)
        cursor = read_cursor(query)
        if cursor is not None:
            if cursor.sort != sort or len(cursor.after) != len(body["sort"]):
                raise QueryError("cursor belongs to another search; start again from the first page")
            body["from"] = 0
            body["search_after"] = list(cursor.after)
        if text is not None:
            body["highlight"] = highlight()
        return body

    def text(self, text: str) -> dict[str, Any] | None:
        """The query for user text, or None when it holds no searchable word (match all)."""
        required: list[dict[str, Any]] = []
        optional: list[dict[str, Any]] = []
        for chunk, is_phrase in split_text(text)[:MAX_WORDS]:
            if not is_phrase and len(chunk) > MAX_TOKEN:
                continue  # the index drops such tokens too (hashes, URLs): it could never match
            clause = word_clause(chunk, phrase=is_phrase)
            (optional if not is_phrase and self.is_stopword(chunk) else required).append(clause)
        if not required:
            required, optional = optional, []
        if not required:
            return None
        core: dict[str, Any]
        if len(required) == 1:
            core = required[0]
        elif len(required) < 4:
            core = {"bool": {"must": required}}
        else:
            core = {"bool": {"should": required, "minimum_should_match": len(required) - len(required) // 4}}
        return {"bool": {"must": [core], "should": optional}} if optional else core

    def is_stopword(self, word: str) -> bool:
        """A stop word of any language tantivy has a list for (as the embedded engine judges)."""
        return any(not analyzer.analyze(word) for analyzer in self._stopwords)


def word_clause(chunk: str, *, phrase: bool) -> dict[str, Any]:
    """The fields competing for one word (or phrase): best field wins, the others add a little."""
    kind = "match_phrase" if phrase else "match"
    clauses: list[dict[str, Any]] = [
        {kind: {f"{field}_{lang}": {"query": chunk, "boost": boost}}}
        for field, boost in FIELD_BOOSTS.items()
        for lang in LANGUAGES
    ]
    clauses += [{kind: {field: {"query": chunk, "boost": boost}}} for field, boost in FOLDED_BOOSTS.items()]
    if not phrase:
        fuzzy = {"query": chunk, "fuzziness": FUZZINESS, "boost": FUZZY_BOOST}
        clauses.append({"match": {FUZZY_FIELD: fuzzy}})
    return {"dis_max": {"queries": clauses, "tie_breaker": TIE_BREAKER}}


def sort_clauses(sort: str, query: Query) -> list[dict[str, Any]]:
    """The `sort` of an effective sort name ("relevance" only with search words)."""
    if sort == "distance" and query.near is not None:
        lat, lon = query.near
        point = {"lat": lat, "lon": lon}
        return [{"_geo_distance": {"geo": point, "order": "asc", "unit": "km"}}, {"id": "asc"}]
    return SORTS[sort]


def effective_sort(body: Mapping[str, Any]) -> str:
    """The sort name a body built by `RequestBuilder.body` uses (for its cursors)."""
    first = body["sort"][0]
    if "_geo_distance" in first:
        return "distance"
    if "_score" in first:
        return "relevance"
    return next(name for name, clauses in SORTS.items() if clauses[0] == first)


def geo(query: Query) -> list[dict[str, Any]]:
    """Keep courses with a geo point within `within_km` of `near` (none without `near`)."""
    if query.near is None or query.within_km is None:
        return []
    lat, lon = query.near
    return [{"geo_distance": {"distance": f"{query.within_km}km", "geo": {"lat": lat, "lon": lon}}}]


def facet_filters(query: Query) -> dict[str, dict[str, Any]]:
    """Facet name -> the filter of its selected values (values of one facet are OR-ed)."""
    return {name: facet_filter(FACETS_BY_NAME[name], values, query) for name, values in query.filters.items()}


def facet_filter(spec: FacetSpec, values: Sequence[str], query: Query) -> dict[str, Any]:
    if not spec.ranges:
        return {"terms": {spec.filter_on: list(values)}}
    ranges = [range_filter(spec.field, r.low, r.high) for r in facet_ranges(spec, query) if r.key in values]
    return {"bool": {"should": ranges, "minimum_should_match": 1}}


def range_filter(field: str, low: float | None, high: float | None) -> dict[str, Any]:
    """Documents whose `field` is in [low, high); None is open-ended."""
    bounds: dict[str, float] = {}
    if low is not None:
        bounds["gte"] = float(low)
    if high is not None:
        bounds["lt"] = float(high)
    return {"range": {field: bounds}}


def visibility(query: Query) -> list[dict[str, Any]]:
    """Hide withdrawn and past courses unless the query asks for them.

    A course is past after `visible_until` (its end date); without one it never expires, even
    once it has started.
    """
    clauses: list[dict[str, Any]] = []
    if not query.include_withdrawn:
        clauses.append({"term": {"status": "active"}})
    if not query.include_past:
        today = (query.today or date.today()).isoformat()
        current = {"range": {"visible_until": {"gte": today}}}
        undated = {"bool": {"must_not": [{"exists": {"field": "visible_until"}}]}}
        clauses.append({"bool": {"should": [current, undated], "minimum_should_match": 1}})
    return clauses


def facet_aggregations(query: Query, filters: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One `filter` aggregation per facet, holding every filter but the facet's own.

    Inside: "values" (terms or range buckets) and, for a selected terms facet, "selected": a
    `filters` aggregation counting each selected value exactly, even when it falls outside
    the top `size` terms or matches nothing. Provider buckets carry their display name.
    """
    aggregations: dict[str, Any] = {}
    for spec in requested_facets(query):
        if not counted(spec, query):
            continue
        others = [clause for name, clause in filters.items() if name != spec.name]
        inner: dict[str, Any] = {"values": _values_aggregation(spec, query)}
        selected = query.filters.get(spec.name, ())
        if selected and not spec.ranges:
            keyed = {str(i): {"term": {spec.filter_on: value}} for i, value in enumerate(selected)}
            inner["selected"] = {"filters": {"filters": keyed}}
            if spec.field in LABEL_FIELDS:
                inner["selected"]["aggs"] = {"label": _label_aggregation(spec.field)}
        scope = {"bool": {"filter": others}} if others else {"match_all": {}}
        aggregations[spec.name] = {"filter": scope, "aggs": inner}
    return aggregations


def _values_aggregation(spec: FacetSpec, query: Query) -> dict[str, Any]:
    if spec.ranges:
        return range_aggregation(spec, query)
    terms: dict[str, Any] = {"terms": {"field": spec.field, "size": spec.size}}
    if spec.field in LABEL_FIELDS:
        terms["aggs"] = {"label": _label_aggregation(spec.field)}
    return terms


def _label_aggregation(field: str) -> dict[str, Any]:
    return {"terms": {"field": LABEL_FIELDS[field], "size": LABEL_CANDIDATES}}


def highlight() -> dict[str, Any]:
    """Highlight the description in whichever language fields matched (one fragment each)."""
    return {
        "pre_tags": [HIGHLIGHT_START],
        "post_tags": [HIGHLIGHT_END],
        "require_field_match": True,
        "fields": {
            f"description_{lang}": {"number_of_fragments": 1, "fragment_size": SNIPPET_CHARS}
            for lang in LANGUAGES
        },
    }
