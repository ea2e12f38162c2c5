"""Hybrid retrieval on OpenSearch: a `knn_vector` field, a search pipeline and the `hybrid` query.

What the cluster needs: OpenSearch 2.19 or later with two plugins, k-NN (the `knn_vector` field
and the `knn` query) and neural-search (the `hybrid` query and the score-combining processors of
search pipelines). Without both, or without a vector field in the live index, a `retrieval=hybrid`
search is answered by keyword search and the result says so (`SearchResult.retrieval` is
"keyword", the API's `retrieval_used`), with one warning in the log: never a silent downgrade.
When the cluster has both but refuses a hybrid request anyway, the search fails with one error
that names what it needs.

The request shapes, as the OpenSearch documentation specifies them:

* mapping: `settings.index.knn: true` and a `knn_vector` field KNN_FIELD with the model's
  dimension and an HNSW method on the Lucene engine (cosine; m, ef_construction below), the
  model named in the mapping's `_meta` so that an index of another model is not queried with
  this one's vectors;
* documents: the vector of `search.semantic.passage_text`, embedded by the same model as on the
  embedded engine (`search.semantic`), in KNN_FIELD;
* search pipeline `<alias>-hybrid`: RRF (`score-ranker-processor`, rank constant 60: OpenSearch
  2.19+) as the embedded engine's default fusion, or for `fusion="blend"` the
  `normalization-processor` with min_max normalisation and an arithmetic mean weighted as the
  embedded blend (keyword 0.3, vector 0.7: `search.fusion`);
* query: `hybrid` over two subqueries, the keyword query under the visibility and geo filters,
  and a `knn` query for the NEIGHBOURS nearest courses that pass those filters and the facet
  filters (filtered HNSW search on Lucene: k hits that all pass). The facet filters stay in
  `post_filter` and each facet's count in its aggregation holding the other facets' filters,
  exactly as keyword search builds them (`opensearch.query.RequestBuilder`): the aggregations
  count the union of the subqueries' matches, the fused result. `pagination_depth` bounds the
  fused ranking at MAX_DEPTH (`search.fusion`), the embedded engine's depth.

Paging: by number, or by cursor. A relevance cursor continues at its position (`from`: hybrid
scores are recomputed per request and cannot anchor a search_after); a key-sort cursor uses
search_after on the key, which the hybrid query supports (2.16+).

Only a real cluster with neural-search can confirm the fused order and the counts (the test
node built from Maven Central has k-NN but no neural-search, which Maven Central does not serve);
tests here check the shapes and run the k-NN half on a real node.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from course_catalogue.search.errors import QueryError
from course_catalogue.search.fusion import BLEND_KEYWORD_WEIGHT, MAX_DEPTH, METHODS, RRF_K
from course_catalogue.search.opensearch.query import SORTS, RequestBuilder
from course_catalogue.search.opensearch.results import read_result
from course_catalogue.search.query import Query, SearchResult, make_cursor, read_cursor
from course_catalogue.search.semantic import Embedder

KNN_FIELD = "course_vector"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
"""The graph's links per node and build breadth: the embedded graph's connectivity (16), and
Lucene's default build breadth doubled for the 512-dimension vectors of `use`."""
NEIGHBOURS = 100
"""k of the knn subquery: nearest courses passing the filters fused with the keyword hits (the
embedded engine fuses its 100 nearest passing courses the same way)."""
PLUGINS = {"k-NN": "knn", "neural-search": "neural"}
"""Plugin -> a part of its component name in `_cat/plugins` (opensearch-knn, opensearch-neural-search)."""
log = logging.getLogger(__name__)


def vector_mapping(dim: int) -> dict[str, Any]:
    """The `knn_vector` field of a model's vectors: Lucene HNSW, cosine similarity."""
    return {
        "type": "knn_vector",
        "dimension": dim,
        "method": {
            "name": "hnsw",
            "engine": "lucene",
            "space_type": "cosinesimil",
            "parameters": {"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION},
        },
    }


def with_vectors(body: dict[str, Any], model: Embedder) -> dict[str, Any]:
    """`body` (an index's settings and mappings) with the k-NN setting, the vector field and the
    model in the mapping's `_meta`; changed in place and returned."""
    body["settings"].setdefault("index", {})["knn"] = True
    mappings = body.setdefault("mappings", {})
    mappings.setdefault("properties", {})[KNN_FIELD] = vector_mapping(model.dim)
    mappings.setdefault("_meta", {})["vectors"] = vector_meta(model)
    return body


def vector_meta(model: Embedder) -> dict[str, Any]:
    return {"model": model.name, "dim": model.dim, "field": KNN_FIELD}


def pipeline_body(fusion: str) -> dict[str, Any]:
    """The search pipeline that fuses the hybrid query's two subqueries as `search.fusion` does."""
    if fusion == "rrf":
        processor = {"score-ranker-processor": {"combination": {"technique": "rrf", "rank_constant": RRF_K}}}
    elif fusion == "blend":
        weights = [BLEND_KEYWORD_WEIGHT, round(1.0 - BLEND_KEYWORD_WEIGHT, 6)]
        processor = {
            "normalization-processor": {
                "normalization": {"technique": "min_max"},
                "combination": {"technique": "arithmetic_mean", "parameters": {"weights": weights}},
            }
        }
    else:
        raise ValueError(f"unknown fusion method {fusion!r}; use one of {', '.join(METHODS)}")
    return {
        "description": f"course catalogue hybrid search: keyword and k-NN subqueries fused by {fusion}",
        "phase_results_processors": [processor],
    }


def missing_plugins(components: Sequence[str]) -> list[str]:
    """The plugins hybrid search needs that `components` (of `_cat/plugins`) lack."""
    names = [name.lower() for name in components]
    return [plugin for plugin, part in PLUGINS.items() if not any(part in name for name in names)]


def hybrid_body(requests: RequestBuilder, query: Query, vector: Sequence[float]) -> dict[str, Any]:
    """The `_search` body of a hybrid search (see the module docstring); QueryError for a page
    that starts at or past MAX_DEPTH, or a cursor that is not one of this search."""
    cursor = read_cursor(query)
    relevance = query.sort == "relevance"
    if cursor is not None and cursor.sort != query.sort:
        raise QueryError("cursor belongs to another search; start again from the first page")
    start = cursor.seen if cursor is not None else query.offset
    if start >= MAX_DEPTH:
        raise QueryError(
            f"hybrid results are ranked {MAX_DEPTH} deep; narrow the search (words, filters) "
            "or use retrieval=keyword to page further"
        )
    # A relevance cursor is a position here, not search_after values: build the page by `from`.
    body = requests.body(replace(query, cursor=None) if relevance else query)
    keyword = body["query"]["bool"]
    restrict: list[dict[str, Any]] = list(keyword["filter"])
    facets: list[dict[str, Any]] = list((body.get("post_filter") or {}).get("bool", {}).get("filter", []))
    knn_filter = restrict + facets
    knn: dict[str, Any] = {"vector": [float(x) for x in vector], "k": NEIGHBOURS}
    if knn_filter:
        knn["filter"] = {"bool": {"filter": knn_filter}}
    queries: list[dict[str, Any]] = [{"knn": {KNN_FIELD: knn}}]
    if requests.text(query.text, any_words=query.any_words) is not None:
        # (text without a searchable word would match everything: meaning alone then)
        queries.insert(0, {"bool": {"must": copy.deepcopy(keyword["must"]), "filter": restrict}})
    body["query"] = {"hybrid": {"queries": queries, "pagination_depth": MAX_DEPTH}}
    if relevance:
        body.pop("sort", None)  # the pipeline's fused score orders the hits
        body.pop("search_after", None)
        body["from"] = start
    body["size"] = min(query.page_size, MAX_DEPTH - start)
    return body


def read_hybrid(query: Query, response: Mapping[str, Any], body: Mapping[str, Any]) -> SearchResult:
    """The SearchResult of a hybrid search: hits in fused order (or the key sort's), its cursor
    (a position for relevance, the key's search_after values otherwise), retrieval "hybrid"."""
    if "sort" in body:
        result = read_result(query, response, body)
        return replace(result, retrieval="hybrid")
    result = read_result(query, response, {"sort": SORTS["relevance"]})
    start = result.start
    end = start + len(result.hits)
    more = bool(result.hits) and end < min(result.total, MAX_DEPTH)
    next_cursor = make_cursor(query, "relevance", (), end) if more else None
    return replace(result, next_cursor=next_cursor, retrieval="hybrid")
