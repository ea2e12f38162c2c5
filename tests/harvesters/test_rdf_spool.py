"""A large RDF feed is cut into records from a temporary SQLite file (`rdf_spool.SpooledGraph`)
instead of an in-memory index: the items must be exactly those of the in-memory reader.

Every case is read twice, once in memory and once spooled (`SPOOL_FEED_BYTES` lowered so even a
small feed spools), and the two lists of items compared whole: guid, pointer, N-Triples bytes,
reader issues and unread paths. The feeds: the official ELM samples and the real-feed corpus
(JSON-LD feeds re-serialised as N-Triples, since JSON-LD is never spooled), Open Badges
credentials (records that take in the nodes pointing at them), a generated multi-record feed with
shared organisations, and hostile shapes (blank-node records, crowded properties, oversize
records, cycles).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

import course_catalogue.harvesters.elm as elm
import course_catalogue.harvesters.rdf_spool as rdf_spool
from course_catalogue.catalogue.errors import ParseError
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.harvesters.elm import read_graph, reading_of
from course_catalogue.mappings.rdf_graph import Lit, record_document
from course_catalogue.mappings.spec import MappingSpec, load_spec

FIXTURES = Path(__file__).parent.parent / "fixtures"
CORPUS = FIXTURES / "corpus"
PREFIXES = """@prefix elm: <http://data.europa.eu/snb/model/elm/> .
@prefix dc: <http://purl.org/dc/terms/> .
@prefix ex: <http://example.org/> .
"""


def _items(data: bytes, spec: Any) -> list[tuple[Any, ...]]:
    return [
        (g.item.guid, g.item.pointer, g.item.content, g.item.media_type, g.issues, g.unread)
        for g in harvester_for(spec.format).gather(data, spec)
    ]


def both(data: bytes, spec: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The items in memory and spooled, asserted equal (and the spooled run really spooled)."""
    in_memory = _items(data, spec)
    spools: list[object] = []
    original = rdf_spool.SpooledGraph.__init__

    def counting(self: rdf_spool.SpooledGraph, *args: Any, **kwargs: Any) -> None:
        spools.append(self)
        original(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(elm, "SPOOL_FEED_BYTES", -1)
        patch.setattr(rdf_spool.SpooledGraph, "__init__", counting)
        spooled = _items(data, spec)
    assert len(spools) == 1
    assert spooled == in_memory
    return in_memory


def as_ntriples(data: bytes, spec: Any) -> bytes:
    """A JSON-LD feed's triples as N-Triples (what the reader parses from it)."""
    graph, _, _ = read_graph(data, "json-ld", reading=reading_of(spec))
    return record_document(graph.triples())[0]


def with_reader(spec: MappingSpec, **options: Any) -> MappingSpec:
    return replace(spec, reader={**(spec.reader or {}), **options})


def as_rdfxml(turtle: bytes) -> bytes:
    quads = ox.parse(turtle, ox.RdfFormat.TURTLE)
    serialised = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.RDF_XML)
    assert serialised is not None
    return serialised


def test_the_official_turtle_sample_and_its_rdf_xml(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec("elm-rdf")
    turtle = (FIXTURES / "lo_example_loq.ttl").read_bytes()
    assert both(turtle, spec, monkeypatch)
    assert both(as_rdfxml(turtle), spec, monkeypatch)


@pytest.mark.parametrize(
    ("path", "spec_name"),
    [
        (CORPUS / "elm-rdf" / "elm3_certificate_of_participation_unsigned.jsonld", "elm-rdf"),
        (FIXTURES / "elm3_microcredential_annex1_unsigned.jsonld", "elm-rdf"),
        *[(path, "open-badges") for path in sorted((CORPUS / "openbadges").glob("*.json"))],
    ],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_corpus_feeds_as_ntriples(path: Path, spec_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(spec_name)
    ntriples = as_ntriples(path.read_bytes(), spec)
    assert both(ntriples, with_reader(spec, syntax="turtle"), monkeypatch)


def test_a_generated_feed_of_many_records_sharing_organisations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.generate import write_feed

    path = tmp_path / "feed.ttl"
    write_feed("elm-rdf", path, 300, 7)
    items = both(path.read_bytes(), load_spec("elm-rdf"), monkeypatch)
    assert len(items) > 250


def test_the_signature_memo_may_be_forgotten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Blank nodes shared by records, the memo cleared after every other signature.
    feed = PREFIXES + "".join(
        f'ex:lo{n} a elm:LearningOpportunity ; dc:title "t{n}"@en ; elm:location _:place{n % 3} .\n'
        for n in range(20)
    )
    feed += "".join(f'_:place{n} dc:title "place {n}" ; ex:in [ ex:name "town {n}" ] .\n' for n in range(3))
    monkeypatch.setattr(elm, "BLANK_SIGNATURES_KEPT", 2)
    assert len(both(feed.encode(), load_spec("elm-rdf"), monkeypatch)) == 20


@pytest.mark.parametrize(
    ("feed", "reader", "codes"),
    [
        # blank-node records, typed twice, in an order of first types that is not the order of roots
        (
            'ex:x a ex:Other .\n[] a elm:LearningOpportunity ; dc:title "blank"@en .\n'
            'ex:lo2 dc:title "second"@en .\nex:x a elm:LearningOpportunity .\n'
            "ex:lo2 a elm:LearningOpportunity .\n",
            {},
            [[], ["blank-node-id"], []],
        ),
        # a crowded property: the record reaching it is an ERROR, the others are read
        (
            "ex:lo1 a elm:LearningOpportunity ; elm:providedBy ex:org .\n"
            'ex:lo2 a elm:LearningOpportunity ; dc:title "x"@en .\n'
            + "".join(f'ex:org dc:title "name {n}" .\n' for n in range(6)),
            {"max_values_per_property": 3},
            [["too-many-values"], []],
        ),
        # an oversize record; cycles; links between records stop at the other root; duplicates
        (
            "ex:lo1 a elm:LearningOpportunity ; ex:next ex:lo2 ; ex:p ex:a .\nex:a ex:p ex:b .\n"
            'ex:b ex:p ex:a ; ex:q "1", "2", "3", "1" .\n'
            'ex:lo2 a elm:LearningOpportunity ; ex:next ex:lo1 ; dc:title "t"@en, "t"@en .\n',
            {"max_record_triples": 4},
            [["record-too-large"], []],
        ),
        # literals of every kind, a long literal dropped, a dropped predicate
        (
            'ex:lo1 a elm:LearningOpportunity ; dc:title "a\\u0000b"@EN-gb, "plain", '
            '"5"^^<http://www.w3.org/2001/XMLSchema#int> ; '
            f'dc:description "{"x" * (elm.MAX_LITERAL_CHARS + 1)}" ; elm:content "dropped" .\n',
            {},
            [[]],
        ),
    ],
)
def test_hostile_shapes(
    feed: str, reader: dict[str, Any], codes: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = with_reader(load_spec("elm-rdf"), **reader)
    items = both((PREFIXES + feed).encode(), spec, monkeypatch)
    assert [[issue.code for issue in item[4]] for item in items] == codes


def test_a_spooled_feed_without_records_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(elm, "SPOOL_FEED_BYTES", -1)
    spec = load_spec("elm-rdf")
    with pytest.raises(ParseError, match="has no subject typed"):
        list(harvester_for("elm-rdf").gather((PREFIXES + 'ex:a dc:title "x" .\n').encode(), spec))
    with pytest.raises(ParseError, match="is empty"):
        list(harvester_for("elm-rdf").gather(PREFIXES.encode(), spec))
    with pytest.raises(ParseError, match="not valid TURTLE"):
        list(harvester_for("elm-rdf").gather(b"ex:a ex:b", spec))


def test_literals_round_trip_through_the_spool() -> None:
    for term in ("http://example.org/a", "_:b1", Lit("a\0b\0c", "en", "x:y"), Lit("", None, "x:string")):
        assert rdf_spool.decode(rdf_spool.encode(term)) == term
