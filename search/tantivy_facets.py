"""Facet counts on tantivy with Elasticsearch-style aggregations, declared by `search.query.FACETS`.

A facet's counts exclude that facet's own filter (so the other values of a selected facet stay
visible with the counts they would get). All counts come from ONE aggregation pass over the
documents matching the text and visibility: facets without a selection are counted inside
nested `filter` buckets of every filter, and each selected facet inside those of the other
facets' filters (see `_request`: the chains share prefixes). The text query so runs once; each
filter bucket costs a pass over its filter's postings. Selected values are always listed, with
their count and selected=True.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tantivy

from catalogue.vocabularies import (
    SCHEDULES,
    country_label,
    eqf_label,
    isced_label,
    language_label,
    mode_label,
)
from search.query import (
    Facet,
    FacetSpec,
    FacetValue,
    Query,
    counted,
    keeps_value,
    range_aggregation,
    requested_facets,
)
from search.tantivy_index import SLUG_FIELDS
from search.tantivy_query import FILTER_FIELDS, QueryBuilder, combine, filter_terms

Labeller = Callable[[str, str], str]
"""(facet name, value) -> display label."""
SlugResolver = Callable[[str, int], str | None]
"""(slug field, slug_hash) -> the slug it hashes, None when no visible course has it any more."""

_VOCABULARY_LABELS: Mapping[str, Callable[[str], str]] = {
    "country": country_label,
    "eqf": lambda value: eqf_label(int(value)) if value.isdigit() else value,
    "language": language_label,
    "mode": mode_label,
    "schedule": lambda value: SCHEDULES[value].label if value in SCHEDULES else value,
    "field": isced_label,
    "field_narrow": isced_label,
    "field_detailed": isced_label,
}
_MIN_SEGMENT_SIZE = 1000  # per-segment candidates; large enough for exact counts at our cardinalities


@functools.lru_cache(maxsize=4096)  # vocabularies are fixed; language labels go through pycountry
def vocabulary_label(name: str, value: str) -> str:
    """Label of a facet value from the EU vocabularies; the value itself when there is none."""
    label = _VOCABULARY_LABELS.get(name)
    return label(value) if label else value


def count_facets(
    searcher: tantivy.Searcher,
    builder: QueryBuilder,
    query: Query,
    text: tantivy.Query | None,
    filters: Mapping[str, tantivy.Query],
    labeller: Labeller,
    slugs: SlugResolver,
    scope: Sequence[tantivy.Query] = (),
) -> tuple[Facet, ...]:
    """Every facet of `requested_facets(query)`, each counted without its own filter; `scope`: more
    filters for hits and counts alike (the geo radius). A drill-down facet that is not
    `counted` comes back without values. Slug facets (SLUG_FIELDS) are counted on their hash
    field and mapped back through `slugs`."""
    visibility = [*builder.visibility(query), *scope]
    expressions = {
        name: builder.filter_expression(name, values, query) for name, values in query.filters.items()
    }
    request, where = _request(query, expressions, _filter_order(searcher, query, expressions))
    response = searcher.aggregate(combine(text, visibility), request) if request else {}
    facets = []
    for spec in requested_facets(query):
        if not counted(spec, query):
            facets.append(Facet(spec.name, spec.label, ()))
            continue
        result = _dig(response, where.get(spec.name, ()))
        counts = {v: n for v, n in _bucket_counts(spec, result, slugs).items() if keeps_value(spec, query, v)}
        selected = query.filters.get(spec.name, ())
        missing = [value for value in selected if value not in counts]
        if missing and spec.name not in FILTER_FIELDS and _complete(result):
            counts.update(dict.fromkeys(missing, 0))  # every non-zero value is listed: these are 0
        elif missing:
            narrowed = combine(text, [*visibility, *(q for n, q in filters.items() if n != spec.name)])
            counts.update(
                {value: _count_value(searcher, builder, spec, narrowed, value) for value in missing}
            )
        facets.append(facet_from_counts(spec, counts, selected, labeller))
    return tuple(facets)


def _request(
    query: Query, expressions: Mapping[str, str | None], order: Sequence[str]
) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """The aggregation request, and facet name -> path to its result in the response.

    Each group's facets need the documents passing every filter but the group's own, so each
    group is a chain of nested single-facet `filter` buckets in `order`, and groups share their
    common prefixes (a trie). tantivy materialises a filter bucket's filter over the whole index,
    so what costs is the number of trie nodes and how common their values are: `order` puts the
    most common filters first, where they appear once, and a selected facet's chain holds only
    the others."""
    request: dict[str, Any] = {}
    where: dict[str, tuple[str, ...]] = {}
    for specs, excluded in _groups(query):
        chain = [name for name in order if name != excluded]
        if any(expressions[name] is None for name in chain):
            continue  # a filter that can match nothing: every count of the group is 0
        node: dict[str, Any] = request
        path: tuple[str, ...] = ()
        for name in chain:
            key = f"only:{name}"
            node = node.setdefault(key, {"filter": expressions[name], "aggs": {}})["aggs"]
            path = (*path, key)
        for spec in specs:
            node[spec.name] = _aggregation(spec, query)
            where[spec.name] = (*path, spec.name)
    return request, where


def _filter_order(
    searcher: tantivy.Searcher, query: Query, expressions: Mapping[str, str | None]
) -> list[str]:
    """Selected facets, the costliest filter to materialise first: by the documents its values
    match (a range scan of a float column costs more than any posting list: first of all)."""

    def cost(name: str) -> float:
        terms = filter_terms(name, query.filters[name])
        if terms is None:
            return float("inf")
        field, keys = terms
        return float(sum(searcher.doc_freq(field, key) for key in keys))

    return sorted(expressions, key=lambda name: (-cost(name), name))


def _groups(query: Query) -> list[tuple[list[FacetSpec], str | None]]:
    """(facets, the filter they ignore): unselected facets together, each selected one alone;
    only the requested facets."""
    wanted = [spec for spec in requested_facets(query) if counted(spec, query)]
    unselected = [spec for spec in wanted if spec.name not in query.filters]
    groups: list[tuple[list[FacetSpec], str | None]] = [(unselected, None)] if unselected else []
    return groups + [([spec], spec.name) for spec in wanted if spec.name in query.filters]


def _dig(response: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any]:
    node: Any = response if path else {}
    for key in path:
        node = (node.get(key) or {}) if isinstance(node, Mapping) else {}
    return node if isinstance(node, Mapping) else {}


def _aggregation(spec: FacetSpec, query: Query) -> dict[str, Any]:
    if spec.ranges:
        return range_aggregation(spec, query)
    segment_size = max(spec.size * 10, _MIN_SEGMENT_SIZE)
    field = SLUG_FIELDS.get(spec.field, spec.field)
    return {"terms": {"field": field, "size": spec.size, "segment_size": segment_size}}


def _bucket_counts(spec: FacetSpec, result: Mapping[str, Any], slugs: SlugResolver) -> dict[str, int]:
    buckets = result.get("buckets", ())
    if spec.field in SLUG_FIELDS:
        resolved = ((slugs(spec.field, int(b["key"])), int(b["doc_count"])) for b in buckets)
        return {slug: n for slug, n in resolved if slug is not None}
    counts = {str(b["key"]): int(b["doc_count"]) for b in buckets}
    if spec.ranges:
        declared = {r.key for r in spec.ranges}
        return {key: n for key, n in counts.items() if key in declared}
    return counts


def _complete(result: Mapping[str, Any]) -> bool:
    """Whether a terms aggregation listed every value with a non-zero count."""
    return result.get("sum_other_doc_count") == 0 and result.get("doc_count_error_upper_bound") == 0


def _count_value(
    searcher: tantivy.Searcher, builder: QueryBuilder, spec: FacetSpec, scope: tantivy.Query, value: str
) -> int:
    """Count of a selected value the aggregation did not return (zero, or beyond `size`)."""
    if spec.ranges:
        return 0  # range aggregations return every declared bucket
    narrowed = combine(scope, [builder.term(FILTER_FIELDS.get(spec.name, spec.field), value)])
    return int(searcher.search(narrowed, 1, count=True).count)  # type: ignore[attr-defined]  # stub omits it


def facet_from_counts(
    spec: FacetSpec, counts: Mapping[str, int], selected: Sequence[str], labeller: Labeller
) -> Facet:
    """The Facet shown for `counts`: labelled, ordered, cut to `size`, selected values always kept."""
    chosen = set(selected)
    if spec.ranges:
        keys = [r.key for r in spec.ranges if counts.get(r.key, 0) > 0 or r.key in chosen]
        labels = {r.key: r.label for r in spec.ranges}
        values = [FacetValue(k, labels[k], counts.get(k, 0), k in chosen) for k in keys]
        return Facet(spec.name, spec.label, tuple(values))
    values = [FacetValue(v, labeller(spec.name, v), n, v in chosen) for v, n in counts.items()]
    if spec.name == "eqf":
        values.sort(key=lambda fv: (len(fv.value), fv.value))
    else:
        values.sort(key=lambda fv: (-fv.count, fv.label.casefold(), fv.value))
    # Keep `size` values, plus any selected value that fell outside them.
    kept = values[: spec.size] + [fv for fv in values[spec.size :] if fv.selected]
    return Facet(spec.name, spec.label, tuple(kept))
