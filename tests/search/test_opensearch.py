"""OpenSearch-only behaviour: the versioned index file, alias layout, refreshes, request safety."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from opensearchpy import OpenSearch

from course_catalogue.search.analysis import build_analyzers
from course_catalogue.search.documents import OTHER, STEMMERS, TEXT_KINDS, to_document
from course_catalogue.search.errors import BackendUnavailable, IndexingError, IndexOutdated
from course_catalogue.search.factory import open_backend
from course_catalogue.search.opensearch.backend import (
    INDEX_VERSION,
    OpenSearchBackend,
    index_body,
    parse_url,
    to_source,
)
from course_catalogue.search.opensearch.local import LocalCluster
from course_catalogue.search.opensearch.query import RequestBuilder
from course_catalogue.search.opensearch.results import unmark
from course_catalogue.search.query import MAX_PAGE, MAX_PAGE_SIZE, Query
from tests.search.conftest import ENGINES, catalogue, cid, drop_indices, make_course, open_engine, q


@pytest.fixture(params=[engine for engine in ENGINES if engine != "embedded"])
def opensearch(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[OpenSearchBackend]:
    backend = open_engine(request, request.param, tmp_path)
    assert isinstance(backend, OpenSearchBackend)
    backend.rebuild(to_document(s) for s in catalogue())
    yield backend
    backend.close()


def admin(backend: OpenSearchBackend) -> OpenSearch:
    return backend._client  # the same cluster, for inspecting indices and aliases


# -- the versioned settings and mappings file ---------------------------------------------------


def test_index_file_stems_the_languages_the_embedded_engine_stems() -> None:
    body = index_body()
    analysis = body["settings"]["analysis"]
    for lang, stemmer in STEMMERS.items():
        # Snowball, as tantivy's stemmers.
        assert analysis["filter"][f"cat_stem_{lang}"] == {
            "type": "snowball",
            "language": stemmer.capitalize(),
        }
        assert analysis["analyzer"][f"cat_{lang}"]["filter"][-1] == f"cat_stem_{lang}"
    for analyzer in analysis["analyzer"].values():
        assert analyzer["type"] == "custom"  # never a built-in language analyzer
        assert {"lowercase", "asciifolding"} <= set(analyzer["filter"])
    fields = body["mappings"]["properties"]
    for kind in TEXT_KINDS:
        for lang in (*STEMMERS, OTHER):
            assert fields[f"{kind}_{lang}"]["type"] == "text"
    assert fields["ects"]["type"] == fields["price"]["type"] == "float"
    assert fields["start_date"]["type"] == "date" and fields["country"]["type"] == "keyword"
    assert body["mappings"]["_meta"]["catalogue_index_version"] == INDEX_VERSION


ANALYSIS_SAMPLE: dict[str, str] = {
    # Course vocabulary per language: plurals, derivations, accents, compounds.
    "en": "courses running generously analysis studies engineering computational learning managers",
    "de": "Weiterbildungen Führungskräfte Größe Kurse Entwicklung Programmierung Datenanalyse Möglichkeiten",
    "fr": "formations renouvelables éolienne données statistiques ingénieurs développement apprentissage",
    "es": "cursos análisis estadísticas ingenieros desarrollo aprendizaje conocimientos gestión",
    "it": "corsi programmazione analisi statistiche ingegneri sviluppo apprendimento conoscenze",
    "pt": "cursos programação análise estatísticas engenheiros desenvolvimento aprendizagem",
    "nl": "cursussen programmering analyse statistieken ingenieurs ontwikkeling opleidingen digitale",
    "sv": "kurser programmering analys statistik ingenjörer utveckling utbildningar kunskaper",
    "da": "kurser programmering analyse statistikker ingeniører udvikling uddannelser",
    "no": "kurs programmering analyse statistikker ingeniører utvikling utdanninger",
    "fi": "kurssit ohjelmointi analyysi tilastot insinöörit kehitys koulutukset",
    "hu": "tanfolyamok programozás elemzés statisztikák mérnökök fejlesztés képzések",
    "ro": "cursuri programare analiză statistici ingineri dezvoltare învățare",
    "tr": "kurslar programlama analiz istatistikler mühendisler geliştirme eğitimler",
    "el": "μαθήματα προγραμματισμός ανάλυση στατιστικές μηχανικοί ανάπτυξη",
    OTHER: "Zarządzanie projektami Łódź Ærø Straße",
}
"""Known differences between Lucene's Snowball stemmers and tantivy's (rust-stemmers) are left out
of the sample: English "organization" (organ / organiz), Spanish "-ación" after folding
("programacion" kept whole / "program")."""
STEMMED_OTHERWISE = {"nl": ("cursussen", "cursus")}
"""Languages both engines stem with different algorithms, and a word whose stem they share:
tantivy's Dutch is Kraaij-Pohlmann, which Lucene 10 (OpenSearch 3) no longer has; the index uses
Lucene's Snowball Dutch, which works on 2.x and 3.x alike."""


def test_real_engine_analyses_text_as_the_embedded_engine(opensearch: OpenSearchBackend) -> None:
    # Same words in, same terms out: a query typed on one engine finds what it finds on the other.
    analyzers = build_analyzers()
    (index,) = admin(opensearch).indices.get_alias(name=opensearch.alias)
    assert set(ANALYSIS_SAMPLE) == set(analyzers)

    def analyse(lang: str, text: str) -> list[str]:
        analyzer = "cat_fold" if lang == OTHER else f"cat_{lang}"
        tokens = admin(opensearch).indices.analyze(index=index, body={"analyzer": analyzer, "text": text})
        return [t["token"] for t in tokens["tokens"]]

    for lang, text in ANALYSIS_SAMPLE.items():
        if lang in STEMMED_OTHERWISE:
            word, stem = STEMMED_OTHERWISE[lang]
            assert analyse(lang, word) != [word] and list(analyzers[lang].analyze(word)) == [stem]
            continue
        assert analyse(lang, text) == list(analyzers[lang].analyze(text)), lang


def test_deepest_page_fits_the_result_window() -> None:
    window = index_body()["settings"]["index"]["max_result_window"]
    assert window >= MAX_PAGE * MAX_PAGE_SIZE


def test_source_carries_sort_and_expiry_keys() -> None:
    doc = to_document(catalogue()[0])
    source = to_source(doc)
    # the embedded engine's keys: title (then id), start date then title then id
    assert source["sort_title"] == f"introduction to python programming\x01{doc['id']}"
    assert source["sort_start"].startswith("2025-09-01\x01introduction to python programming\x01")
    assert source["visible_until"] == "2025-12-01"
    assert "visible_until" not in to_source(to_document(make_course("u", "Undated")))
    started = make_course("s", "Started, no end", start=date(2025, 1, 2))
    assert "visible_until" not in to_source(to_document(started))  # started, never ends
    with pytest.raises(IndexingError):
        to_source({"title": "no id"})


# -- request safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ['title:foo AND "x', "*:* OR id:*", "[1 TO 5] ^2 ~3 /re/", "\\ ( ) { }"])
def test_user_text_never_becomes_query_syntax(text: str) -> None:
    used = keys(RequestBuilder().body(Query.create(text)))
    assert not used & {"query_string", "simple_query_string", "function_score", "script_score", "script"}


def keys(node: Any) -> set[str]:
    """Every dict key anywhere in a request body (the query types and options it uses)."""
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in keys(value)}
    if isinstance(node, list):
        return {k for value in node for k in keys(value)}
    return set()


def test_long_text_is_capped_in_words() -> None:
    body = RequestBuilder().body(Query.create("word " * 100))
    assert json.dumps(body).count('"dis_max"') <= 8


def test_snippet_marks_become_ranges_of_the_plain_text() -> None:
    assert unmark("a \ue000<i>b</i>\ue001 & c") == ("a <i>b</i> & c", [(2, 10)])
    assert unmark("\ue001stray\ue000 open") == ("stray open", [(5, 10)])  # stray end dropped, open runs on


# -- the alias, the versioned indices, refreshes ------------------------------------------------------


def test_rebuild_swaps_the_alias_and_deletes_the_old_index(opensearch: OpenSearchBackend) -> None:
    client = admin(opensearch)
    before = list(client.indices.get_alias(name=opensearch.alias))
    opensearch.rebuild(to_document(s) for s in catalogue()[:3])
    after = client.indices.get_alias(name=opensearch.alias)
    assert len(after) == 1 and list(after) != before
    (name,) = after
    assert name.startswith(f"{opensearch.alias}-v{INDEX_VERSION}-")
    assert after[name]["aliases"][opensearch.alias].get("is_write_index") is True
    assert not client.indices.exists(index=before[0])
    assert not client.indices.exists_alias(name=opensearch.building_alias)


def test_upserts_during_a_rebuild_survive_the_swap(opensearch: OpenSearchBackend) -> None:
    def documents() -> Iterator[dict[str, Any]]:
        yield to_document(catalogue()[0])
        # A harvest syncs while the rebuild is still reading the store.
        opensearch.upsert([to_document(make_course("during", "Beekeeping"))])
        yield to_document(make_course("during", "Stale title from the store snapshot"))

    opensearch.rebuild(documents())
    assert [h.id for h in opensearch.search(q("beekeeping")).hits] == [cid("during")]


def test_writes_ask_for_a_refresh(opensearch: OpenSearchBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real cluster shows writes only after a refresh (by default once a second, and never
    # with refresh_interval -1): the backend must ask for one.
    client = admin(opensearch)
    refreshed: list[str] = []
    original = client.indices.refresh

    def spy(*args: Any, **kwargs: Any) -> Any:
        refreshed.append(str(kwargs.get("index")))
        return original(*args, **kwargs)

    monkeypatch.setattr(client.indices, "refresh", spy)
    opensearch.upsert([to_document(make_course("r", "Refresh me"))])
    assert refreshed and opensearch.alias in refreshed[-1]
    refreshed.clear()
    opensearch.delete([cid("r")])
    assert refreshed and opensearch.alias in refreshed[-1]


def test_writes_are_visible_with_automatic_refresh_off(opensearch: OpenSearchBackend) -> None:
    admin(opensearch).indices.put_settings(index=opensearch.alias, body={"index": {"refresh_interval": "-1"}})
    opensearch.upsert([to_document(make_course("nr", "Glassblowing"))])
    assert opensearch.search(q("glassblowing")).total == 1


def test_index_of_another_version_needs_a_reindex(opensearch: OpenSearchBackend) -> None:
    client = admin(opensearch)
    old = f"{opensearch.alias}-v0-20200101000000000000"
    client.indices.create(index=old, body=index_body())
    (live,) = client.indices.get_alias(name=opensearch.alias)
    client.indices.update_aliases(
        body={
            "actions": [
                {"remove": {"index": live, "alias": opensearch.alias}},
                {"add": {"index": old, "alias": opensearch.alias, "is_write_index": True}},
            ]
        }
    )
    stale = OpenSearchBackend(client=client, index_prefix=opensearch.alias)
    with pytest.raises(IndexOutdated, match="reindex"):
        stale.search(q())
    with pytest.raises(IndexOutdated):  # what `catalogue init` looks for to rebuild
        stale.count()
    with pytest.raises(IndexingError, match="reindex"):
        stale.upsert([to_document(catalogue()[0])])
    assert stale.rebuild(to_document(s) for s in catalogue()) == 10
    assert stale.search(q()).total == 8


def test_unreachable_cluster_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="cannot reach OpenSearch"):
        OpenSearchBackend("http://127.0.0.1:1", timeout=1)


def test_closed_backend_is_unavailable(opensearch: OpenSearchBackend) -> None:
    opensearch.close()
    with pytest.raises(BackendUnavailable):
        opensearch.search(q())


def test_factory_opens_opensearch_for_a_url(opensearch_node: LocalCluster, tmp_path: Any) -> None:
    # The session's own node: the default prefix "catalogue" belongs to nobody else there.
    url = opensearch_node.nodes[0].url
    backend = open_backend(tmp_path / "unused", f"{url}?shards=1&replicas=0")
    try:
        assert isinstance(backend, OpenSearchBackend) and backend.alias == "catalogue"
        assert not (tmp_path / "unused").exists()
        (name,) = admin(backend).indices.get_alias(name="catalogue")
        settings = admin(backend).indices.get_settings(index=name)[name]["settings"]["index"]
        assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("1", "0")
    finally:
        backend.close()
        drop_indices(url, "catalogue")


# -- the URL: several nodes, index shape ------------------------------------------------------------


def test_url_names_several_nodes_and_the_index_shape() -> None:
    nodes, options = parse_url(" http://a:9200 , https://u:p@b:9201/?shards=2&replicas=1&prefix=cat ")
    assert nodes == ["http://a:9200", "https://u:p@b:9201/"]
    assert options == {"shards": "2", "replicas": "1", "prefix": "cat"}
    assert parse_url("http://a:9200") == (["http://a:9200"], {})


@pytest.mark.parametrize(
    "url", [",", " , ", "a:9200", "ftp://a", "http://a?color=red", "http://a?shards=two", "http://a?shards=0"]
)
def test_malformed_url_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        OpenSearchBackend(url, client=FakeClient([]))


def test_url_options_shape_new_indices() -> None:
    backend = OpenSearchBackend("http://a:1?shards=2&replicas=1&prefix=cat", client=FakeClient([]))
    settings = backend.index_body()["settings"]["index"]
    assert backend.alias == "cat"
    assert settings["number_of_shards"] == 2 and settings["number_of_replicas"] == 1
    assert "auto_expand_replicas" not in settings  # an explicit count replaces "a replica if possible"
    default = OpenSearchBackend(client=FakeClient([])).index_body()["settings"]["index"]
    assert default == index_body()["settings"]["index"]


# -- bulk retries (a scripted client; the real back-pressure test is in test_opensearch_cluster) ----


class FakeIndices:
    def exists_alias(self, **_: Any) -> bool:
        return True

    def get_alias(self, name: str, **_: Any) -> dict[str, Any]:
        return {f"{name}-v{INDEX_VERSION}-initial": {}} if name == "catalogue" else {}

    def refresh(self, **_: Any) -> None:
        pass


class FakeClient:
    """Answers each bulk request with the next scripted item statuses (or raises it)."""

    def __init__(self, script: list[list[int] | Exception]) -> None:
        self.script = script
        self.sent: list[list[str]] = []
        self.indices = FakeIndices()

    def bulk(self, body: list[dict[str, Any]]) -> dict[str, Any]:
        ids = [next(iter(line.values()))["_id"] for line in body[::2]]
        self.sent.append(ids)
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {
            "items": [
                {"index": {"_id": i, "status": s, "error": "x" if s >= 300 else None}}
                for i, s in zip(ids, answer, strict=True)
            ]
        }

    def close(self) -> None:
        pass


def scripted(script: list[list[int] | Exception], retries: int = 3) -> tuple[OpenSearchBackend, FakeClient]:
    client = FakeClient(script)
    backend = OpenSearchBackend(client=client, retries=retries, backoff=0.001, max_backoff=0.002)  # type: ignore[arg-type]
    return backend, client


def docs(*refs: str) -> list[dict[str, Any]]:
    return [to_document(make_course(ref, f"Course {ref}")) for ref in refs]


def test_rejected_documents_are_sent_again_until_written() -> None:
    backend, client = scripted([[201, 429, 503], [429, 200], [200]])
    assert backend.upsert(docs("a", "b", "c")) == 3
    assert client.sent == [[cid("a"), cid("b"), cid("c")], [cid("b"), cid("c")], [cid("b")]]
    assert backend.retried == 2


def test_a_rejected_or_lost_request_is_sent_again() -> None:
    from opensearchpy.exceptions import ConnectionError as ClientConnectionError
    from opensearchpy.exceptions import TransportError

    backend, client = scripted(
        [
            TransportError(429, "rejected_execution_exception"),
            ClientConnectionError("N/A", "reset", None),
            [200],
        ]
    )
    assert backend.upsert(docs("a")) == 1
    assert len(client.sent) == 3


def test_permanent_failures_are_not_retried_and_name_the_document() -> None:
    backend, client = scripted([[200, 400, 429], [200]])
    with pytest.raises(IndexingError, match=f"1 documents failed.*{cid('b')}.*400"):
        backend.upsert(docs("a", "b", "c"))
    assert client.sent[1] == [cid("c")]  # the retryable one was still written


def test_back_pressure_that_never_ends_is_an_indexing_error() -> None:
    backend, client = scripted([[429]] * 3, retries=2)
    with pytest.raises(IndexingError, match="429"):
        backend.upsert(docs("a"))
    assert len(client.sent) == 3 and backend.retried == 2


# -- the search bench's OpenSearch engine ------------------------------------------------------------


def test_search_bench_measures_opensearch_beside_the_embedded_engine(
    opensearch_node: LocalCluster, tmp_path: Any
) -> None:
    from bench import search_bench

    url = opensearch_node.nodes[0].url
    argv = ["--docs", "200", "--queries", "2", "--out", str(tmp_path), "--opensearch", url]
    report = search_bench.main([*argv, "--opensearch-warmup", "1"])
    bulk = report["opensearch"]["bulk"]
    assert bulk["documents"] == report["build"]["built"]["documents"] and bulk["docs_per_s"] > 0
    for name, row in report["results"].items():
        assert set(row["opensearch"]["wall_ms"]) == {"p50", "p95", "p99"}, name
        if name != "mix":
            assert row["opensearch"]["queries"] == 2
    assert (tmp_path / "search-200-opensearch.json").is_file()
    assert not OpenSearch(hosts=[url]).indices.get(index="bench-*", expand_wildcards="all")  # cleaned up


def test_only_transient_search_failures_are_retried() -> None:
    from opensearchpy.exceptions import ConnectionError as ClientConnectionError
    from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

    from course_catalogue.search.opensearch.backend import _transient

    assert _transient(NotFoundError(404, "index_not_found_exception", {}))  # the alias moved
    assert _transient(ClientConnectionError("N/A", "refused", OSError()))
    node_left = TransportError(500, "search_phase_execution_exception", "[node-2] disconnected")
    assert _transient(node_left) and _transient(TransportError(503, "unavailable", {}))
    assert not _transient(RequestError(400, "parsing_exception", {}))  # the query is wrong: no retry
    assert not _transient(ValueError("not a client error"))
