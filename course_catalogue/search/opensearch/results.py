"""Read an OpenSearch `_search` response back into a `search.query.SearchResult`.

Snippets: the engine marks highlights with private-use characters (HIGHLIGHT_START/END), never
with HTML; here every character of the fragment is escaped and only the marks become <b> tags,
so the snippet is safe whatever the engine or the description holds. Like the embedded engine,
the description in English, then in the course's languages, is preferred; without a highlight
the snippet is the start of that description.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from course_catalogue.search.documents import CARD_FIELDS, LANGUAGES, OTHER, provider_key, text_language
from course_catalogue.search.facet_values import facet_from_counts, vocabulary_label
from course_catalogue.search.geo import hit_distance
from course_catalogue.search.opensearch.query import HIGHLIGHT_END, HIGHLIGHT_START, effective_sort
from course_catalogue.search.query import (
    Facet,
    Hit,
    Query,
    SearchResult,
    counted,
    keeps_value,
    make_cursor,
    read_cursor,
    requested_facets,
)
from course_catalogue.search.snippets import excerpt, shape


def read_result(query: Query, response: Mapping[str, Any], body: Mapping[str, Any]) -> SearchResult:
    """The SearchResult of `query` from the response to `body` (whose sort says whether hits
    were ranked, and gives the next cursor its search_after values)."""
    found = response.get("hits") or {}
    total = found.get("total") or {}
    count = int((total.get("value", 0) if isinstance(total, Mapping) else total) or 0)
    sort = effective_sort(body)
    raw_hits = found.get("hits") or ()
    hits = tuple(read_hit(raw, query, scored=sort == "relevance") for raw in raw_hits)
    facets = read_facets(query, response.get("aggregations") or {})
    cursor = read_cursor(query)
    start = cursor.seen if cursor is not None else query.offset
    next_cursor = None
    if raw_hits and start + len(hits) < count and raw_hits[-1].get("sort") is not None:
        next_cursor = make_cursor(query, sort, tuple(raw_hits[-1]["sort"]), start + len(hits))
    return SearchResult(query, count, hits, facets, next_cursor=next_cursor, offset=start)


def read_hit(raw: Mapping[str, Any], query: Query, *, scored: bool) -> Hit:
    source: Mapping[str, Any] = raw.get("_source") or {}
    card = {name: source.get(name) for name in CARD_FIELDS}
    card["id"] = card.get("id") or raw.get("_id")
    score = raw.get("_score") if scored else None
    return Hit(
        id=str(card["id"]),
        score=float(score or 0.0),
        fields=MappingProxyType(card),
        snippet=_snippet(source, raw.get("highlight") or {}),
        distance_km=hit_distance(query, card.get("geo")),
    )


def _snippet(source: Mapping[str, Any], highlights: Mapping[str, Sequence[str]]) -> str | None:
    fields = [f for f in _description_fields(source.get("languages") or []) if source.get(f)]
    for field in fields:
        fragments = highlights.get(field)
        if fragments:
            plain, ranges = unmark(fragments[0])
            return shape(plain, ranges, str(source[field]))
    if not fields:
        return None
    return html.escape(excerpt(str(source[fields[0]])))


def unmark(fragment: str) -> tuple[str, list[tuple[int, int]]]:
    """A fragment marked with HIGHLIGHT_START/END as its plain text and the character ranges
    of its highlights (stray or unbalanced marks are dropped)."""
    plain: list[str] = []
    ranges: list[tuple[int, int]] = []
    length, opened = 0, None
    for piece in _split_marks(fragment):
        if piece == HIGHLIGHT_START:
            opened = length if opened is None else opened
        elif piece == HIGHLIGHT_END:
            if opened is not None and length > opened:
                ranges.append((opened, length))
            opened = None
        else:
            plain.append(piece)
            length += len(piece)
    if opened is not None and length > opened:
        ranges.append((opened, length))
    return "".join(plain), ranges


def _split_marks(fragment: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    for char in fragment:
        if char in (HIGHLIGHT_START, HIGHLIGHT_END):
            pieces += ["".join(current), char]
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return [p for p in pieces if p]


def _description_fields(languages: Sequence[str]) -> list[str]:
    # English first (the display language of the UI), then the course's languages, then the rest.
    preferred = ["en", *(text_language(code) for code in languages), OTHER, *LANGUAGES]
    return [f"description_{lang}" for lang in dict.fromkeys(preferred)]


def read_facets(query: Query, aggregations: Mapping[str, Any]) -> tuple[Facet, ...]:
    """Every facet of `requested_facets(query)` from the per-facet `filter` aggregations
    (see opensearch.query)."""
    facets = []
    for spec in requested_facets(query):
        if not counted(spec, query):
            facets.append(Facet(spec.name, spec.label, ()))
            continue
        node: Mapping[str, Any] = aggregations.get(spec.name) or {}
        selected = query.filters.get(spec.name, ())
        buckets = (node.get("values") or {}).get("buckets") or ()
        counts = {
            str(b["key"]): int(b["doc_count"]) for b in buckets if keeps_value(spec, query, str(b["key"]))
        }
        labels = {str(b["key"]): _bucket_label(b, str(b["key"])) for b in buckets}
        if spec.ranges:
            declared = {r.key for r in spec.ranges}
            counts = {key: n for key, n in counts.items() if key in declared}
        else:
            exact = (node.get("selected") or {}).get("buckets") or {}
            for index, value in enumerate(selected):
                bucket = exact.get(str(index)) or {}
                counts.setdefault(value, int(bucket.get("doc_count", 0)))
                labels.setdefault(value, _bucket_label(bucket, value))

        def label(name: str, value: str, labels: Mapping[str, str | None] = labels) -> str:
            return labels.get(value) or vocabulary_label(name, value)

        facets.append(facet_from_counts(spec, counts, selected, label))
    return tuple(facets)


def _bucket_label(bucket: Mapping[str, Any], key: str) -> str | None:
    """The published name a slug bucket carries (its `label` sub-aggregation): the one whose
    slug is the key (a course in two cities has both names), else None."""
    names = [str(b["key"]) for b in (bucket.get("label") or {}).get("buckets") or ()]
    return next((name for name in names if provider_key(name) == key), names[0] if names else None)
