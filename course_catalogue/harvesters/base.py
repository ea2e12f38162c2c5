"""The harvester contract: split a feed's bytes into raw items, and the registry of harvesters per format.

A harvester only reads; it never maps, validates or stores. Its two kinds of trouble travel apart:

* the whole feed is unusable (not decodable, no header row, not well-formed XML) -> it raises
  `catalogue.errors.ParseError` and the run fails with nothing changed;
* one record is unreadable (a ragged CSV row, an oversized cell) -> it yields a `Gathered` whose
  `issues` say why, and the rest of the feed carries on.

`Gathered.item` is always set, so the record's position (`item.pointer`) reaches the run report.
An ERROR reader issue means the reader could not reconstruct the record faithfully: the pipeline
must not map it, and since its identity is then unknown, the run must not withdraw anything.

A feed without any record is unusable, whatever its format: a complete feed that lists nothing
would withdraw every course of its source. Each harvester says so in its own words; the harvesters
`harvester_for` hands out enforce it for every format (`NonEmpty`), so a new harvester cannot
forget it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.mappings.items import RawItem

if TYPE_CHECKING:
    from course_catalogue.mappings.spec import MappingSpec


@dataclass(frozen=True)
class Gathered:
    """One record as the reader found it, with the reader's own problems about it."""

    item: RawItem
    issues: tuple[Issue, ...] = ()

    @property
    def readable(self) -> bool:
        """False when the reader reported an ERROR: the item must not be mapped."""
        return not any(issue.severity is Severity.ERROR for issue in self.issues)


class Harvester(Protocol):
    """Reads one feed format. Stateless: one instance may serve many runs."""

    def gather(self, data: bytes, spec: MappingSpec) -> Iterator[Gathered]:
        """Yield the feed's records in document order; raise ParseError if the feed is unusable.

        `spec.reader` holds format-specific reader options (e.g. CSV delimiter or encoding).
        Implementations must stream: memory may grow with the largest record, not with the feed.
        """
        ...


_HARVESTERS: dict[str, str] = {
    # format (catalogue.sources.FORMATS) -> "module:class". Imported lazily, so a format's parser
    # libraries load only when a feed of that format is read. Adding a harvester is one line here.
    "csv": "course_catalogue.harvesters.csv:CsvHarvester",
    "elm-rdf": "course_catalogue.harvesters.elm:RdfHarvester",  # the name "rdf" had before it was general
    "rdf": "course_catalogue.harvesters.elm:RdfHarvester",
    "json": "course_catalogue.harvesters.json:JsonHarvester",
    "jsonld-pages": "course_catalogue.harvesters.pages:PagesHarvester",
    "qdr-loq": "course_catalogue.harvesters.qdr:QdrHarvester",
    "xml": "course_catalogue.harvesters.xml:XmlHarvester",
    "xcri-cap": "course_catalogue.harvesters.xml:XmlHarvester",
}


def harvester_for(format: str) -> NonEmpty:
    """The harvester for a source format (refusing feeds without a record, see `NonEmpty`);
    ConfigurationError if there is none (yet)."""
    target = _HARVESTERS.get(format)
    if target is None:
        known = ", ".join(sorted(_HARVESTERS))
        raise ConfigurationError(f"no harvester for format {format!r} yet; available: {known}")
    module_name, _, class_name = target.partition(":")
    harvester: Harvester = getattr(importlib.import_module(module_name), class_name)()
    return NonEmpty(harvester)


EMPTY_FEED = (
    "the feed has no record: an empty feed is refused, so that a broken, truncated or foreign feed "
    "cannot withdraw every course of its source (to withdraw them, delete the source)"
)


@dataclass
class ItemBudget:
    """How big the items of one feed may grow through what a harvester copies into them (QDR
    `idref` targets, XML context shells): `record` bytes per item, `feed` bytes for all of them.
    `room()` is what the next item may use; `refusal()` accounts an item or says why it is
    refused (an ERROR: the item is reported, not processed, and the rest of the feed carries on)."""

    record: int
    feed: int
    used: int = 0

    @classmethod
    def for_feed(cls, max_record_bytes: int, max_expansion: int, feed_bytes: int) -> ItemBudget:
        """`max_expansion` bytes of items per byte of feed, plus one record's cap (so a feed of
        one record may always use it)."""
        return cls(max_record_bytes, max_expansion * feed_bytes + max_record_bytes)

    def room(self) -> int:
        return max(0, min(self.record, self.feed - self.used))

    def refusal(self, size: int, pointer: str | None, ref: str | None) -> Issue | None:
        """None (and `size` counted) when an item of `size` bytes fits; else the ERROR."""
        if size > self.record:
            message = (
                f"the record grows to more than {self.record} bytes through the elements it copies "
                "(linked or enclosing elements; reader.max_record_bytes): it was not processed"
            )
            return Issue(Severity.ERROR, message, record_ref=ref, pointer=pointer, code="record-too-large")
        if self.used + size > self.feed:
            message = (
                f"the feed's records together grow to more than {self.feed} bytes through the elements "
                "they copy (reader.max_expansion times the feed, plus one record): this record was "
                "not processed"
            )
            return Issue(Severity.ERROR, message, record_ref=ref, pointer=pointer, code="feed-too-large")
        self.used += size
        return None


@dataclass(frozen=True)
class NonEmpty:
    """A harvester that raises ParseError, after the last record, when it yielded none."""

    harvester: Harvester

    def gather(self, data: bytes, spec: MappingSpec) -> Iterator[Gathered]:
        found = False
        for gathered in self.harvester.gather(data, spec):
            found = True
            yield gathered
        if not found:
            raise ParseError(EMPTY_FEED)


def harvester_formats() -> tuple[str, ...]:
    """Formats that have a harvester, sorted."""
    return tuple(sorted(_HARVESTERS))
