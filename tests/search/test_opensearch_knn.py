"""The OpenSearch path of semantic search (issue 20): the k-NN plugin from Maven Central on a real node.

The session's node loads `org.opensearch.knn.plugin.KNNPlugin` (opensearch-knn 2.19.1.0, the zip
on Maven Central: no native library inside, so only the Lucene engine works; faiss and nmslib
would need the distribution's JNI libraries). These tests index the catalogue with a small
`knn_vector` field and check the request shapes hybrid search needs: a k-NN query in the
catalogue's own index, k-NN with the facet and visibility filters, and keyword + vector in one
request whose post_filter and facet aggregations (built by RequestBuilder, as for keyword
search) apply to the combined result. Expected answers are computed here by exact cosine
similarity, never copied from the engine.

The `hybrid` query itself (score normalisation in a search pipeline) belongs to the neural-search
plugin, which Maven Central does not serve: its test runs only against a cluster that has it
(env OPENSEARCH_URL, engine "cluster").
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from opensearchpy import OpenSearch

from course_catalogue.search.documents import to_document
from course_catalogue.search.opensearch.backend import OpenSearchBackend, to_source
from course_catalogue.search.opensearch.query import RequestBuilder, facet_filters, visibility
from course_catalogue.search.opensearch.results import read_result
from course_catalogue.search.query import Query
from tests.search.conftest import ENGINES, TODAY, catalogue, cid, open_engine

DIMENSION = 4
VECTORS: Mapping[str, Sequence[float]] = {
    # A toy embedding: programming, data, management, other.
    "python": (1.0, 0.2, 0.0, 0.0),
    "donnees": (0.3, 1.0, 0.0, 0.1),
    "fuehrung": (0.0, 0.1, 1.0, 0.2),
    "stats": (0.5, 0.9, 0.0, 0.0),
    "rust": (0.9, 0.0, 0.1, 0.1),
    "bilingual": (0.1, 0.1, 0.2, 1.0),
    "undated": (0.1, 0.0, 0.5, 0.8),
    "past": (0.8, 0.6, 0.0, 0.0),
    "withdrawn": (0.7, 0.2, 0.0, 0.1),
    "polish": (0.0, 0.0, 0.9, 0.1),
}
KNN_FIELD = "vector"


@pytest.fixture(scope="module", params=[engine for engine in ENGINES if engine != "embedded"])
def vectors(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VectorIndex]:
    """The catalogue in an index made from the backend's own settings and mappings plus a
    `knn_vector` field (Lucene HNSW, cosine), behind the backend's alias."""
    backend = open_engine(request, request.param, tmp_path_factory.mktemp("knn"))
    assert isinstance(backend, OpenSearchBackend)
    plugins = {row["component"] for row in backend._client.cat.plugins(format="json")}
    if request.param == "cluster" and not any("knn" in name.lower() for name in plugins):
        backend.close()
        pytest.skip(f"the cluster at OPENSEARCH_URL has no k-NN plugin ({sorted(plugins)})")
    index = VectorIndex(backend)
    yield index
    backend.close()


class VectorIndex:
    def __init__(self, backend: OpenSearchBackend) -> None:
        self.backend = backend
        self.client: OpenSearch = backend._client
        body = backend.index_body()
        body["settings"]["index"]["knn"] = True
        body["mappings"]["properties"][KNN_FIELD] = {
            "type": "knn_vector",
            "dimension": DIMENSION,
            "method": {
                "name": "hnsw",
                "engine": "lucene",
                "space_type": "cosinesimil",
                "parameters": {"m": 16, "ef_construction": 64},
            },
        }
        self.name = f"{backend.alias}-knn"
        self.client.indices.create(index=self.name, body=body)
        self.sources: dict[str, dict[str, Any]] = {}
        for stored in catalogue():
            source = to_source(to_document(stored))
            source[KNN_FIELD] = list(VECTORS[stored.course.provenance.provider_ref])
            self.sources[stored.id] = source
            self.client.index(index=self.name, id=stored.id, body=source)
        self.client.indices.refresh(index=self.name)

    def search(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        response: Mapping[str, Any] = self.client.search(index=self.name, body=body)
        return response


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def nearest(index: VectorIndex, vector: Sequence[float], k: int, keep: set[str]) -> list[str]:
    """The exact top k of `keep` by cosine similarity to `vector`."""
    ranked = sorted(keep, key=lambda i: (-cosine(vector, index.sources[i][KNN_FIELD]), i))
    return ranked[:k]


def visible(index: VectorIndex) -> set[str]:
    """What keyword search shows without options on TODAY: active courses not yet past."""
    today = TODAY.isoformat()
    shown = {
        i
        for i, source in index.sources.items()
        if source["status"] == "active" and source.get("visible_until", today) >= today
    }
    assert cid("withdrawn") not in shown and cid("past") not in shown and len(shown) == 8
    return shown


def knn_clause(
    vector: Sequence[float], k: int, filters: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    clause: dict[str, Any] = {"vector": list(vector), "k": k}
    if filters:
        clause["filter"] = {"bool": {"filter": filters}}
    return {"knn": {KNN_FIELD: clause}}


def hit_ids(response: Mapping[str, Any]) -> list[str]:
    return [str(hit["_id"]) for hit in response["hits"]["hits"]]


def test_the_plugin_runs_on_lucene_without_a_native_library(vectors: VectorIndex) -> None:
    stats = vectors.client.transport.perform_request("GET", "/_plugins/_knn/stats")
    node = next(iter(stats["nodes"].values()))
    assert node["lucene_initialized"] is True
    mapping = vectors.client.indices.get_mapping(index=vectors.name)[vectors.name]["mappings"]
    assert mapping["properties"][KNN_FIELD]["method"]["engine"] == "lucene"


def test_knn_in_the_catalogue_index_finds_the_nearest_visible_courses(vectors: VectorIndex) -> None:
    query = Query.create("", today=TODAY)
    vector = (1.0, 0.1, 0.0, 0.0)
    # Efficient filtering: the visibility filter inside the k-NN query, so k hits come back.
    response = vectors.search({"size": 3, "query": knn_clause(vector, 3, visibility(query))})
    assert hit_ids(response) == nearest(vectors, vector, 3, visible(vectors))
    scores = [hit["_score"] for hit in response["hits"]["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_knn_applies_the_facet_filters_of_keyword_search(vectors: VectorIndex) -> None:
    query = Query.create("", {"country": ["FRA", "DEU", "POL"]}, today=TODAY)
    filters = visibility(query) + list(facet_filters(query).values())
    vector = (0.1, 0.2, 1.0, 0.0)
    response = vectors.search({"size": 10, "query": knn_clause(vector, 10, filters)})
    keep = {i for i in visible(vectors) if vectors.sources[i].get("country") in {"FRA", "DEU", "POL"}}
    assert hit_ids(response) == nearest(vectors, vector, 10, keep)
    assert set(hit_ids(response)) == {cid("donnees"), cid("fuehrung"), cid("polish")}


def test_keyword_and_vector_in_one_request_keep_filters_and_facets(vectors: VectorIndex) -> None:
    # The linear-blend shape: the keyword query and a k-NN clause as alternatives, inside the
    # very body keyword search sends (visibility, post_filter, per-facet aggregations, sort).
    query = Query.create("python", {"mode": ["online"]}, today=TODAY, page_size=50)
    keyword_body = RequestBuilder().body(query)
    vector = (0.2, 1.0, 0.0, 0.0)  # about data: the keyword finds python, the vector data courses
    body = copy.deepcopy(keyword_body)
    text = body["query"]["bool"]["must"][0]
    body["query"]["bool"]["must"] = [
        {"bool": {"should": [text, knn_clause(vector, 4)], "minimum_should_match": 1}}
    ]
    result = read_result(query, vectors.search(body), body)

    keyword_hits = {h.id for h in read_result(query, vectors.search(keyword_body), keyword_body).hits}
    knn_hits = set(hit_ids(vectors.search({"size": 4, "query": knn_clause(vector, 4)})))
    online = {i for i in visible(vectors) if "online" in (vectors.sources[i].get("modes") or [])}
    expected = (keyword_hits | knn_hits) & online
    assert keyword_hits and knn_hits - keyword_hits  # both halves contribute
    assert {h.id for h in result.hits} == expected and result.total == len(expected)
    # Facets count the combined matches: country (not filtered) over exactly the hits; mode
    # without its own filter, so "onsite" counts the combined matches that are not online.
    countries = {f.name: f for f in result.facets}["country"]
    assert {v.value: v.count for v in countries.values} == Counter(
        vectors.sources[i]["country"] for i in expected
    )
    modes = {v.value: v.count for v in {f.name: f for f in result.facets}["mode"].values}
    unfiltered = (keyword_hits | knn_hits) & visible(vectors)
    assert modes["online"] == len(expected)
    assert modes.get("onsite", 0) == sum("onsite" in vectors.sources[i]["modes"] for i in unfiltered)


def test_hybrid_query_with_score_normalisation(vectors: VectorIndex) -> None:
    plugins = {row["component"] for row in vectors.client.cat.plugins(format="json")}
    if not any("neural" in name.lower() for name in plugins):
        pytest.skip(
            "the `hybrid` query needs the neural-search plugin, which Maven Central does not serve "
            "(no opensearch-neural-search 2.19.1.0 or 3.5.0.0 zip): run with OPENSEARCH_URL at a "
            f"cluster that has it (this one has {sorted(plugins)})"
        )
    pipeline = f"{vectors.backend.alias}-hybrid"
    vectors.client.transport.perform_request(
        "PUT",
        f"/_search/pipeline/{pipeline}",
        body={
            "phase_results_processors": [
                {
                    "normalization-processor": {
                        "normalization": {"technique": "min_max"},
                        "combination": {
                            "technique": "arithmetic_mean",
                            "parameters": {"weights": [0.5, 0.5]},
                        },
                    }
                }
            ]
        },
    )
    try:
        query = Query.create("python", {"mode": ["online"]}, today=TODAY, page_size=50)
        body = RequestBuilder().body(query)
        text = body["query"]["bool"]["must"][0]
        filters = body["query"]["bool"]["filter"]
        body["query"] = {
            "hybrid": {
                "queries": [
                    {"bool": {"must": [text], "filter": filters}},
                    knn_clause((0.2, 1.0, 0.0, 0.0), 4, filters),
                ]
            }
        }
        body["sort"] = [{"_score": "desc"}]  # hybrid scores are normalised per sub-query
        response = vectors.client.search(index=vectors.name, body=body, params={"search_pipeline": pipeline})
        online = {i for i in visible(vectors) if "online" in (vectors.sources[i].get("modes") or [])}
        assert hit_ids(response) and set(hit_ids(response)) <= online
    finally:
        vectors.client.transport.perform_request("DELETE", f"/_search/pipeline/{pipeline}")
