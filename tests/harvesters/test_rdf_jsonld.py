"""A large JSON-LD feed of the shape `{"@context": ..., "@graph": [...]}` is read node by node
(`rdf_jsonld.GraphStream`) into the spooled graph; any other shape is read whole, as before.

Every streamed case is compared whole against the whole-document reader (in memory): guid,
pointer, N-Triples bytes, reader issues and unread paths. Chunks are made tiny so that nodes, and
labelled blank nodes shared between nodes, fall into different parses.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import course_catalogue.harvesters.elm as elm
import course_catalogue.harvesters.rdf_jsonld as rdf_jsonld
import course_catalogue.harvesters.rdf_spool as rdf_spool
from course_catalogue.catalogue.errors import ParseError
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.harvesters.rdf_jsonld import GraphStream, NotStreamable, lone_surrogate
from course_catalogue.mappings.spec import MappingSpec, load_spec

FIXTURES = Path(__file__).parent.parent / "fixtures"
ELM = "http://data.europa.eu/snb/model/elm/"
CONTEXT = {"elm": ELM, "dc": "http://purl.org/dc/terms/", "ex": "http://example.org/"}


def _items(data: bytes, spec: Any) -> list[tuple[Any, ...]]:
    return [
        (g.item.guid, g.item.pointer, g.item.content, g.item.media_type, g.issues, g.unread)
        for g in harvester_for(spec.format).gather(data, spec)
    ]


class Counted:
    """Counts the spools and the streamed documents of the runs inside `streamed`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.spools = self.streams = 0
        spool_init, stream_init = rdf_spool.SpooledGraph.__init__, GraphStream.__init__

        def spool(graph: Any, *args: Any, **kwargs: Any) -> None:
            self.spools += 1
            spool_init(graph, *args, **kwargs)

        def stream(reader: Any, *args: Any, **kwargs: Any) -> None:
            self.streams += 1
            stream_init(reader, *args, **kwargs)

        monkeypatch.setattr(rdf_spool.SpooledGraph, "__init__", spool)
        monkeypatch.setattr(GraphStream, "__init__", stream)


def streamed(data: bytes, spec: Any, monkeypatch: pytest.MonkeyPatch, chunk: int = 2) -> Counted:
    """The feed read whole (in memory) and streamed (spooled, `chunk` nodes per parse), asserted
    equal and non-empty; the counts of the streamed run."""
    whole = _items(data, spec)
    with monkeypatch.context() as patch:
        patch.setattr(elm, "SPOOL_FEED_BYTES", -1)
        patch.setattr(rdf_jsonld, "CHUNK_NODES", chunk)
        counted = Counted(patch)
        assert _items(data, spec) == whole
    assert whole
    return counted


def with_reader(spec: MappingSpec, **options: Any) -> MappingSpec:
    return replace(spec, reader={**(spec.reader or {}), **options})


def document(nodes: list[Any], **top: Any) -> bytes:
    return json.dumps({"@context": CONTEXT, "@graph": nodes, **top}, ensure_ascii=False).encode()


def lo(n: int, **props: Any) -> dict[str, Any]:
    return {
        "@id": f"http://example.org/lo{n}",
        "@type": "elm:LearningOpportunity",
        "dc:title": f"t{n}",
        **props,
    }


def test_a_generated_feed_of_many_records_streams_to_the_same_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.generate import write_feed

    path = tmp_path / "feed.jsonld"
    write_feed("elm-jsonld", path, 300, 7)  # labelled blank nodes (prices, credits) are nodes of their own
    counted = streamed(path.read_bytes(), load_spec("elm-rdf"), monkeypatch, chunk=7)
    assert (counted.spools, counted.streams) == (1, 1)


def test_the_official_elm_sample_with_its_remote_context_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (FIXTURES / "lo_example_loq.edc-context.jsonld").read_bytes()
    counted = streamed(data, load_spec("elm-rdf"), monkeypatch, chunk=1)
    assert (counted.spools, counted.streams) == (1, 1)


def test_a_ctdl_graph_with_its_unread_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (FIXTURES / "corpus" / "ctdl" / "learning_program_1_graph.json").read_bytes()
    spec = load_spec("ctdl-jsonld")
    undefined = json.loads(data)
    undefined["@graph"][0]["providerOwnKey"] = "x"  # a key no context defines: an unread path
    data = json.dumps(undefined).encode()
    streamed(data, spec, monkeypatch, chunk=1)
    unread = [path for g in harvester_for(spec.format).gather(data, spec) for path in g.unread]
    assert any(path.path == "providerOwnKey" for path in unread)


def test_a_labelled_blank_node_shared_across_chunks_stays_one_node(monkeypatch: pytest.MonkeyPatch) -> None:
    place = {"@id": "_:place", "dc:title": "Town", "ex:in": {"ex:name": "Region"}}
    nodes: list[Any] = [lo(n, **{"elm:location": {"@id": "_:place"}}) for n in range(5)]
    nodes.insert(3, place)
    streamed(document(nodes), load_spec("elm-rdf"), monkeypatch, chunk=1)
    spec = load_spec("elm-rdf")
    with monkeypatch.context() as patch:
        patch.setattr(elm, "SPOOL_FEED_BYTES", -1)
        patch.setattr(rdf_jsonld, "CHUNK_NODES", 1)
        contents = [g.item.content for g in harvester_for(spec.format).gather(document(nodes), spec)]
    assert all(b'"Town"' in content and b'"Region"' in content for content in contents)


def test_records_over_the_limits_are_reported_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = [lo(0), lo(1, **{"ex:k": [f"v{i}" for i in range(30)]}), lo(2)]
    spec = with_reader(load_spec("elm-rdf"), max_values_per_property=10, max_record_triples=50)
    streamed(document(nodes), spec, monkeypatch)
    issues = [
        issue.code for g in harvester_for(spec.format).gather(document(nodes), spec) for issue in g.issues
    ]
    assert issues == ["too-many-values"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            json.dumps([{"@context": CONTEXT, **lo(0)}, {"@context": CONTEXT, **lo(1)}]).encode(),
            "not one JSON object",
        ),
        (json.dumps({"@graph": [lo(0)], "@context": CONTEXT}).encode(), "after @graph"),
        (document([lo(0), lo(1)], **{"@id": "http://example.org/g"}), "after @graph"),
        (json.dumps({"@context": CONTEXT, **lo(0)}).encode(), "where @graph is expected"),
        (json.dumps({"@context": CONTEXT, "@graph": lo(0)}).encode(), "not a list"),
    ],
    ids=["top-level-list", "context-after-graph", "named-graph", "one-node", "graph-not-a-list"],
)
def test_other_shapes_are_read_whole_and_logged(
    data: bytes, reason: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spec = load_spec("elm-rdf")
    whole = _items(data, spec)
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger=elm.__name__):
        patch.setattr(elm, "SPOOL_FEED_BYTES", -1)
        counted = Counted(patch)
        assert _items(data, spec) == whole
    assert whole and counted.streams == 1
    assert counted.spools <= 1  # a shape found wrong after the graph: the spool was opened, then dropped
    assert any("read whole" in r.getMessage() and reason in r.getMessage() for r in caplog.records)


def test_the_spool_file_of_a_shape_found_wrong_late_is_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(elm, "SPOOL_FEED_BYTES", -1)
    monkeypatch.setattr(rdf_spool.tempfile, "tempdir", str(tmp_path))
    spec = load_spec("elm-rdf")
    assert _items(document([lo(0), lo(1)], **{"@id": "http://example.org/g"}), spec)
    assert not list(tmp_path.iterdir())


def spooled_gather(data: bytes) -> list[Any]:
    spec = load_spec("elm-rdf")
    return list(harvester_for(spec.format).gather(data, spec))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (document([lo(0), lo(1)])[:-20], "not valid JSON-LD"),
        (document([lo(0)]) + b" trailing", "not valid JSON-LD"),
        (document([lo(0, **{"dc:title": "bad"})]).replace(b'"bad"', b'"bad \\udfff"'), "surrogate"),
        (
            json.dumps({"@context": CONTEXT, "@graph": [lo(0, **{"dc:title": "a \ud800 b"})]}).encode(),
            "surrogate",
        ),
        (document([lo(0, **{"dc:title": "OK"})]).replace(b"OK", b"\xff\xfe"), "not valid JSON-LD"),
        (b'{"@context": {"a": "http://example.org/"}, ', "not valid JSON-LD"),
    ],
    ids=[
        "truncated",
        "trailing-garbage",
        "lone-low-surrogate",
        "lone-high-surrogate",
        "not-utf8",
        "truncated-head",
    ],
)
def test_malformed_documents_are_parse_errors(
    data: bytes, match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(elm, "SPOOL_FEED_BYTES", -1)
    with pytest.raises(ParseError, match=match):
        spooled_gather(data)


@pytest.mark.parametrize("depth", [100, 200_000])
def test_deep_nesting_is_refused_as_the_parser_reaches_it(
    depth: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ijson's event prefixes grow with the depth (200,000 levels would be ~40 GB of prefixes):
    # the depth is checked on each event, so the parser never gets that far
    monkeypatch.setattr(elm, "SPOOL_FEED_BYTES", -1)
    deep = document([lo(0, **{"dc:title": "DEEP"})]).replace(
        b'"DEEP"', b'{"dc:title": ' * depth + b'"x"' + b"}" * depth
    )
    with pytest.raises(ParseError, match="nested deeper than 64"):
        spooled_gather(deep)


def test_a_deep_context_is_refused_too() -> None:
    deep = b'{"@context": ' + b"[" * 100 + b"]" * 100 + b', "@graph": []}'
    with pytest.raises(ParseError, match="nested deeper than 64"):
        GraphStream(deep, 64)


@pytest.mark.parametrize("window", [1, 2, 5, 7, 13, 8 << 20])
def test_surrogate_pairs_and_escaped_backslashes_are_not_lone_surrogates(
    window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rdf_jsonld, "_SCAN_BYTES", window)  # windows cut anywhere but inside an escape
    assert not lone_surrogate(json.dumps({"a": "smile \U0001f600"}).encode())  # \ud83d\ude00: a pair
    assert not lone_surrogate(b'{"a": "\\\\ud800"}')  # an escaped backslash, then the text "ud800"
    assert lone_surrogate(b'{"a": "\\\\\\ud800"}')  # an escaped backslash, then a lone escape
    assert lone_surrogate(b'{"a": "\\ude00\\ud83d"}')  # low before high: two lone ones
    pairs = json.dumps({"a": "\U0001f600 x \\" * 50 + "\U0001f600"}).encode()
    assert not lone_surrogate(pairs)
    assert lone_surrogate(pairs.replace(b"\\ude00", b"x", 1))  # one high surrogate left alone


def test_the_stream_reads_nothing_before_the_graph_but_the_context() -> None:
    with pytest.raises(NotStreamable, match="'name'"):
        GraphStream(json.dumps({"@context": CONTEXT, "name": "x", "@graph": []}).encode(), 64)
    stream = GraphStream(json.dumps({"@graph": [{"@id": "http://example.org/x"}]}).encode(), 64)
    assert not stream.has_context
    assert list(stream.chunks()) == [[{"@id": "http://example.org/x"}]]
