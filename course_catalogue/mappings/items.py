"""RawItem: one record as it stood in the feed, before mapping.

Harvesters split a feed into RawItems; mappings turn one RawItem into a course. The raw bytes are
what the store keeps for replay (`catalogue remap`), so a mapping must be able to work from
`content` + `media_type` alone; `parsed` is only a cache the harvester may fill to save a re-parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from course_catalogue.catalogue import formats

CSV_ROW = formats.CSV_ROW  # the media types are named in the one formats table
"""Media type of a CSV row stored as a JSON object {column header: cell text}."""


@dataclass(frozen=True)
class RawItem:
    """`content`: the record's own bytes. `pointer`: where it sits in the feed ("line 12", an
    XPath, a subject IRI). `guid`: the provider's id when the harvester can tell it without a
    mapping (RDF subject IRIs), else None and the mapping's id rule decides."""

    content: bytes
    media_type: str
    pointer: str | None = None
    guid: str | None = None
    parsed: Any = field(default=None, compare=False, repr=False)
