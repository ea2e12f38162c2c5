"""The metadata formats our OAI-PMH repository disseminates: `oai_dc` and `elm` (ELM LOQ RDF/XML).

Every course can be disseminated in both, so ListMetadataFormats always lists both.

* `oai_dc`: simple Dublin Core of the course: title and description per language, the provider
  as publisher, languages (ISO 639 codes), ISCED-F field labels as subjects, the type, the
  course's web page as identifier, start/end dates and the countries (provider and places).
* `elm`: the course's ELM 3 LOQ graph (the same one the API serves as JSON-LD/Turtle) as one
  `rdf:RDF` element. RDF/XML has no XML schema of its own; we name the RDF namespace and the
  schema OAI publishes for RDF payloads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from course_catalogue.catalogue import vocabularies as vocab
from course_catalogue.catalogue.elm import to_rdfxml
from course_catalogue.catalogue.model import Course, LangText
from course_catalogue.catalogue.oai.protocol import NOT_XML

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
COURSE_TYPE = "Learning opportunity"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    build: Callable[[Course, str], etree._Element]
    """(course, base IRI of our course records) -> the element inside <metadata>."""


def xml_text(value: str) -> str:
    return NOT_XML.sub("", value)  # XML 1.0 cannot carry them: dropped from text we write


def _dc(parent: etree._Element, name: str, value: str, lang: str | None = None) -> None:
    text = xml_text(value).strip()
    if not text:
        return
    element = etree.SubElement(parent, f"{{{DC_NS}}}{name}")
    element.text = text
    if lang and lang != "und":
        element.set(XML_LANG, lang)


def _dc_lang(parent: etree._Element, name: str, text: LangText) -> None:
    for lang, value in text.items():
        _dc(parent, name, value, lang)


def oai_dc(course: Course, base: str) -> etree._Element:
    """The course as an `oai_dc:dc` element (see the module docstring for the mapping)."""
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd")
    _dc_lang(root, "title", course.title)
    _dc_lang(root, "description", course.description)
    _dc_lang(root, "publisher", course.provider.name)
    for body in course.awarding_bodies:
        _dc_lang(root, "contributor", body.name)
    for code in course.languages:
        _dc(root, "language", code)
    for code in course.isced_f:
        _dc(root, "subject", vocab.isced_label(code), "en")
    for keyword in course.keywords:
        _dc(root, "subject", keyword)
    _dc(root, "type", COURSE_TYPE, "en")
    if course.opportunity_type:
        _dc(root, "type", course.opportunity_type)
    if course.url:
        _dc(root, "identifier", course.url)
    _dc(root, "identifier", f"{base}{course.id}")
    for day in (course.start_date, course.end_date):
        if day is not None:
            _dc(root, "date", day.isoformat())
    countries = [course.provider.country, *(location.country for location in course.locations)]
    for code in dict.fromkeys(c for c in countries if c):
        _dc(root, "coverage", vocab.country_label(code), "en")
    return root


def elm(course: Course, base: str) -> etree._Element:
    """The course's ELM LOQ graph as an `rdf:RDF` element."""
    return etree.fromstring(to_rdfxml(course, base), _PARSER)


FORMATS: Mapping[str, MetadataFormat] = {
    "oai_dc": MetadataFormat("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC_NS, oai_dc),
    "elm": MetadataFormat("elm", "http://www.openarchives.org/OAI/2.0/rdf.xsd", RDF_NS, elm),
}
