"""Hostile RDF for the ELM harvester: entity declarations anywhere, deep JSON-LD, many values.

Issue 22 classes 6 (a DOCTYPE after a megabyte of comment passed the entity check) and 7 (reading
was quadratic in the values of one subject and property). The end-to-end and memory-bounded
versions are in tests/reliability/test_hostile_content.py.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from catalogue.errors import ParseError
from harvesters.base import Gathered
from harvesters.elm import ElmRdfHarvester, check_rdfxml_doctype

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
