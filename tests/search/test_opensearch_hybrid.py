"""Hybrid search on OpenSearch (search.opensearch.hybrid): the request shapes, and the parts a real node runs.

The shapes are checked against what the OpenSearch documentation specifies (knn_vector mapping,
score-ranker / normalization processors, the `hybrid` query with `pagination_depth`); the k-NN
half of the hybrid query and the index with vectors run on the session's real node (k-NN plugin,
no neural-search: Maven Central serves no neural-search plugin), where `retrieval=hybrid` must be
answered by keyword search and say so. Expected nearest courses are computed here by exact cosine
similarity, never copied from the engine.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from course_catalogue.search.documents import to_document
from course_catalogue.search.errors import BackendUnavailable, QueryError
from course_catalogue.search.fusion import MAX_DEPTH
from course_catalogue.search.opensearch.backend import OpenSearchBackend
from course_catalogue.search.opensearch.hybrid import (
    KNN_FIELD,
    NEIGHBOURS,
    hybrid_body,
    missing_plugins,
    pipeline_body,
    read_hybrid,
    with_vectors,
)
from course_catalogue.search.opensearch.local import LocalCluster
from course_catalogue.search.opensearch.query import RequestBuilder
from course_catalogue.search.query import Query
from course_catalogue.search.semantic import embedder, passage_text
from tests.search.conftest import TODAY, catalogue, cid, drop_indices

VECTOR = [0.5, 0.5, 0.5, 0.5]


class FourDims:
    """A stand-in model for the shape tests: the request shapes depend on the dimension only."""

    name = "four"
    dim = 4
    min_similarity = 0.0


def _query(text: str = "python", **options: Any) -> Query:
    return Query.create(text, options.pop("filters", {}), today=TODAY, retrieval="hybrid", **options)


# -- shapes ------------------------------------------------------------------------------------


def test_the_index_gets_a_knn_vector_field_of_the_model() -> None:
    body = with_vectors({"settings": {"index": {}}, "mappings": {"properties": {}}}, FourDims())  # type: ignore[arg-type]
    assert body["settings"]["index"]["knn"] is True
    field = body["mappings"]["properties"][KNN_FIELD]
    assert field["type"] == "knn_vector" and field["dimension"] == 4
    assert field["method"]["name"] == "hnsw" and field["method"]["engine"] == "lucene"
    assert field["method"]["space_type"] == "cosinesimil"
    assert set(field["method"]["parameters"]) == {"m", "ef_construction"}
    assert body["mappings"]["_meta"]["vectors"] == {"model": "four", "dim": 4, "field": KNN_FIELD}


def test_the_pipelines_fuse_as_the_embedded_engine() -> None:
    rrf = pipeline_body("rrf")["phase_results_processors"]
    assert rrf == [{"score-ranker-processor": {"combination": {"technique": "rrf", "rank_constant": 60}}}]
    blend = pipeline_body("blend")["phase_results_processors"][0]["normalization-processor"]
    assert blend["normalization"] == {"technique": "min_max"}
    assert blend["combination"] == {"technique": "arithmetic_mean", "parameters": {"weights": [0.3, 0.7]}}
    with pytest.raises(ValueError):
        pipeline_body("max")


def test_the_hybrid_query_keeps_keyword_filters_post_filter_and_facets() -> None:
    requests = RequestBuilder()
    query = _query("python programming", filters={"country": ["DEU", "FRA"]}, page=2, page_size=10)
    keyword = requests.body(replace(query, retrieval="keyword"))
    body = hybrid_body(requests, query, VECTOR)
    hybrid = body["query"]["hybrid"]
    assert hybrid["pagination_depth"] == MAX_DEPTH
    text, knn = hybrid["queries"]
    # the keyword subquery: the keyword search's text under its visibility filters
    assert text == {
        "bool": {"must": keyword["query"]["bool"]["must"], "filter": keyword["query"]["bool"]["filter"]}
    }
    # the k-NN subquery: the nearest courses passing visibility AND the facet filters
    clause = knn["knn"][KNN_FIELD]
    assert clause["vector"] == VECTOR and clause["k"] == NEIGHBOURS
    facet_filters = keyword["post_filter"]["bool"]["filter"]
    assert clause["filter"] == {"bool": {"filter": keyword["query"]["bool"]["filter"] + facet_filters}}
    # hits filtered, counts as keyword search counts them (per facet, the other facets' filters)
    assert body["post_filter"] == keyword["post_filter"] and body["aggs"] == keyword["aggs"]
    assert "sort" not in body and body["from"] == 10 and body["size"] == 10
    assert body["highlight"] == keyword["highlight"]


def test_a_key_sort_and_its_cursor_pass_through() -> None:
    requests = RequestBuilder()
    body = hybrid_body(requests, _query(sort="title"), VECTOR)
    assert body["sort"] == requests.body(_query(sort="title"))["sort"]
    response = {
        "hits": {
            "total": {"value": 30},
            "hits": [{"_id": f"c{i}", "_source": {"id": f"c{i}"}, "sort": [f"t{i}"]} for i in range(20)],
        }
    }
    first = read_hybrid(_query(sort="title"), response, body)
    assert first.retrieval == "hybrid" and first.next_cursor is not None
    following = hybrid_body(requests, _query(sort="title", cursor=first.next_cursor), VECTOR)
    assert following["search_after"] == ["t19"] and following["from"] == 0


def test_a_relevance_cursor_is_a_position_within_the_depth() -> None:
    requests = RequestBuilder()
    query = _query(page_size=20)
    hits = [{"_id": f"c{i}", "_score": 1.0 / (i + 1), "_source": {"id": f"c{i}"}} for i in range(20)]
    response = {"hits": {"total": {"value": 5000}, "hits": hits}}
    first = read_hybrid(query, response, hybrid_body(requests, query, VECTOR))
    assert first.retrieval == "hybrid" and first.next_cursor is not None and first.total == 5000
    second = _query(page_size=20, cursor=first.next_cursor)
    body = hybrid_body(requests, second, VECTOR)
    assert body["from"] == 20 and "search_after" not in body and "sort" not in body
    # the last page of the ranking has no next cursor; a page past it is refused
    last = _query(page=MAX_DEPTH // 20, page_size=20)
    assert hybrid_body(requests, last, VECTOR)["from"] == MAX_DEPTH - 20
    assert read_hybrid(last, response, hybrid_body(requests, last, VECTOR)).next_cursor is None
    with pytest.raises(QueryError, match=f"{MAX_DEPTH} deep"):
        hybrid_body(requests, _query(page=MAX_DEPTH // 20 + 1, page_size=20), VECTOR)
    with pytest.raises(QueryError):  # a keyword cursor is not one of the hybrid search
        keyword_cursor = first.next_cursor
        hybrid_body(requests, replace(second, retrieval="keyword", cursor=keyword_cursor), VECTOR)


def test_text_without_a_searchable_word_searches_by_meaning_only() -> None:
    body = hybrid_body(RequestBuilder(), _query("!!! ???"), VECTOR)
    (only,) = body["query"]["hybrid"]["queries"]
    assert KNN_FIELD in only["knn"]


def test_missing_plugins() -> None:
    assert missing_plugins(["opensearch-knn", "opensearch-neural-search", "opensearch-ml"]) == []
    assert missing_plugins(["opensearch-knn"]) == ["neural-search"]
    assert missing_plugins([]) == ["k-NN", "neural-search"]


# -- on the real node (k-NN, no neural-search) ---------------------------------------------------


@pytest.fixture(scope="module")
def node_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenSearchBackend]:
    node: LocalCluster = request.getfixturevalue("opensearch_node")
    url = node.nodes[0].url
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    backend = OpenSearchBackend(url, index_prefix=prefix, model="use")
    backend.rebuild(to_document(stored) for stored in catalogue())
    yield backend
    backend.close()
    drop_indices(url, prefix)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_the_node_lacks_neural_search_and_says_so(node_backend: OpenSearchBackend) -> None:
    if node_backend.missing_plugins == []:
        pytest.skip("this cluster has neural-search: hybrid runs for real")
    assert node_backend.missing_plugins == ["neural-search"]


def test_indexed_documents_carry_the_models_vectors(node_backend: OpenSearchBackend) -> None:
    client = node_backend._client
    mapping = next(iter(client.indices.get_mapping(index=node_backend.alias).values()))["mappings"]
    assert mapping["properties"][KNN_FIELD]["dimension"] == 512
    assert mapping["_meta"]["vectors"]["model"] == "use"
    stored = client.get(index=node_backend.alias, id=cid("python"))["_source"]
    expected = embedder("use").passages([passage_text(to_document(catalogue()[0]))])[0]
    assert len(stored[KNN_FIELD]) == 512
    assert _cosine(stored[KNN_FIELD], [float(x) for x in expected]) > 0.9999


def test_the_knn_subquery_finds_the_nearest_courses_passing_the_filters(
    node_backend: OpenSearchBackend,
) -> None:
    client = node_backend._client
    query = _query("Programmieren lernen", filters={"country": ["DEU", "FRA", "NLD"]})
    vector = [float(x) for x in embedder("use").query(query.text)]
    body = hybrid_body(RequestBuilder(), query, vector)
    knn = body["query"]["hybrid"]["queries"][-1]
    found = client.search(index=node_backend.alias, body={"size": 20, "query": knn})["hits"]["hits"]
    # exact: every visible course of those countries, by cosine similarity to the query
    sources = {
        str(hit["_id"]): hit["_source"]
        for hit in client.search(index=node_backend.alias, body={"size": 100, "query": {"match_all": {}}})[
            "hits"
        ]["hits"]
    }
    today = TODAY.isoformat()
    passing = [
        i
        for i, s in sources.items()
        if s["status"] == "active"
        and s.get("visible_until", today) >= today
        and s.get("country") in {"DEU", "FRA", "NLD"}
    ]
    exact = sorted(passing, key=lambda i: (-_cosine(vector, sources[i][KNN_FIELD]), i))
    assert [str(hit["_id"]) for hit in found] == exact and len(exact) >= 3


def test_hybrid_without_neural_search_is_keyword_and_says_so(
    node_backend: OpenSearchBackend, caplog: pytest.LogCaptureFixture
) -> None:
    if not node_backend.missing_plugins:
        pytest.skip("this cluster has neural-search")
    with caplog.at_level(logging.WARNING, logger="course_catalogue.search.opensearch.backend"):
        hybrid = node_backend.search(_query("python"))
    keyword = node_backend.search(replace(_query("python"), retrieval="keyword"))
    assert hybrid.retrieval == "keyword"
    assert [h.id for h in hybrid.hits] == [h.id for h in keyword.hits] and hybrid.total == keyword.total
    assert "neural-search" in caplog.text


def test_a_refused_hybrid_request_is_one_clear_error(node_backend: OpenSearchBackend) -> None:
    if not node_backend.missing_plugins:
        pytest.skip("this cluster has neural-search")
    node_backend.missing_plugins = []  # as if the cluster had claimed the plugin
    try:
        with pytest.raises(BackendUnavailable, match=r"needs OpenSearch 2\.19"):
            node_backend.search(_query("python"))
    finally:
        node_backend.missing_plugins = ["neural-search"]


def test_a_model_of_another_dimension_is_not_queried(node_backend: OpenSearchBackend) -> None:
    other = OpenSearchBackend(
        client=node_backend._client,
        index_prefix=node_backend.alias,
        model=FourDims(),  # type: ignore[arg-type]
    )
    other.missing_plugins = []  # only the index's vectors are in question here
    reason = other._hybrid_unavailable()
    assert reason is not None and "no four vectors" in reason
