"""Facet counts on tantivy with Elasticsearch-style aggregations, declared by `search.query.FACETS`.

A facet's counts exclude that facet's own filter (so the other values of a selected facet stay
visible with the counts they would get). All counts come from ONE aggregation pass over the
documents matching the text and visibility: facets without a selection are counted below a step
for every selected facet, and each selected facet below those of the others (see `_request`: the
chains share prefixes). A step is a `filter` bucket, or, when fewer documents can reach it than
its filter matches, a terms/range bucketing of the selected values (see `Step`). The text query
so runs once. Only the requested facets (`Query.facets`) are counted. Selected values are always
listed, with their count and selected=True.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tantivy

from course_catalogue.search.facet_values import Labeller, facet_from_counts
from course_catalogue.search.query import (
    FACETS_BY_NAME,
    Facet,
    FacetSpec,
    Query,
    counted,
    keeps_value,
    range_aggregation,
    requested_facets,
)
from course_catalogue.search.tantivy.index import ID_HASH, RAW_FIELDS, SINGLE_VALUED, SLUG_FIELDS, slug_hash
from course_catalogue.search.tantivy.query import FILTER_FIELDS, QueryBuilder, combine, filter_terms

Path = tuple[tuple[str, frozenset[str] | None], ...]
"""Where a facet's results are in an aggregation response: (aggregation name, the keys of the
buckets to descend into, None for a single-bucket `filter`) per level."""
SlugResolver = Callable[[str, int], str | None]
"""(slug field, slug_hash) -> the slug it hashes, None when no visible course has it any more."""

_MIN_SEGMENT_SIZE = 1000  # per-segment candidates; large enough for exact counts at our cardinalities
TOTAL = "count:total"  # counts the documents passing every filter (no facet name has a colon)


def count_facets(
    searcher: tantivy.Searcher,
    builder: QueryBuilder,
    query: Query,
    text: tantivy.Query | None,
    filters: Mapping[str, tantivy.Query],
    labeller: Labeller,
    slugs: SlugResolver,
    scope: Sequence[tantivy.Query] = (),
    reach: int | None = None,
) -> tuple[Facet, ...]:
    """Every facet of `requested_facets(query)`, each counted without its own filter; `scope`: more
    filters for hits and counts alike (the geo radius). A drill-down facet that is not
    `counted` comes back without values. Slug facets (SLUG_FIELDS) are counted on their hash
    field and mapped back through `slugs`. `reach`: at most how many documents the text
    matches (None: no text, every document); it decides how each filter is applied."""
    facets, _total = _count(searcher, builder, query, text, filters, labeller, slugs, scope, reach, False)
    return facets


def count_facets_and_total(
    searcher: tantivy.Searcher,
    builder: QueryBuilder,
    query: Query,
    text: tantivy.Query | None,
    filters: Mapping[str, tantivy.Query],
    labeller: Labeller,
    slugs: SlugResolver,
    scope: Sequence[tantivy.Query] = (),
    reach: int | None = None,
) -> tuple[tuple[Facet, ...], int]:
    """`count_facets`, and how many documents match `text` under visibility, `scope` and every
    filter (the result's total), counted in the same aggregation pass (a `value_count` of
    ID_HASH, which every document has once, below the chain of all filters) instead of a
    second search that would apply the text and the filters again."""
    result = _count(searcher, builder, query, text, filters, labeller, slugs, scope, reach, True)
    return result[0], int(result[1] or 0)


def _count(
    searcher: tantivy.Searcher,
    builder: QueryBuilder,
    query: Query,
    text: tantivy.Query | None,
    filters: Mapping[str, tantivy.Query],
    labeller: Labeller,
    slugs: SlugResolver,
    scope: Sequence[tantivy.Query],
    reach: int | None,
    with_total: bool,
) -> tuple[tuple[Facet, ...], int | None]:
    visibility = [*builder.visibility(query), *scope]
    total = int(searcher.num_docs)
    matched = {name: _matched(searcher, query, name, total) for name in query.filters}
    steps = {
        name: _step(name, values, builder, query, bucket=(total if reach is None else reach) < matched[name])
        for name, values in query.filters.items()
    }
    request, where = _request(query, steps, _step_order(steps, matched), with_total=with_total)
    response = searcher.aggregate(combine(text, visibility), request) if request else {}
    found = None
    if with_total:  # absent from `where` when a filter can match nothing: then none pass
        reached = _results(response, where[TOTAL]) if TOTAL in where else []
        found = sum(int(result.get("value") or 0) for result in reached)
    facets = []
    for spec in requested_facets(query):
        if not counted(spec, query):
            facets.append(Facet(spec.name, spec.label, ()))
            continue
        results = _results(response, where[spec.name]) if spec.name in where else None
        selected = query.filters.get(spec.name, ())
        summed = _summed_counts(spec, results or (), slugs, selected)
        counts = {v: n for v, n in summed.items() if keeps_value(spec, query, v)}
        missing = [value for value in selected if value not in counts]
        complete = results is not None and all(_complete(result) for result in results)
        if missing and spec.name not in FILTER_FIELDS and complete:
            counts.update(dict.fromkeys(missing, 0))  # every non-zero value is listed: these are 0
        elif missing:
            narrowed = combine(text, [*visibility, *(q for n, q in filters.items() if n != spec.name)])
            counts.update(
                {value: _count_value(searcher, builder, spec, narrowed, value) for value in missing}
            )
        facets.append(facet_from_counts(spec, counts, selected, labeller))
    return tuple(facets), found


@dataclass(frozen=True)
class Step:
    """How one selected facet narrows the documents in the trie of `_request`.

    Either a `filter` bucket of its filter expression (`keys` None), or a bucketing whose
    buckets `keys` are the selected values: a `terms` aggregation with `include`, or a `range`
    aggregation of the selected ranges (tantivy adds buckets for the gaps between them: those
    are skipped). What is counted below a bucketing is summed over its `keys` buckets; `wide`
    when there can be more than one.

    tantivy materialises a filter over the whole index (a value in 30% of a million courses
    costs ~1.5 ms, wherever it sits in the trie), while a bucketing reads one fast-field value
    per document that reaches it: after a text query, a few thousand. So a filter is bucketed
    when fewer documents can reach it than its filter matches, and where that is exact: where
    a document's buckets are disjoint (ranges, single-valued fields, or one selected value)."""

    request: Mapping[str, Any]
    keys: frozenset[str] | None = None
    wide: bool = False


def _step(
    name: str, values: Sequence[str], builder: QueryBuilder, query: Query, *, bucket: bool = True
) -> Step | None:
    """The Step of facet `name` selecting `values` (a bucketing if `bucket` and it is exact);
    None when nothing can match them."""
    spec = FACETS_BY_NAME[name]
    if bucket and spec.ranges:
        aggregation = range_aggregation(spec, query, only=values)
        chosen = frozenset(str(r["key"]) for r in aggregation["range"]["ranges"])
        return Step(aggregation, chosen, wide=len(chosen) > 1) if chosen else None
    terms = filter_terms(name, values)
    field, keys = terms if terms is not None else ("", [])
    if bucket and field in RAW_FIELDS and keys and (field in SINGLE_VALUED or len(keys) == 1):
        # `include` takes the values as data, never as query syntax: any string is safe here.
        bucketing = {"field": field, "size": len(keys), "segment_size": len(keys), "include": list(keys)}
        return Step({"terms": bucketing}, frozenset(keys), wide=len(keys) > 1)
    expression = builder.filter_expression(name, values, query)
    return None if expression is None else Step({"filter": expression})


def _request(
    query: Query, steps: Mapping[str, Step | None], order: Sequence[str], *, with_total: bool = False
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The aggregation request, and facet name -> path to its results in the response: the
    (name, bucket keys) of each step, then (facet name, None).

    Each group's facets need the documents passing every filter but the group's own, so each
    group is a chain of nested single-facet steps in `order`, and groups share their common
    prefixes (a trie): a selected facet's chain holds only the others. Terms counted below a
    `wide` step ask for every candidate (the buckets' counts are summed afterwards). With
    `with_total`, the chain of every filter also counts the documents that reach it (TOTAL):
    the buckets of its steps are disjoint, so their counts add up to the total."""
    request: dict[str, Any] = {}
    where: dict[str, Path] = {}
    groups = _groups(query)
    if with_total and not any(excluded is None for _specs, excluded in groups):
        groups.insert(0, ([], None))
    for specs, excluded in groups:
        chain = [name for name in order if name != excluded]
        if any(steps[name] is None for name in chain):
            continue  # a filter that can match nothing: every count of the group is 0
        node: dict[str, Any] = request
        path: Path = ()
        wide = False
        for name in chain:
            step = steps[name]
            assert step is not None  # checked above
            key = f"only:{name}"
            node = node.setdefault(key, {**step.request, "aggs": {}})["aggs"]
            path = (*path, (key, step.keys))
            wide = wide or step.wide
        for spec in specs:
            node[spec.name] = _aggregation(spec, query, wide=wide)
            where[spec.name] = (*path, (spec.name, None))
        if with_total and excluded is None:
            node[TOTAL] = {"value_count": {"field": ID_HASH}}
            where[TOTAL] = (*path, (TOTAL, None))
    return request, where


def _matched(searcher: tantivy.Searcher, query: Query, name: str, total: int) -> int:
    """How many documents the filter of facet `name` matches (summed over its values): what
    materialising it costs. A filter on a float column (start dates) scans it: `total`."""
    terms = filter_terms(name, query.filters[name])
    if terms is None:
        return total
    field, keys = terms
    return sum(int(searcher.doc_freq(field, key)) for key in keys)


def _step_order(steps: Mapping[str, Step | None], matched: Mapping[str, int]) -> list[str]:
    """Selected facets in trie order. Filters first, the costliest to materialise first, so it
    is built once at the root; then bucketings, the most selective first, so fewer documents
    reach the deeper ones."""

    def rank(name: str) -> tuple[int, int, str]:
        step = steps[name]
        if step is None or step.keys is None:
            return (0, -matched[name], name)
        return (1, matched[name], name)

    return sorted(steps, key=rank)


def _groups(query: Query) -> list[tuple[list[FacetSpec], str | None]]:
    """(facets, the filter they ignore): unselected facets together, each selected one alone;
    only the requested facets."""
    wanted = [spec for spec in requested_facets(query) if counted(spec, query)]
    unselected = [spec for spec in wanted if spec.name not in query.filters]
    groups: list[tuple[list[FacetSpec], str | None]] = [(unselected, None)] if unselected else []
    return groups + [([spec], spec.name) for spec in wanted if spec.name in query.filters]


def _results(response: Mapping[str, Any], path: Path) -> list[Mapping[str, Any]]:
    """The results at `path`: one per combination of the bucketings' selected buckets (none
    when such a bucket is absent: no document reached it)."""
    nodes: list[Mapping[str, Any]] = [response]
    for key, keys in path:
        reached: list[Mapping[str, Any]] = []
        for node in nodes:
            child = node.get(key)
            if not isinstance(child, Mapping):
                continue
            if keys is not None:
                buckets = child.get("buckets") or ()
                reached += [b for b in buckets if isinstance(b, Mapping) and str(b.get("key")) in keys]
            else:
                reached.append(child)
        nodes = reached
    return nodes


def _aggregation(spec: FacetSpec, query: Query, *, wide: bool = False) -> dict[str, Any]:
    if spec.ranges:
        return range_aggregation(spec, query)
    segment_size = max(spec.size * 10, _MIN_SEGMENT_SIZE)
    field = SLUG_FIELDS.get(spec.field, spec.field)
    size = segment_size if wide else spec.size
    return {"terms": {"field": field, "size": size, "segment_size": segment_size}}


def _summed_counts(
    spec: FacetSpec, results: Sequence[Mapping[str, Any]], slugs: SlugResolver, selected: Sequence[str]
) -> dict[str, int]:
    """Value -> count over `results` (summed). Of an open-ended slug facet only the `spec.size`
    largest (with ties) and the `selected` are resolved to their slugs: resolving a hash may
    cost a lookup."""
    counts: dict[Any, int] = {}
    for result in results:
        for bucket in result.get("buckets", ()):
            counts[bucket["key"]] = counts.get(bucket["key"], 0) + int(bucket["doc_count"])
    if spec.field in SLUG_FIELDS:
        ranked = sorted(counts.values(), reverse=True)
        floor = ranked[spec.size - 1] if len(ranked) > spec.size else 0
        chosen = {slug_hash(value) for value in selected}
        resolved = (
            (slugs(spec.field, int(key)), n) for key, n in counts.items() if n >= floor or key in chosen
        )
        return {slug: n for slug, n in resolved if slug is not None}
    by_value = {str(key): n for key, n in counts.items()}
    if spec.ranges:
        declared = {r.key for r in spec.ranges}
        return {key: n for key, n in by_value.items() if key in declared}
    return by_value


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
