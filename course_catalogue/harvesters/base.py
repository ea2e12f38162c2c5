"""The harvester contract: split a feed's bytes into raw items, and the registry of harvesters per format.

A harvester only reads; it never maps, validates or stores. Its two kinds of trouble travel apart:

* the whole feed is unusable (not decodable, no header row, not well-formed XML) -> it raises
  `catalogue.errors.ParseError` and the run fails with nothing changed;
* one record is unreadable (a ragged CSV row, an oversized cell) -> it yields a `Gathered` whose
  `issues` say why, and the rest of the feed carries on.

`Gathered.item` is always set, so the record's position (`item.pointer`) reaches the run report.
An ERROR reader issue means the reader could not reconstruct the record faithfully: the pipeline
must not map it, and since its identity is then unknown, the run must not withdraw anything.

How a feed reaches a reader (`Feed`): the bytes of a download or upload, or a file mapped into
memory (`open_feed`, a `MappedFeed`), so a feed of gigabytes is paged in by the kernel as a reader
streams it instead of being copied into the process. Readers use the bytes API both share (`len`,
slices, `startswith`, `count`, `memoryview`, `re`) and read it as a stream through `feed_stream`,
never `io.BytesIO(data)` (which would copy a mapped file whole).

A feed without any record is unusable, whatever its format: a complete feed that lists nothing
would withdraw every course of its source. Each harvester says so in its own words; the harvesters
`harvester_for` hands out enforce it for every format (`NonEmpty`), so a new harvester cannot
forget it.
"""

from __future__ import annotations

import importlib
import io
import mmap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.formats import FORMATS
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.jsonld_keys import UnreadPath

if TYPE_CHECKING:
    from course_catalogue.harvesters.http import Fetcher
    from course_catalogue.mappings.spec import MappingSpec

FetcherFactory = Callable[[int], "Fetcher"]
"""Makes the fetcher a harvester that fetches further documents (web pages) uses, given the size
cap per document: built by the caller from the same settings as the feed's own fetch (SSRF guard
and `allow_private`, timeouts, transport)."""


class MappedFeed(mmap.mmap):
    """A feed file mapped read-only into memory (see `open_feed`): bytes-like for what readers
    ask of a feed (length, slices, `find`, `memoryview`, `re`) plus the two `bytes` methods
    they use that `mmap` lacks, each without copying the file.

    Pages a reader touches count in the process's resident memory until they are unmapped:
    `release()` drops them (they stay in the kernel's page cache and fault back in when touched
    again), which the streams of `feed_stream` do as they go, so reading a feed of gigabytes
    leaves the resident set bounded."""

    def release(self) -> None:
        """Drop the mapped pages from the resident set (the data stays readable)."""
        self.madvise(mmap.MADV_DONTNEED)

    def startswith(self, prefix: bytes | tuple[bytes, ...]) -> bool:
        prefixes = (prefix,) if isinstance(prefix, bytes) else prefix
        longest = max((len(p) for p in prefixes), default=0)
        return self[:longest].startswith(prefixes)

    def count(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """Occurrences of `sub` in `self[start:end]`, counted in chunks."""
        end = len(self) if end is None else min(end, len(self))
        found, step = 0, max(_CHUNK, 2 * len(sub))
        position = start
        while position < end:
            stop = min(end, position + step)
            # overlap by len(sub) - 1 so an occurrence across two chunks is counted once
            chunk = self[position : min(end, stop + len(sub) - 1)]
            found += chunk.count(sub) - chunk[stop - position :].count(sub)
            position = stop
        return found


_CHUNK = 1 << 20
_RELEASE_EVERY = 32 << 20  # bytes a stream reads between two `MappedFeed.release()`

Feed = bytes | MappedFeed
"""What a harvester reads: a feed's bytes, or a mapped feed file (`open_feed`)."""


@contextmanager
def open_feed(path: str | Path) -> Iterator[Feed]:
    """The file at `path` as a feed, mapped read-only for the `with` block (an empty file is
    `b""`: nothing to map). The mapping must not outlive the block: readers are done by then."""
    with open(path, "rb") as file:
        size = file.seek(0, io.SEEK_END)
        if size == 0:
            yield b""
            return
        mapped = MappedFeed(file.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            mapped.madvise(mmap.MADV_SEQUENTIAL)  # readers stream: read ahead, drop pages behind
            yield mapped
        finally:
            mapped.close()


def feed_stream(data: Feed) -> BinaryIO:
    """A new binary stream over the whole feed, from its start, copying nothing: `io.BytesIO`
    shares a `bytes` object's buffer; a mapped file is read through its own position."""
    if isinstance(data, bytes):
        return io.BytesIO(data)
    return io.BufferedReader(_MappedRaw(data), buffer_size=1 << 16)


def feed_chunks(data: Feed, size: int) -> Iterator[tuple[int, memoryview]]:
    """(offset, bytes) of the feed in consecutive chunks of `size` bytes, without copying; a
    mapped feed's pages are released as the chunks go by (see `MappedFeed.release`)."""
    with memoryview(data) as view:
        released = 0
        for start in range(0, len(view), size):
            yield start, view[start : start + size]
            if isinstance(data, MappedFeed) and start >= released + _RELEASE_EVERY:
                data.release()
                released = start


class _MappedRaw(io.RawIOBase):
    """A read-only raw stream over a mapped feed with a position of its own (several passes over
    one feed must not share the mmap's position)."""

    def __init__(self, mapped: MappedFeed) -> None:
        self._mapped = mapped
        self._position = 0
        self._released = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        chunk = self._mapped[self._position : self._position + len(view)]
        view[: len(chunk)] = chunk
        self._position += len(chunk)
        if self._position >= self._released + _RELEASE_EVERY:
            self._mapped.release()
            self._released = self._position
        return len(chunk)


class Deferred:
    """An item not built yet, known by its raw form (see `Gathered`): `item()` builds it once."""

    __slots__ = ("_build", "_item", "guid", "media_type", "pointer", "portable", "raw")

    def __init__(
        self,
        raw: bytes,
        media_type: str,
        pointer: str | None,
        guid: str | None,
        build: Callable[[], RawItem],
        portable: bool = False,
    ) -> None:
        self.raw = raw
        self.media_type = media_type
        self.pointer = pointer
        self.guid = guid
        self._build: Callable[[], RawItem] | None = build
        self._item: RawItem | None = None
        self.portable = portable

    def recipe(self) -> Callable[[], RawItem] | None:
        """`build`, when it is portable (see `Gathered.deferred`) and the item is not built yet:
        for another process to build the item; None otherwise."""
        return self._build if self.portable else None

    def item(self) -> RawItem:
        item = self._item
        if item is None:
            assert self._build is not None
            item = self._item = self._build()
            self._build = None  # what it held (the reader's copies) can go
        return item


@dataclass(frozen=True)
class Gathered:
    """One record as the reader found it, with the reader's own problems about it.

    `unread`: source paths of the feed (or of the page this record came from) that the reader saw
    but could not pass on to any record (JSON-LD keys no context defines): feed-level, carried by
    one item of the document only, for the run's coverage report (see `mappings.coverage`).

    Digest first (the reader's side of skipping unchanged items, see `services.recall`): a reader
    may hand over, instead of a built item, a `Deferred` one: its *raw form* and a way to build
    it. The raw form is bytes the reader has at hand before it builds the item (XML: the record
    element as serialised plus digests of the context or linked elements it copies) such that
    the item is a function of them, the media type, the guid, the spec's reader options and the
    code alone: two items of one spec with equal raw forms (media types, guids) are equal. The
    item's digest then covers the raw form instead of `item.content`, and `item` is built only
    when something asks for it (the pipeline does for the items it maps, not for recalled ones),
    at most once. `pointer`, `guid` and `media_type` are known without building. A *portable*
    build (a module-level function with plain, picklable arguments) may run in another process
    instead: a mapping worker then builds the items it maps (`services.workers`), and the
    harvesting process, which reads the feed alone, does not.
    """

    made: RawItem | Deferred
    issues: tuple[Issue, ...] = ()
    unread: tuple[UnreadPath, ...] = ()

    @classmethod
    def deferred(
        cls,
        raw: bytes,
        media_type: str,
        pointer: str | None,
        guid: str | None,
        build: Callable[[], RawItem],
        issues: tuple[Issue, ...] = (),
        *,
        portable: bool = False,
    ) -> Gathered:
        """An item `build()` makes when asked for (it must give this media type, pointer and
        guid); `portable`: `build` is picklable and runs in any process (see above)."""
        return cls(Deferred(raw, media_type, pointer, guid, build, portable), issues)

    @property
    def item(self) -> RawItem:
        """The item, built on first use when deferred."""
        made = self.made
        return made if isinstance(made, RawItem) else made.item()

    @property
    def raw(self) -> bytes | None:
        """The raw form a deferred item's digest covers; None for an item given built."""
        made = self.made
        return None if isinstance(made, RawItem) else made.raw

    @property
    def media_type(self) -> str:
        return self.made.media_type

    @property
    def pointer(self) -> str | None:
        return self.made.pointer

    @property
    def guid(self) -> str | None:
        return self.made.guid

    @property
    def readable(self) -> bool:
        """False when the reader reported an ERROR: the item must not be mapped."""
        return not any(issue.severity is Severity.ERROR for issue in self.issues)


class Harvester(Protocol):
    """Reads one feed format. Stateless: one instance may serve many runs."""

    def gather(self, data: Feed, spec: MappingSpec) -> Iterator[Gathered]:
        """Yield the feed's records in document order; raise ParseError if the feed is unusable.

        `spec.reader` holds format-specific reader options (e.g. CSV delimiter or encoding).
        Implementations must stream: memory may grow with the largest record, not with the feed.
        """
        ...


_HARVESTERS: Mapping[str, str] = {name: fmt.reader for name, fmt in FORMATS.items()}
"""Format -> "module:class" of its reader (from the one table, `catalogue.formats`)."""


def harvester_for(format: str, *, fetcher: FetcherFactory | None = None) -> NonEmpty:
    """The harvester for a source format (refusing feeds without a record, see `NonEmpty`);
    ConfigurationError if there is none (yet). `fetcher`: how a harvester that fetches documents
    of its own (class attribute `fetches = True`, e.g. "jsonld-pages") makes its fetcher; None
    leaves it its default (SSRF guard on, private addresses refused)."""
    target = _HARVESTERS.get(format)
    if target is None:
        known = ", ".join(sorted(_HARVESTERS))
        raise ConfigurationError(f"no harvester for format {format!r} yet; available: {known}")
    module_name, _, class_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), class_name)
    harvester: Harvester = (
        factory(fetcher) if fetcher is not None and getattr(factory, "fetches", False) else factory()
    )
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

    def gather(self, data: Feed, spec: MappingSpec) -> Iterator[Gathered]:
        found = False
        for gathered in self.harvester.gather(data, spec):
            found = True
            yield gathered
        if not found:
            raise ParseError(EMPTY_FEED)
