"""A `Course` as an ELM 3 LOQ graph (learning opportunity + specification), in Turtle, JSON-LD and RDF/XML.

`course_triples` builds the graph, `to_turtle` / `to_jsonld` / `to_rdfxml` serialise it, `shapes_turtle` gives
the official LOQ SHACL shapes (Python-regex safe) for validating the output.
"""

from course_catalogue.catalogue.elm.graph import course_triples, opportunity_iri
from course_catalogue.catalogue.elm.serialise import JSONLD_CONTEXT, to_jsonld, to_rdfxml, to_turtle
from course_catalogue.catalogue.elm.shapes import shapes_turtle

__all__ = [
    "JSONLD_CONTEXT",
    "course_triples",
    "opportunity_iri",
    "shapes_turtle",
    "to_jsonld",
    "to_rdfxml",
    "to_turtle",
]
