"""A feed file mapped into memory (`open_feed`) reads exactly as its bytes do, in every format.

Large feeds reach the readers mapped, not read whole (the CLI's `--file`, the benchmarks): the
readers must not tell the difference, and `MappedFeed`'s own `bytes` methods must agree with
`bytes`'.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from course_catalogue.harvesters.base import MappedFeed, feed_chunks, feed_stream, harvester_for, open_feed
from course_catalogue.mappings.spec import load_spec

FIXTURES = Path(__file__).parent.parent / "fixtures"

CASES = [
    ("csv_edx_courses.csv", "edx-csv"),
    ("ooapi_course_example.json", "ooapi"),
    ("lheo_handmade.xml", "lheo"),
    ("xcri-cap12_open_university_2011.xml", "xcri-cap"),
    ("qdr_loq_handmade.xml", "qdr-loq"),
    ("elm3.1_qdr_loq_learning_opportunities.xml", "qdr-loq"),
    ("lo_example_loq.ttl", "elm-rdf"),
    ("elm3_microcredential_annex1_unsigned.jsonld", "elm-rdf"),
]


def _read(data: bytes | MappedFeed, spec_name: str) -> list[tuple[object, ...]]:
    spec = load_spec(spec_name)
    return [
        (g.item.guid, g.item.pointer, g.item.content, g.item.media_type, g.issues, g.unread)
        for g in harvester_for(spec.format).gather(data, spec)
    ]


@pytest.mark.parametrize(("fixture", "spec_name"), CASES)
def test_a_mapped_feed_reads_as_its_bytes(fixture: str, spec_name: str) -> None:
    path = FIXTURES / fixture
    expected = _read(path.read_bytes(), spec_name)
    assert expected
    with open_feed(path) as mapped:
        assert isinstance(mapped, MappedFeed)
        assert _read(mapped, spec_name) == expected


def test_a_mapped_rdf_xml_feed_with_a_bom_reads_as_its_bytes(tmp_path: Path) -> None:
    quads = ox.parse((FIXTURES / "lo_example_loq.ttl").read_bytes(), ox.RdfFormat.TURTLE)
    rdfxml = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.RDF_XML)
    assert rdfxml is not None
    path = tmp_path / "feed.rdf"
    path.write_bytes(b"\xef\xbb\xbf" + rdfxml)
    expected = _read(path.read_bytes(), "elm-rdf")
    assert expected
    with open_feed(path) as mapped:
        assert _read(mapped, "elm-rdf") == expected


def test_a_bom_and_a_mapped_csv(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(b"\xef\xbb\xbfid,title\r\n1,Welding\r\n")
    with open_feed(path) as mapped:
        assert mapped.startswith(b"\xef\xbb\xbf") and mapped.startswith((b"x", b"\xef"))
        assert not mapped.startswith(b"id")


def test_count_agrees_with_bytes_across_chunks(tmp_path: Path) -> None:
    # "ab" straddles the 1 MiB chunk boundary once; the ranges cut through occurrences too.
    content = b"x" * ((1 << 20) - 1) + b"ab" + b"\nab" * 1000 + b"a"
    path = tmp_path / "feed.bin"
    path.write_bytes(content)
    with open_feed(path) as mapped:
        for sub in (b"ab", b"\n", b"a", b"xa"):
            for start, end in ((0, None), (5, len(content) - 3), ((1 << 20), (1 << 20) + 1), (10, 4)):
                assert mapped.count(sub, start, end) == content.count(sub, start, end), (sub, start, end)


def test_streams_over_a_mapped_feed_are_independent(tmp_path: Path) -> None:
    path = tmp_path / "feed.bin"
    path.write_bytes(bytes(range(256)) * 1000)
    with open_feed(path) as mapped:
        first, second = feed_stream(mapped), feed_stream(mapped)
        assert first.read(10) == bytes(range(10))
        assert second.read() == path.read_bytes()
        assert first.read(5) == bytes(range(10, 15))


def test_an_empty_file_is_an_empty_feed(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with open_feed(path) as data:
        assert data == b""


def test_released_pages_read_back_and_chunks_cover_the_feed(tmp_path: Path) -> None:
    content = bytes(range(256)) * 5000
    path = tmp_path / "feed.bin"
    path.write_bytes(content)
    with open_feed(path) as mapped:
        assert isinstance(mapped, MappedFeed)
        assert mapped[:100] == content[:100]
        mapped.release()
        assert mapped[:] == content
        assert b"".join(bytes(chunk) for _, chunk in feed_chunks(mapped, 4096)) == content
        assert [start for start, _ in feed_chunks(mapped, 500_000)] == [0, 500_000, 1_000_000]
