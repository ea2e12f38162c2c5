"""Translate a `search.query.Query` into one OpenSearch `_search` request body.

User text is never query syntax here either: it is cut into words and "quoted phrases" by the
same `split_text` the embedded engine uses, and each one becomes `match` / `match_phrase`
clauses (never `query_string` or `simple_query_string`), which the engine analyses with each
field's own analyzer. The relevance policy is the embedded engine's, shared through
`search.tantivy_query`: per word a `dis_max` over the per-language title (x3), outcomes (x1.5)
and description (x1) fields, provider (x2) and keywords (x1.5), plus a fuzzy match on the
folded titles at 0.5 (edit distance 1 for 5-8 letters, 2 for longer: fuzziness "AUTO:5,9");
all words must match, stop words are optional, and with four or more words one in four may
be missing. Stop words are recognised client-side with the Snowball lists tantivy ships, so
both engines agree on them.

Facet filters go to `post_filter` (so hits are filtered but counting is not), and every facet
is counted inside a `filter` aggregation holding the OTHER facets' filters: its own selection
never narrows its own counts. Visibility (withdrawn, past) is a plain query filter and applies
to hits and counts alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from search.documents import CARD_FIELDS, OTHER, STEMMERS
from search.query import FACETS, FACETS_BY_NAME, FacetSpec, Query
from search.tantivy_hits import SNIPPET_CHARS
from search.tantivy_index import build_stopword_analyzers
from search.tantivy_query import (
    FIELD_BOOSTS,
    FILTER_FIELDS,
    FOLDED_BOOSTS,
    FUZZY_BOOST,
    FUZZY_FIELD,
    TIE_BREAKER,
    split_text,
)

LANGUAGES: tuple[str, ...] = (*STEMMERS, OTHER)
MAX_WORDS = 8
"""Fewer than the embedded engine's 32: each word expands to ~50 field clauses plus fuzzy
expansions, and OpenSearch rejects queries over `indices.query.bool.max_clause_count` (1024)."""
MAX_TOKEN = 40  # the index analyzers' `length` filter drops longer tokens
FUZZINESS = "AUTO:5,9"  # none under 5 letters, 1 edit up to 8, 2 from 9: `fuzzy_distance`'s rule
HIGHLIGHT_START = "\ue000"  # private-use characters as highlight tags: the engine's output is
HIGHLIGHT_END = "\ue001"  # then escaped by us, never trusted as HTML (see opensearch_results)
PROVIDER_LABEL_FIELD = "provider.raw"
SOURCE_FIELDS = (*CARD_FIELDS, "description_*")
SORTS: Mapping[str, list[Any]] = {
    # Missing values sort last; ties are broken by title then id (as the embedded sort keys do),
    # so paging is stable.
    "start_date": [
        {"start_date": {"order": "asc", "missing": "_last"}},
        {"sort_title": "asc"},
        {"id": "asc"},
    ],
    "ects": [{"ects": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
    "price": [{"price": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
    "title": [{"sort_title": "asc"}, {"id": "asc"}],
    "relevance": [{"_score": "desc"}, {"id": "asc"}],
}


class RequestBuilder:
    """Builds `_search` bodies. Holds the stop-word analyzers, so make one and reuse it."""

    def __init__(self) -> None:
        self._stopwords = build_stopword_analyzers()

    def body(self, query: Query) -> dict[str, Any]:
        """The whole request: text, visibility, post_filter, facet aggregations, sort, page."""
        text = self.text(query.text)
        filters = facet_filters(query)
        body: dict[str, Any] = {
            "query": {"bool": {"must": [text or {"match_all": {}}], "filter": visibility(query)}},
            "from": query.offset,
            "size": query.page_size,
            "track_total_hits": True,
            "_source": {"includes": list(SOURCE_FIELDS)},
            "aggs": facet_aggregations(query, filters),
        }
        if filters:
            body["post_filter"] = {"bool": {"filter": list(filters.values())}}
        if text is None and query.sort == "relevance":
            body["sort"] = SORTS["start_date"]  # nothing to rank by: soonest first
        else:
            body["sort"] = SORTS[query.sort]
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


def facet_filters(query: Query) -> dict[str, dict[str, Any]]:
    """Facet name -> the filter of its selected values (values of one facet are OR-ed)."""
    return {name: facet_filter(FACETS_BY_NAME[name], values) for name, values in query.filters.items()}


def facet_filter(spec: FacetSpec, values: Sequence[str]) -> dict[str, Any]:
    if not spec.ranges:
        return {"terms": {FILTER_FIELDS.get(spec.name, spec.field): list(values)}}
    ranges = [range_filter(spec.field, r.low, r.high) for r in spec.ranges if r.key in values]
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

    A course is past after `visible_until` (its end date, else its start date); without
    either date it never expires.
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
    for spec in FACETS:
        others = [clause for name, clause in filters.items() if name != spec.name]
        inner: dict[str, Any] = {"values": _values_aggregation(spec)}
        selected = query.filters.get(spec.name, ())
        if selected and not spec.ranges:
            field = FILTER_FIELDS.get(spec.name, spec.field)
            keyed = {str(i): {"term": {field: value}} for i, value in enumerate(selected)}
            inner["selected"] = {"filters": {"filters": keyed}}
            if spec.field == "provider_key":
                inner["selected"]["aggs"] = {"label": _label_aggregation()}
        scope = {"bool": {"filter": others}} if others else {"match_all": {}}
        aggregations[spec.name] = {"filter": scope, "aggs": inner}
    return aggregations


def _values_aggregation(spec: FacetSpec) -> dict[str, Any]:
    if spec.ranges:
        ranges = []
        for bucket in spec.ranges:
            entry: dict[str, Any] = {"key": bucket.key}
            if bucket.low is not None:
                entry["from"] = float(bucket.low)
            if bucket.high is not None:
                entry["to"] = float(bucket.high)
            ranges.append(entry)
        return {"range": {"field": spec.field, "ranges": ranges}}
    terms: dict[str, Any] = {"terms": {"field": spec.field, "size": spec.size}}
    if spec.field == "provider_key":
        terms["aggs"] = {"label": _label_aggregation()}
    return terms


def _label_aggregation() -> dict[str, Any]:
    return {"terms": {"field": PROVIDER_LABEL_FIELD, "size": 1}}


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
