"""The feed formats a source may declare: one table, from which the other registries derive.

Each format names the media type of the raw items its reader produces (which selects the
mapping's selector language: `mappings.selectors.FORMAT_MEDIA_TYPES` is derived from here) and
its reader (`harvesters.base.harvester_for` imports it lazily from the "module:class" given, so
a format's parser libraries load only when a feed of that format is read). Adding a format is
one row here, a reader in `harvesters/`, and, for a new item media type, a selector language
(docs/architecture.md). `Source.format` is checked against this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

CSV_ROW = "application/vnd.catalogue.csv-row+json"
XML = "application/xml"
N_TRIPLES = "application/n-triples"
JSON = "application/json"


@dataclass(frozen=True)
class Format:
    name: str
    items: str
    """Media type of the raw items its reader produces."""
    reader: str
    """"module:class" of its harvester."""


_READERS = "course_catalogue.harvesters"
FORMATS: Mapping[str, Format] = MappingProxyType(
    {
        f.name: f
        for f in (
            Format("csv", CSV_ROW, f"{_READERS}.csv:CsvHarvester"),
            Format("xcri-cap", XML, f"{_READERS}.xml:XmlHarvester"),
            Format(
                "elm-rdf", N_TRIPLES, f"{_READERS}.elm:RdfHarvester"
            ),  # "rdf"'s name before it was general
            Format("qdr-loq", XML, f"{_READERS}.qdr:QdrHarvester"),
            Format("xml", XML, f"{_READERS}.xml:XmlHarvester"),
            Format("json", JSON, f"{_READERS}.json:JsonHarvester"),
            Format("rdf", N_TRIPLES, f"{_READERS}.elm:RdfHarvester"),
            Format("jsonld-pages", N_TRIPLES, f"{_READERS}.pages:PagesHarvester"),
        )
    }
)
