"""Serialise a course's ELM graph as Turtle, JSON-LD or RDF/XML (pyoxigraph writes all three;
nothing is fetched).

pyoxigraph writes JSON-LD in expanded form only, and compacting with the remote EDC context would
need a JSON-LD processor and that context at run time. We therefore shorten the expanded
document ourselves with a local prefix-only `@context`: property IRIs become CURIEs
("dc:title"), `rdf:type` becomes `@type`. Expansion is unaffected, so any JSON-LD processor
reads back exactly the triples of the Turtle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pyoxigraph import RdfFormat, serialize

from course_catalogue.catalogue.elm.graph import ADMS, DC, ELM, FOAF, RDF, ROV, SKOS, XSD, course_triples
from course_catalogue.catalogue.model import Course

PREFIXES: Mapping[str, str] = {
    "elm": ELM,
    "dc": DC,
    "skos": SKOS,
    "foaf": FOAF,
    "rov": ROV,
    "adms": ADMS,
    "rdf": RDF,
    "xsd": XSD,
}
JSONLD_CONTEXT: Mapping[str, str] = dict(PREFIXES)
"""The local @context of our JSON-LD: the prefixes only."""


def to_turtle(course: Course, base: str) -> bytes:
    """The course's ELM graph as UTF-8 Turtle with the usual ELM prefixes."""
    data = serialize(course_triples(course, base), format=RdfFormat.TURTLE, prefixes=dict(PREFIXES))
    assert data is not None  # no output file given: serialize returns the bytes
    return data


def to_rdfxml(course: Course, base: str) -> bytes:
    """The course's ELM graph as UTF-8 RDF/XML (an `rdf:RDF` document), e.g. for OAI-PMH."""
    data = serialize(course_triples(course, base), format=RdfFormat.RDF_XML, prefixes=dict(PREFIXES))
    assert data is not None
    return data


def to_jsonld(course: Course, base: str) -> dict[str, Any]:
    """The course's ELM graph as a JSON-LD document: {"@context": prefixes, "@graph": [nodes]}."""
    data = serialize(course_triples(course, base), format=RdfFormat.JSON_LD)
    assert data is not None
    expanded = json.loads(data)
    nodes = expanded if isinstance(expanded, list) else expanded.get("@graph", [expanded])
    root = f"{base}{course.id}"
    nodes.sort(key=lambda node: (node.get("@id") != root, str(node.get("@id"))))  # the opportunity first
    return {"@context": dict(JSONLD_CONTEXT), "@graph": [_compact_node(node) for node in nodes]}


def _curie(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and iri[len(namespace) :].replace("_", "").replace("-", "").isalnum():
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


def _compact_node(node: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key == RDF + "type":
            result["@type"] = [_curie(item["@id"]) for item in value]
        elif key.startswith("@"):
            result[key] = value
        else:
            result[_curie(key)] = [_compact_value(item) for item in value]
    if "@type" in result and "@id" in result:  # keep "@id", "@type" first for readers
        result = {"@id": result.pop("@id"), "@type": result.pop("@type"), **result}
    return result


def _compact_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "@type" in value and isinstance(value["@type"], str):
            return {**value, "@type": _curie(value["@type"])}
        if "@id" not in value and "@value" not in value:
            return _compact_node(value)  # a nested node (pyoxigraph may embed blank nodes)
    return value
