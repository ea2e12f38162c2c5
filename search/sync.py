"""Keeps the search index following the store: a ChangeSink, a full reindex, and a repair of drift."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from catalogue import jsontext
from catalogue.changes import StoredCourse
from search.backend import Document, SearchBackend
from search.documents import StoredRecord, record_document, to_document

if TYPE_CHECKING:  # annotations only: the search package does not import the store's SQL layer
    from catalogue.store_rows import RecordRow

T = TypeVar("T")


class CourseSource(Protocol):
    """The part of CatalogueStore a reindex reads."""

    def iter_courses(
        self, *, source_id: str | None = None, include_withdrawn: bool = False, batch_size: int = 1000
    ) -> Iterable[StoredCourse]: ...


class RecordSource(Protocol):
    """The part of CatalogueStore a full reindex reads: every course as a `RecordRow`."""

    def iter_records(
        self, *, source_id: str | None = None, include_withdrawn: bool = False, batch_size: int = 1000
    ) -> Iterable[RecordRow]: ...


class EligibilityLookup(Protocol):
    """Which funding schemes courses are eligible for (catalogue.eligibility_store provides it)."""

    def eligible_schemes(self, course_ids: Iterable[str]) -> Mapping[str, list[str]]: ...


@runtime_checkable
class RecordRebuild(Protocol):
    """A backend that rebuilds its index from stored records directly (the embedded engine:
    `EmbeddedBackend.rebuild_records`), without the search documents `rebuild` takes: a full
    reindex then skips building a document per course only to convert it again."""

    def rebuild_records(self, records: Iterable[StoredRecord]) -> int: ...


def documents(
    courses: Iterable[StoredCourse], eligibility: EligibilityLookup | None = None, batch: int = 1000
) -> Iterator[Document]:
    """Search documents of `courses`, with their eligible schemes looked up one batch at a time."""
    for chunk in _batches(courses, batch):
        yield from _documents(chunk, eligibility)


def _documents(chunk: list[StoredCourse], eligibility: EligibilityLookup | None) -> list[Document]:
    found = eligibility.eligible_schemes(s.id for s in chunk) if eligibility is not None else {}
    return [to_document(stored, found.get(stored.id, ())) for stored in chunk]


def record_documents(
    rows: Iterable[RecordRow], eligibility: EligibilityLookup | None = None, batch: int = 1000
) -> Iterator[Document]:
    """Search documents of stored records (`record_document`), equal to `documents` of the same
    courses. Eligible schemes are looked up one batch at a time; each record is decoded only
    when its document is built, so a batch holds its rows' JSON text, not decoded records."""
    for record in stored_records(rows, eligibility, batch):
        yield record_document(*record)


def stored_records(
    rows: Iterable[RecordRow], eligibility: EligibilityLookup | None = None, batch: int = 1000
) -> Iterator[StoredRecord]:
    """The decoded records of `rows` with their status, seq and eligible schemes: what
    `record_document` (or `RecordRebuild.rebuild_records`) takes. Eligible schemes are looked up
    one batch at a time; each record is decoded only when it is consumed."""
    for chunk in _batches(rows, batch):
        yield from _stored_records(chunk, eligibility)


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter, none empty)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _stored_records(chunk: list[RecordRow], eligibility: EligibilityLookup | None) -> Iterator[StoredRecord]:
    found = eligibility.eligible_schemes(row.id for row in chunk) if eligibility is not None else {}
    for row in chunk:
        yield StoredRecord(jsontext.loads(row.record_json), row.status, row.seq, found.get(row.id, ()))


class IndexSync:
    """ChangeSink that upserts every changed course, active or withdrawn.

    Withdrawn courses stay in the index with status "withdrawn" (hidden unless a query asks
    for them), so applying the same changes again leaves the same index: idempotent.
    """

    def __init__(self, backend: SearchBackend, eligibility: EligibilityLookup | None = None) -> None:
        self.backend = backend
        self.eligibility = eligibility

    def apply(self, changed: Sequence[StoredCourse]) -> None:
        # Only the last version of a course delivered in one batch counts.
        latest = {stored.id: stored for stored in changed}
        if latest:
            self.backend.upsert(documents(latest.values(), self.eligibility))


def reindex(store: RecordSource, backend: SearchBackend, eligibility: EligibilityLookup | None = None) -> int:
    """Rebuild the whole index from the store (withdrawn tombstones included); return the count.

    Streams: the store is read in keyset pages and documents are built one at a time as the
    backend consumes them, so memory stays flat whatever the catalogue's size. Reads records raw
    (`iter_records`, `record_document`): the documents are those `documents` builds from
    `iter_courses`, without the Course objects and timestamps a reindex does not need. A backend
    that is a `RecordRebuild` gets the decoded records instead of the documents."""
    rows = store.iter_records(include_withdrawn=True)
    if isinstance(backend, RecordRebuild):
        return backend.rebuild_records(stored_records(rows, eligibility))
    return backend.rebuild(record_documents(rows, eligibility))


@dataclass(frozen=True)
class RepairReport:
    """What `repair` found and did. `drift` = documents it had to write or remove."""

    checked: int  # courses in the store (tombstones included)
    indexed: int  # documents in the index before the repair
    missing: int  # in the store, not in the index -> upserted
    stale: int  # indexed with another seq or status than the store's -> upserted
    orphans: int  # in the index, not in the store -> deleted
    dry_run: bool = False

    @property
    def drift(self) -> int:
        return self.missing + self.stale + self.orphans


def repair(
    store: CourseSource,
    backend: SearchBackend,
    *,
    dry_run: bool = False,
    eligibility: EligibilityLookup | None = None,
) -> RepairReport:
    """Make the index agree with the store without a rebuild: upsert every course whose indexed
    copy is missing or has another (seq, status), delete indexed ids the store does not hold.

    How drift happens: a harvest killed between its commit and the index update, a failing sink
    (the run then says "run `catalogue reindex`"), an index restored from an older backup.
    The store is the truth; `seq` changes on every stored change, so a matching (seq, status)
    means the indexed document is the current one. Idempotent: a second run finds no drift.
    """
    indexed = backend.inventory()
    seen: set[str] = set()
    fix: list[StoredCourse] = []
    missing = stale = 0
    for stored in store.iter_courses(include_withdrawn=True):
        seen.add(stored.id)
        have = indexed.get(stored.id)
        if have == (stored.seq, str(stored.status)):
            continue
        missing += have is None
        stale += have is not None
        if dry_run:
            continue
        fix.append(stored)
        if len(fix) >= 1000:  # bounded memory on a badly drifted index
            backend.upsert(documents(fix, eligibility))
            fix.clear()
    orphans = [doc_id for doc_id in indexed if doc_id not in seen]
    if not dry_run:
        if fix:
            backend.upsert(documents(fix, eligibility))
        backend.delete(orphans)  # a no-op when there are none
    return RepairReport(len(seen), len(indexed), missing, stale, len(orphans), dry_run)
