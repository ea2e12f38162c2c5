"""Hostile RDF for the ELM harvester: entity declarations anywhere, deep JSON-LD, many values.

Issue 22 classes 6 (a DOCTYPE after a megabyte of comment passed the entity check) and 7 (reading
was quadratic in the values of one subject and property). The end-to-end and memory-bounded
versions are in tests/reliability/test_hostile_content.py.
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.harvesters.base import Gathered
from course_catalogue.harvesters.elm import MAX_VALUES_PER_PROPERTY, ElmRdfHarvester, check_rdfxml_doctype
from course_catalogue.mappings.rdf_graph import parse_ntriples
from course_catalogue.mappings.spec import load_spec

SPECS = Path(__file__).parents[2] / "course_catalogue" / "mappings" / "specs"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
ELM = "http://data.europa.eu/snb/model/elm/"
LO = "https://catalogue.example.org/id/lo-1"


def gather(data: bytes, **reader: Any) -> list[Gathered]:
    return list(ElmRdfHarvester().gather(data, SimpleNamespace(reader=reader)))  # type: ignore[arg-type]


def rdfxml(
    body: str = '<dc:title xml:lang="en">Data</dc:title>', prolog: str = "", inside: str = ""
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:elm="{ELM}" xmlns:dc="http://purl.org/dc/terms/">{inside}'
        f'<elm:LearningOpportunity rdf:about="{LO}">{body}</elm:LearningOpportunity></rdf:RDF>'
    ).encode()


LAUGHS = '<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
COMMENT = "<!--" + "c" * 1_100_000 + "-->"


# -- class 6: entity declarations, wherever they sit ----------------------------------------


@pytest.mark.parametrize(
    ("feed", "why"),
    [
        # the tester's: the old check read the first megabyte only
        (rdfxml("<dc:title>&b;</dc:title>", prolog=COMMENT + f"<!DOCTYPE rdf:RDF [{LAUGHS}]>"), "nested"),
        # not XML at all, but pyoxigraph reads (and expands) a DOCTYPE inside the root
        (rdfxml("<dc:title>&b;</dc:title>", inside=f"<!DOCTYPE rdf:RDF [{LAUGHS}]>"), "outside the prolog"),
        (
            rdfxml("<dc:title>x</dc:title>", inside=COMMENT + '<!DOCTYPE x [<!ENTITY a "a">]>'),
            "outside the prolog",
        ),
        (rdfxml("<dc:title>&a;</dc:title>", inside='<!doctype x [<!entity a "a">]>'), "outside the prolog"),
        (rdfxml(prolog='<!DOCTYPE rdf:RDF SYSTEM "http://127.0.0.1:9/evil.dtd">'), "external DTD"),
        (rdfxml(prolog='<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "file:///etc/passwd">]>'), "external"),
        (rdfxml(prolog='<!DOCTYPE rdf:RDF [<!ENTITY % p "x">]>'), "parameter"),
        (rdfxml(prolog=f'<!DOCTYPE rdf:RDF [<!ENTITY a "{"a" * 3000}">]>'), "over 2048"),
        # one short, flat entity used 100,000 times: no nesting, still 100,000 times its size
        (
            rdfxml(
                "<dc:title>" + "&a;" * 100_000 + "</dc:title>",
                prolog=f'<!DOCTYPE rdf:RDF [<!ENTITY a "{"a" * 500}">]>',
            ),
            "would expand",
        ),
        # a declaration hidden in a comment of the DTD: what pyoxigraph sees is not what lxml sees
        (rdfxml(prolog='<!DOCTYPE rdf:RDF [<!-- <!ENTITY a "a"> --><!ENTITY b "b">]>'), "outside the prolog"),
    ],
)
def test_entity_declarations_are_refused_wherever_they_are(feed: bytes, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        check_rdfxml_doctype(feed)
    with pytest.raises(ParseError):
        gather(feed)


def test_plain_namespace_abbreviations_still_work() -> None:
    """The RDF/XML idiom (`&elm;`, as Protege and the OWL API write it) stays readable."""
    prolog = f'<!DOCTYPE rdf:RDF [<!ENTITY elm "{ELM}"> <!ENTITY dc "http://purl.org/dc/terms/">]>'
    body = '<rdf:type rdf:resource="&elm;LearningOpportunity"/><dc:title xml:lang="en">Data</dc:title>'
    (item,) = gather(rdfxml(body, prolog=COMMENT + prolog))
    assert item.item.guid == LO and b"Data" in item.item.content


def test_a_feed_without_declarations_is_not_parsed_twice() -> None:
    check_rdfxml_doctype(b"<not even xml")  # no DOCTYPE, no ENTITY: nothing to check, pyoxigraph reads it


# -- JSON-LD: no DTD, but nesting and lone surrogates -----------------------------------------


def jsonld(title: Any) -> bytes:
    document = {
        "@context": {"elm": ELM, "dc": "http://purl.org/dc/terms/"},
        "@id": LO,
        "@type": "elm:LearningOpportunity",
        "dc:title": title,
    }
    return json.dumps(document).encode()


@pytest.mark.parametrize("depth", [200, 5_000, 200_000])
def test_deeply_nested_json_ld_is_refused_before_the_parser(depth: int) -> None:
    # pyoxigraph's JSON-LD parser recurses: 5,000 nested objects crashed the process (SIGSEGV)
    deep = jsonld("DEEP").replace(b'"DEEP"', b'{"dc:title": ' * depth + b'"x"' + b"}" * depth)
    with pytest.raises(ParseError, match="nested"):
        gather(deep)


def test_a_lone_surrogate_in_json_ld_is_a_parse_error() -> None:
    # it was an internal error (UnicodeEncodeError re-encoding the document for the parser)
    with pytest.raises(ParseError, match="surrogate"):
        gather(jsonld("Data \ud800"))


# -- class 7: many values of one subject and property ------------------------------------------

KEYWORD = ELM + "keyword"
TITLE = "http://purl.org/dc/terms/title"


def turtle(lo: str, n: int, predicate: str = KEYWORD, *, extra: str = "") -> bytes:
    values = ", ".join(f'"value {i}"@en' for i in range(n))
    return (
        f'<{lo}> a <{ELM}LearningOpportunity> ; <{TITLE}> "Data"@en ; <{predicate}> {values} .\n{extra}'
    ).encode()


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    """Turns a hang into a failure; not a timing assertion (the honest run takes a few seconds)."""

    def fire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"still reading after {seconds} s: quadratic again?")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_reading_many_values_of_one_property_is_linear() -> None:
    """300,000 values of one subject and property: ~2 s when linear; the old de-duplication (a
    list scan per value) needed about (300k)^2 / 2 comparisons, an hour. Duplicates still go."""
    n = 300_000
    feed = turtle(LO, n) + f'<{LO}> <{KEYWORD}> "value 7"@en, "value 7"@en .\n'.encode()
    with hang_guard(240):
        (item,) = gather(feed, max_values_per_property=n, max_record_triples=n + 10)
    assert item.readable, item.issues
    assert item.item.content.count(f"<{KEYWORD}>".encode()) == n  # duplicates dropped once


def test_more_values_than_the_limit_reject_the_record_not_the_feed() -> None:
    other = "https://catalogue.example.org/id/lo-2"
    feed = turtle(LO, 101) + turtle(other, 3)
    first, second = gather(feed, max_values_per_property=100)
    assert not first.readable and second.readable
    (issue,) = [i for i in first.issues if i.code == "too-many-values"]
    assert issue.severity.value == "error" and KEYWORD in issue.message and "100" in issue.message
    assert issue.pointer == LO and first.item.content == b""  # reported, not processed


def test_the_default_limits_apply_without_configuration() -> None:
    (item,) = gather(turtle(LO, MAX_VALUES_PER_PROPERTY + 1))
    assert [i.code for i in item.issues] == ["too-many-values"]


def test_a_record_over_the_triple_limit_is_rejected_not_cut() -> None:
    (item,) = gather(turtle(LO, 60), max_record_triples=50)
    assert not item.readable
    (issue,) = item.issues
    assert issue.code == "record-too-large" and "50" in issue.message


def test_a_deep_chain_of_blank_nodes_is_read_without_recursion() -> None:
    """Blank-node labels hash each node's content, children first: a recursion that a chain of
    5,000 blank nodes took past Python's limit (an internal error)."""
    chain = "".join(f"[ <{KEYWORD}> " for _ in range(5_000)) + '"end"' + " ]" * 5_000
    feed = f'<{LO}> a <{ELM}LearningOpportunity> ; <{TITLE}> "Data"@en ; <{KEYWORD}> {chain} .'.encode()
    (item,) = gather(feed)
    assert item.readable and item.item.content.count(b"_:b") >= 5_000
    again = gather(feed)[0]
    assert again.item.content == item.item.content  # labels stay canonical


@pytest.mark.parametrize("key", ["max_values_per_property", "max_record_triples"])
@pytest.mark.parametrize("value", [0, -1, "10", True])
def test_limits_must_be_positive_integers(key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=key):
        gather(turtle(LO, 1), **{key: value})


def test_a_mapping_sets_the_limits_in_its_reader_table(tmp_path: Path) -> None:
    text = (SPECS / "elm-rdf.toml").read_text(encoding="utf-8")
    shutil.copytree(SPECS / "contexts", tmp_path / "contexts")  # the local JSON-LD contexts it names
    path = tmp_path / "tight.toml"
    path.write_text(
        text.replace("\n[reader]\n", "\n[reader]\nmax_values_per_property = 2\nmax_record_triples = 100\n"),
        encoding="utf-8",
    )
    spec = load_spec(str(path))
    (item,) = ElmRdfHarvester().gather(turtle(LO, 3), spec)
    assert [i.code for i in item.issues] == ["too-many-values"]
    path.write_text(
        text.replace("\n[reader]\n", '\n[reader]\nmax_values_per_property = "many"\n'), encoding="utf-8"
    )
    with pytest.raises(
        ConfigurationError, match=r"reader\.max_values_per_property: must be a positive integer"
    ):
        load_spec(str(path))


def test_replaying_a_stored_record_with_many_values_is_linear() -> None:
    """A stored record is read back with `parse_ntriples` (remap): its de-duplication was the
    same list scan per value (200,000 values: 2 * 10**10 comparisons)."""
    n = 200_000
    lines = "".join(f'<{LO}> <{KEYWORD}> "v{i}" .\n' for i in range(n)) + f'<{LO}> <{KEYWORD}> "v1" .\n'
    with hang_guard(120):
        graph = parse_ntriples(lines.encode())
    assert len(graph.objects(LO, KEYWORD)) == n
