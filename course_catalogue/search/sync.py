"""Keeps the search index following the store: outbox delivery, a full reindex, and a repair of drift.

The store writes an index outbox entry with every change it commits (catalogue/outbox.py).
`drain_outbox` delivers them: it rebuilds each pending course's document from what the store
holds now, writes the documents, and only then retires the entries it covered, so a crash at
any point leaves them to the next drain. Drains are serialised (`drain_exclusively`): two
interleaved drains could otherwise write an older read of a course after a newer one.

Withdrawals first: each drain writes the documents of withdrawn courses in a first, small
index commit, before the rest. Until that commit, search still holds them as active; the web
layer drops such hits by asking the store (search.fresh.FreshResults), so a course whose
withdrawal has committed is never served, whatever the index says.

A document's `seq` is the course's index version: the newest of its own seq and the seqs of its
eligibility rows (every change of its eligible schemes takes a new seq), so `repair` sees a
document whose eligibility is behind as stale, not only one whose course is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, replace
from itertools import chain, islice
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from course_catalogue.catalogue import jsontext
from course_catalogue.catalogue.changes import StoredCourse
from course_catalogue.catalogue.errors import Conflict
from course_catalogue.search.backend import Document, SearchBackend
from course_catalogue.search.documents import (
    StoredRecord,
    course_facts,
    flatten,
    record_document,
    skill_text,
    to_document,
)
from course_catalogue.search.skill_cache import LinkBatch, SkillLinkCache

if TYPE_CHECKING:  # annotations only: the search package does not import the store's SQL layer
    from course_catalogue.catalogue.outbox import Pending
    from course_catalogue.catalogue.store_rows import RecordRow

logger = logging.getLogger(__name__)

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
class IndexEligibility(Protocol):
    """An EligibilityLookup that also gives each course's newest eligibility seq (the store's
    EligibilityStore does): documents then carry the index version (see the module docstring).
    With a plain lookup a document's seq is its course's."""

    def eligible_schemes(self, course_ids: Iterable[str]) -> Mapping[str, list[str]]: ...

    def indexing(self, course_ids: Iterable[str]) -> Mapping[str, tuple[list[str], int]]: ...


class EligibilityRefresh(Protocol):
    """Re-evaluating courses' eligibility after they changed (EligibilityStore.refresh_courses)."""

    def refresh_courses(
        self, course_ids: Iterable[str], *, scheme_id: str | None = None, enqueue: bool = True
    ) -> Sequence[object]: ...


class PendingChanges(Protocol):
    """The index outbox as delivery reads it (catalogue.outbox.Outbox)."""

    def head(self) -> int | None: ...

    def pending(
        self, head: int, *, withdrawals: bool, after: str | None, limit: int
    ) -> Sequence[Pending]: ...

    def records(self, ids: Sequence[str]) -> Sequence[RecordRow]: ...

    def done(self, head: int) -> int: ...


class ExclusiveLocks(Protocol):
    """A named lock that dies with its holder and never waits (services.locks.SourceLocks):
    `hold` raises a Conflict at once when another process has it."""

    def hold(self, source_id: str) -> AbstractContextManager[None]: ...


@runtime_checkable
class RecordRebuild(Protocol):
    """A backend that rebuilds its index from stored records directly (the embedded engine:
    `EmbeddedBackend.rebuild_records`), without the search documents `rebuild` takes: a full
    reindex then skips building a document per course only to convert it again."""

    def rebuild_records(self, records: Iterable[StoredRecord]) -> int: ...


def documents(
    courses: Iterable[StoredCourse],
    eligibility: EligibilityLookup | None = None,
    batch: int = 1000,
    skill_cache: SkillLinkCache | None = None,
) -> Iterator[Document]:
    """Search documents of `courses`, with their eligible schemes looked up one batch at a time
    (and their skill links reused and kept per batch with `skill_cache`, as `stored_records`)."""
    for chunk in _batches(courses, batch):
        yield from _documents(chunk, eligibility, skill_cache)


def _documents(
    chunk: Sequence[StoredCourse],
    eligibility: EligibilityLookup | None,
    skill_cache: SkillLinkCache | None = None,
) -> list[Document]:
    facts = index_facts([s.id for s in chunk], eligibility)
    links = LinkBatch(skill_cache, [s.id for s in chunk]) if skill_cache is not None else None
    out: list[Document] = []
    for stored in chunk:
        schemes, version = facts.get(stored.id, ((), 0))
        if version > stored.seq:
            stored = replace(stored, seq=version)
        if links is None:
            out.append(to_document(stored, schemes))
        else:
            course = course_facts(stored)
            out.append(flatten(course, schemes, links.text_links(stored.id, skill_text(course))))
    if links is not None:
        links.flush()
    return out


def index_facts(
    ids: Sequence[str], eligibility: EligibilityLookup | None
) -> Mapping[str, tuple[Sequence[str], int]]:
    """Course id -> (eligible schemes, newest eligibility seq) for documents and repair."""
    if eligibility is None:
        return {}
    if isinstance(eligibility, IndexEligibility):
        return eligibility.indexing(ids)
    return {cid: (schemes, 0) for cid, schemes in eligibility.eligible_schemes(ids).items()}


def record_documents(
    rows: Iterable[RecordRow],
    eligibility: EligibilityLookup | None = None,
    batch: int = 1000,
    skill_cache: SkillLinkCache | None = None,
) -> Iterator[Document]:
    """Search documents of stored records (`record_document`), equal to `documents` of the same
    courses. Eligible schemes are looked up one batch at a time; each record is decoded only
    when its document is built, so a batch holds its rows' JSON text, not decoded records.
    With `skill_cache`, skill links are reused and kept as `stored_records` says."""
    for record in stored_records(rows, eligibility, batch, skill_cache):
        yield record_document(*record)


def stored_records(
    rows: Iterable[RecordRow],
    eligibility: EligibilityLookup | None = None,
    batch: int = 1000,
    skill_cache: SkillLinkCache | None = None,
) -> Iterator[StoredRecord]:
    """The decoded records of `rows` with their status, seq and eligible schemes: what
    `record_document` (or `RecordRebuild.rebuild_records`) takes. Eligible schemes are looked up
    one batch at a time; each record is decoded only when it is consumed.

    With `skill_cache`, each record also carries its published skill links (`search.skill_cache`):
    the batch's kept links are read in one look-up, those made from the same text by the same
    linker reused, the others computed and kept when the batch has been consumed. The documents
    are the same as without the cache."""
    for chunk in _batches(rows, batch):
        yield from _stored_records(chunk, eligibility, skill_cache)


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter, none empty)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _stored_records(
    chunk: list[RecordRow], eligibility: EligibilityLookup | None, skill_cache: SkillLinkCache | None = None
) -> Iterator[StoredRecord]:
    ids = [row.id for row in chunk]
    found = index_facts(ids, eligibility)
    if skill_cache is None:
        for row in chunk:
            schemes, version = found.get(row.id, ((), 0))
            yield StoredRecord(jsontext.loads(row.record_json), row.status, max(row.seq, version), schemes)
        return
    links = LinkBatch(skill_cache, ids)
    for row in chunk:
        schemes, version = found.get(row.id, ((), 0))
        record = jsontext.loads(row.record_json)
        yield StoredRecord(record, row.status, max(row.seq, version), schemes, links.links(row.id, record))
    links.flush()  # runs once the batch's last record was taken (a consumer that stops early keeps none)


def reindex(
    store: RecordSource,
    backend: SearchBackend,
    eligibility: EligibilityLookup | None = None,
    skill_cache: SkillLinkCache | None = None,
) -> int:
    """Rebuild the whole index from the store (withdrawn tombstones included); return the count.

    Streams: the store is read in keyset pages and documents are built one at a time as the
    backend consumes them, so memory stays flat whatever the catalogue's size. Reads records raw
    (`iter_records`, `record_document`): the documents are those `documents` builds from
    `iter_courses`, without the Course objects and timestamps a reindex does not need. A backend
    that is a `RecordRebuild` gets the decoded records instead of the documents. With
    `skill_cache` (the catalogue's `SkillLinkStore`), each course's skill links are computed only
    if its text or the linker changed since they were kept (`stored_records`)."""
    rows = store.iter_records(include_withdrawn=True)
    return rebuild_from_records(backend, stored_records(rows, eligibility, skill_cache=skill_cache))


def rebuild_from_records(backend: SearchBackend, records: Iterable[StoredRecord]) -> int:
    """`backend.rebuild_records(records)` when the backend takes records (`RecordRebuild`), else
    `backend.rebuild` with their documents, built one at a time as it consumes them. Wrappers
    (the result cache, FreshResults) pass their `rebuild_records` through this, so a full reindex
    streams whatever wraps the engine."""
    if isinstance(backend, RecordRebuild):
        return backend.rebuild_records(records)
    return backend.rebuild(record_document(*record) for record in records)


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
    source_id: str | None = None,
    skill_cache: SkillLinkCache | None = None,
) -> RepairReport:
    """Make the index agree with the store without a rebuild: upsert every course whose indexed
    copy is missing or has another (version, status), delete indexed ids the store does not hold.
    With `source_id`, only that source's courses are checked and no orphan is looked for (an
    indexed id the store does not hold belongs to no source it can name): `orphans` is 0.

    How drift happens now that every change goes through the outbox: an index restored from an
    older backup, one written by hand, a store restored under a newer index. (Deliver the outbox
    first, `drain_outbox`: what it holds is not drift.) The store is the truth; a document's
    version (module docstring) changes on every stored change of the course or its eligibility,
    so a matching (version, status) means the indexed document is the current one. Idempotent:
    a second run finds no drift. `skill_cache`: skill links reused and kept (`stored_records`).
    """
    indexed = backend.inventory()
    seen: set[str] = set()
    fix: list[StoredCourse] = []
    missing = stale = 0
    for chunk in _batches(store.iter_courses(source_id=source_id, include_withdrawn=True), 1000):
        facts = index_facts([s.id for s in chunk], eligibility)
        for stored in chunk:
            seen.add(stored.id)
            have = indexed.get(stored.id)
            version = max(stored.seq, facts.get(stored.id, ((), 0))[1])
            if have == (version, str(stored.status)):
                continue
            missing += have is None
            stale += have is not None
            if not dry_run:
                fix.append(stored)
        if len(fix) >= 1000:  # bounded memory on a badly drifted index
            backend.upsert(documents(fix, eligibility, skill_cache=skill_cache))
            fix.clear()
    orphans = [doc_id for doc_id in indexed if doc_id not in seen] if source_id is None else []
    if not dry_run:
        if fix:
            backend.upsert(documents(fix, eligibility, skill_cache=skill_cache))
        backend.delete(orphans)  # a no-op when there are none
    return RepairReport(len(seen), len(indexed), missing, stale, len(orphans), dry_run)


# --- the outbox ---------------------------------------------------------------------------------

DRAIN_BATCH = 1000
"""Courses read from the store (and re-evaluated) at a time while a drain streams documents."""
DRAIN_LOCK = "index"
"""The name of the lock that serialises drains (in its own lock namespace, see services.runtime)."""
INDEX_LOCK_WAIT = 600.0
"""How long a reindex or a repair waits for the drain lock (`index_writes_held`): a drain that
delivers a million-record first load takes minutes."""


@dataclass(frozen=True)
class DrainReport:
    """What a drain did. `delivered`: outbox entries retired; `courses`: documents written (of
    which `withdrawals` in the first commit); `skipped`: another process held the drain lock and
    is delivering (this drain did nothing)."""

    delivered: int = 0
    courses: int = 0
    withdrawals: int = 0
    skipped: bool = False

    def __add__(self, other: DrainReport) -> DrainReport:
        return DrainReport(
            self.delivered + other.delivered,
            self.courses + other.courses,
            self.withdrawals + other.withdrawals,
            self.skipped and other.skipped,
        )


def drain_outbox(
    outbox: PendingChanges,
    backend: SearchBackend,
    eligibility: EligibilityLookup | None = None,
    *,
    refresh: EligibilityRefresh | None = None,
    batch: int = DRAIN_BATCH,
    skill_cache: SkillLinkCache | None = None,
) -> DrainReport:
    """Deliver every pending outbox entry to the index, until none is left.

    Per round: take the newest pending seq as the head; write the documents of the courses with
    a pending withdrawal (one `upsert` call: one commit on the embedded engine), then those of
    the other pending courses (a second call), each built from the store as it is now, after
    `refresh` re-evaluated the eligibility of courses that changed themselves; then retire every
    entry up to the head. A course changed again meanwhile has a newer entry: the next round
    delivers it. An exception leaves the entries pending. Not safe to run twice at once: use
    `drain_exclusively`. With `skill_cache`, skill links are reused and kept (`stored_records`):
    a course whose text did not change keeps the links it had.
    """
    report = DrainReport()
    while (head := outbox.head()) is not None:
        counts = {True: 0, False: 0}
        for withdrawals in (True, False):
            missing: list[str] = []
            pages = _pending_pages(outbox, head, withdrawals, batch)
            docs = _pending_documents(
                outbox, pages, eligibility, refresh, counts, withdrawals, missing, skill_cache
            )
            _upsert_some(backend, docs)
            if missing:  # no longer in the store (cannot happen through the store's API): not searchable
                backend.delete(missing)
        delivered = outbox.done(head)
        report = report + DrainReport(delivered, counts[True] + counts[False], counts[True])
    return report


def _pending_pages(
    outbox: PendingChanges, head: int, withdrawals: bool, batch: int
) -> Iterator[Sequence[Pending]]:
    after: str | None = None
    while True:
        page = outbox.pending(head, withdrawals=withdrawals, after=after, limit=batch)
        if page:
            yield page
        if len(page) < batch:
            return
        after = page[-1].course_id


def _pending_documents(
    outbox: PendingChanges,
    pages: Iterable[Sequence[Pending]],
    eligibility: EligibilityLookup | None,
    refresh: EligibilityRefresh | None,
    counts: dict[bool, int],
    withdrawals: bool,
    missing: list[str],
    skill_cache: SkillLinkCache | None = None,
) -> Iterator[Document]:
    for page in pages:
        ids = [p.course_id for p in page]
        if refresh is not None:
            changed = [p.course_id for p in page if p.refresh]
            if changed:
                refresh.refresh_courses(changed, enqueue=False)  # its flips are delivered right here
        rows = list(outbox.records(ids))
        known = {row.id for row in rows}
        missing.extend(cid for cid in ids if cid not in known)
        counts[withdrawals] += len(rows)
        for record in _stored_records(rows, eligibility, skill_cache):  # no Course decoded: record_document
            yield record_document(*record)


def _upsert_some(backend: SearchBackend, docs: Iterator[Document]) -> None:
    """`backend.upsert(docs)`, unless there are none (an empty write still costs a commit)."""
    first = next(docs, None)
    if first is not None:
        backend.upsert(chain([first], docs))


def drain_exclusively(
    locks: ExclusiveLocks, drain: Callable[[], DrainReport], *, wait: float = 0.0
) -> DrainReport:
    """Run `drain` holding the drain lock. If another process holds it, that process delivers
    what is pending: wait up to `wait` seconds for the lock (a caller that wants its own commit
    in the index when it returns, like a harvest), else return a `skipped` report."""
    try:
        with index_writes_held(locks, wait=wait):
            return drain()
    except Conflict:
        return DrainReport(skipped=True)


@contextmanager
def index_writes_held(locks: ExclusiveLocks, *, wait: float) -> Iterator[None]:
    """Hold the drain lock for the `with` block, waiting up to `wait` seconds for it; Conflict
    when another process still holds it then.

    Besides drains, whatever writes documents read from the store while deliveries could run
    holds it: a full reindex and a repair. Why: a drain retires its outbox entries once it has
    written them, so a delivery written into the index a rebuild is about to replace (or
    overwritten by a repair's older read) would be lost for good. Held, deliveries wait (their
    entries stay pending) and the holder delivers them when it is done (`Services.reindex`)."""
    deadline = time.monotonic() + wait
    with ExitStack() as stack:
        while True:
            try:
                stack.enter_context(locks.hold(DRAIN_LOCK))
                break
            except Conflict:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        yield


class OutboxSink:
    """ChangeSink that delivers the index outbox after a commit: the run's own changes and any a
    dead process left. The batch it is handed only says that something committed."""

    def __init__(self, deliver: Callable[[], DrainReport]) -> None:
        self._deliver = deliver

    def apply(self, changed: Sequence[StoredCourse]) -> None:
        """Never raises: a delivery that fails leaves the entries pending for the next drain (the
        committed run stands, and its index update is not lost, only later)."""
        try:
            report = self._deliver()
        except Exception:
            logger.exception("index outbox: delivery failed; the entries stay pending for the next drain")
            return
        if report.skipped:
            logger.info("index outbox: another process is delivering; this commit goes with it")
