"""Turning one run's raw items into store candidates: map, validate, de-duplicate, report.

`Intake` is the item-level half of the harvest pipeline (`services.pipeline` owns the feed and
the store transaction). What it guarantees about items:
* Item-level problems become Issues. Every one is counted (`RunReport.totals()` is exact); the
  report keeps the first `max_per_kind` of each (severity, code) and at most `max_issues` in all,
  but always the first `ALWAYS_KEPT` of each kind, so a flood of one warning cannot hide the
  others. A rejected record counts FAILED, and its provider_ref still counts as seen (so it is
  not withdrawn).
* Every parsed item is observed for the run's coverage report (`mappings.coverage`), which
  `close()` puts in the report.
* An id seen twice in one feed: an identical copy is noted (WARNING) and ignored; a different
  record under the same id is an ERROR on the later occurrence, and the first one wins.
* A record that cannot be identified (reader error, no provider id) is counted in `unidentified`.
* A record holding a value the store cannot hold (`catalogue.course_writes.unstorable`) is
  rejected here, before the store transaction, whatever the backend and on dry runs alike.
* A source restricted to its owner's organisations (`catalogue.entitlements.PublishingPolicy`)
  rejects a record naming another provider with an ERROR (after the registration filled gaps).
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from course_catalogue.catalogue.changes import Candidate, EncodedRecord
from course_catalogue.catalogue.codec import course_to_dict, record_hash
from course_catalogue.catalogue.course_writes import unstorable
from course_catalogue.catalogue.entitlements import PublishingPolicy
from course_catalogue.catalogue.item_memory import Carried, ItemReport, Recalled, issue_from_row, issue_rows
from course_catalogue.catalogue.model import Organisation
from course_catalogue.catalogue.runs import Issue, IssueKind, Outcome, RunReport, Severity
from course_catalogue.catalogue.sources import with_registered_provider
from course_catalogue.catalogue.validate import validate
from course_catalogue.harvesters.base import Gathered
from course_catalogue.mappings.coverage import CoverageCounter, RecordProbe, counter_for
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.jsonld_keys import UnreadPath
from course_catalogue.mappings.spec import MappingSpec
from course_catalogue.services.recall import item_digest
from course_catalogue.services.seen import SeenRefs

if TYPE_CHECKING:
    from course_catalogue.services.workers import Batch, MappingPool

logger = logging.getLogger(__name__)


class BatchTarget(Protocol):
    """Where `Intake.flush` hands valid records: a store session, or the run's spool."""

    def offer(self, candidates: Sequence[Candidate | Carried]) -> None: ...


RecallFn = Callable[[Collection[str]], dict[str, Recalled]]
"""digests -> what the last successful runs made of items with them (`services.recall.Recall`)."""


@dataclass
class Processed:
    """What mapping and validating one item gave, before the run accounts it (`Intake.settle`).

    `fault`: "map" or "validate" when that stage raised (a programming fault, logged where it
    happened); `record` (`course_to_dict`) None when the record was rejected (`issues` say why,
    not yet located); `refused`: the record holds a value the store cannot hold. `probe`: the
    record's coverage, when it was taken apart from the run's counter.

    From a mapping worker (`services.workers`) the record and issues come in the forms the store
    keeps, so the harvesting process builds no objects for them: `encoded` instead of `record`
    (None when rejected or refused), `rows` instead of `issues` (located, `located_rows`);
    `built`: the content of an item the worker built (a portable deferred item, which the
    harvesting process then never builds)."""

    ref: str | None = None
    issues: list[Issue] = field(default_factory=list)
    record: dict[str, Any] | None = None
    content_hash: str = ""
    refused: Issue | None = None
    fault: str | None = None
    probe: RecordProbe | None = None
    encoded: EncodedRecord | None = None
    rows: tuple[tuple[Any, ...], ...] | None = None
    built: bytes | None = None  # the item's content, when the worker built the item


@dataclass(frozen=True)
class MappingWork:
    """The item-level work of one run, free of run state, so it can run in worker processes:
    map, fill from the registration, validate, check the publishing policy, serialise, hash."""

    spec: MappingSpec
    source_id: str
    run_id: int | None
    provider: Organisation | None
    policy: PublishingPolicy | None

    def process(
        self, item: RawItem, when: datetime, coverage: CoverageCounter | RecordProbe | None
    ) -> Processed:
        """Never raises on item content: a fault is caught, logged and returned."""
        probe = coverage if isinstance(coverage, RecordProbe) else None
        try:
            mapped = apply(
                self.spec, item, self.source_id, run_id=self.run_id, harvested_at=when, coverage=coverage
            )
        except Exception:  # a fault on one record's content must not cost the rest of the feed
            logger.exception("run %s: fault while mapping record %s", self.run_id, item.pointer)
            return Processed(fault="map", probe=probe)
        ref = mapped.provider_ref
        issues = list(mapped.issues)
        course = mapped.course
        if course is not None and self.provider is not None:
            course, filled = with_registered_provider(course, self.provider)
            if filled:
                message = "provider details the record lacks were taken from the source registration"
                issues.append(Issue(Severity.INFO, message, field="provider", code="provider-from-source"))
        if course is not None and not has_error(issues):
            try:
                issues += validate(course)
            except Exception:
                logger.exception("run %s: fault while validating record %s", self.run_id, ref)
                return Processed(ref, fault="validate", probe=probe)
        if (
            course is not None
            and self.policy is not None
            and any(t.strip() for t in course.provider.name.values())
        ):
            refused = self.policy.check(course.provider)  # (no name at all: validation said so)
            if refused is not None:
                issues.append(refused)
        if course is None or has_error(issues):
            return Processed(ref, issues, probe=probe)
        record = course_to_dict(course)  # once, for both the hash and the store
        # unstorable: before any transaction, on every backend (see the function); such a record
        # is refused, and it is not hashed (a lone surrogate has no UTF-8 to hash)
        refused = unstorable(record)
        if refused is not None:
            return Processed(ref, issues, record, "", refused, probe=probe)
        return Processed(ref, issues, record, record_hash(record), probe=probe)


_Entry = tuple[Gathered, str | None, Recalled | None]
"""An item of a batch: as gathered, its digest (None without a run key), what was recalled of it."""

WINDOW = 3
"""Batches a pool may hold beyond the one being read: enough to keep the workers busy while the
harvesting process reads and settles, few enough to keep memory small."""


class Intake:
    """Turns one run's raw items into store candidates: map, validate, de-duplicate, report.

    Valid records wait in `pending` until `flush` hands them to the store session; what stays
    for the whole run is `seen` (a ref's first pointer and a 16-byte digest, in memory up to a
    bound: `services.seen`) and counters."""

    def __init__(
        self,
        spec: MappingSpec,
        report: RunReport,
        max_issues: int,
        provider: Organisation | None = None,
        *,
        max_per_kind: int = 1000,
        policy: PublishingPolicy | None = None,
        key: bytes | None = None,
        recall: RecallFn | None = None,
    ) -> None:
        self.spec = spec
        # `key` (services.recall.run_key): valid records are remembered under their item's
        # digest; with `recall` too, items the last successful runs mapped skip the work.
        self.key = key
        self.recall = recall if key is not None else None
        self.provider = provider  # the source registration's provider: fills gaps in records
        self.policy = policy  # None: the source may publish for any provider
        self.report = report
        self.pending: list[Candidate | Carried] = []
        # provider_ref -> content digest and pointer of its first occurrence in the feed, packed in
        # one bytes object (see _first): held for every record of the run, so kept small, and
        # on disk past the first refs (`services.seen`); the pipeline closes it after the run
        self.seen = SeenRefs()
        self.unidentified = 0
        self.items = 0  # items taken (records of the feed, readable or not)
        self.valid = 0  # items that became candidates for the store
        self._max_issues = max_issues
        self._max_per_kind = max_per_kind
        self._kept: dict[IssueKind, int] = {}
        self.now = datetime.now(UTC)  # the run's harvest time
        self.coverage = counter_for(spec)
        self.work = MappingWork(spec, report.source_id, report.run_id, provider, policy)
        # Worker processes for a large feed: `start_pool` (given by the pipeline) is called once the
        # run has `parallel_from` items to map (recalled ones need no mapping).
        self.pool: MappingPool | None = None
        self.start_pool: Callable[[], MappingPool | None] | None = None
        self.parallel_from = 0
        self.to_map = 0
        self._inflight: deque[tuple[list[_Entry], Batch | None]] = deque()

    def take_batch(self, batch: Sequence[Gathered]) -> None:
        """`take` each gathered item in order, recalling the batch's unchanged items at once:
        an item the source's last successful run mapped from the same bytes, spec, parameters
        and code (`services.recall`) whose course is still stored as it left it is not mapped
        or validated again; its issues and its course carry forward (`_carry`), and the run's
        report is the one mapping it would give.

        With a `pool` (`services.workers`, started by `start_pool` once `parallel_from` items
        were to be mapped), the items to process go to it as one task and the batch is settled
        once its results are back, at most `WINDOW` batches later: call `drain()` after the
        last batch."""
        digests: list[str | None] = [None] * len(batch)
        recalled: dict[str, Recalled] = {}
        if self.key is not None:
            digests = [item_digest(self.key, gathered) for gathered in batch]
            if self.recall is not None:
                recalled = self.recall({d for d, g in zip(digests, batch, strict=True) if d and g.readable})
        entries = [
            (gathered, digest, recalled.get(digest) if digest is not None and gathered.readable else None)
            for gathered, digest in zip(batch, digests, strict=True)
        ]
        work = [g for g, _, found in entries if found is None and g.readable]
        self.to_map += len(work)
        if self.pool is None and self.to_map >= self.parallel_from and self.start_pool is not None:
            start, self.start_pool = self.start_pool, None  # tried once: may not start (then serial)
            self.pool = start()
        if self.pool is None:
            self._settle_batch(entries, None)
            return
        settled = self.coverage.settled if self.coverage is not None else frozenset()
        self._inflight.append((entries, self.pool.submit(work, settled) if work else None))
        while len(self._inflight) > WINDOW:
            self._settle_next()

    def drain(self, target: BatchTarget | None = None, at_least: int = 1) -> None:
        """Settle the batches still in the pool's hands, in order, each followed by
        `flush(target, at_least)` when there is a target (so the batches flushed are those of a
        serial run flushing after every `take_batch`)."""
        while self._inflight:
            self._settle_next()
            if target is not None:
                self.flush(target, at_least)

    def _settle_next(self) -> None:
        entries, result = self._inflight.popleft()
        self._settle_batch(entries, iter(result.results()) if result is not None else iter(()))

    def _settle_batch(self, entries: list[_Entry], processed: Iterator[Processed] | None) -> None:
        """Account a batch in order; `processed`: the pool's results for its items to process
        (None: process them here)."""
        for gathered, digest, found in entries:
            if found is not None and self._carry(gathered, digest or "", found):
                continue
            if not gathered.readable:
                self.settle(gathered.item, list(gathered.issues), None, digest)
            elif processed is None or found is not None:  # (a carry that fell through: here)
                self.take(gathered.item, gathered.issues, digest=digest)
            else:
                result = next(processed)
                item = gathered.item if result.built is None else _built(gathered, result.built)
                self.settle(item, list(gathered.issues), result, digest)

    def take(
        self,
        item: RawItem,
        reader_issues: Iterable[Issue] = (),
        harvested_at: datetime | None = None,
        *,
        digest: str | None = None,
    ) -> str | None:
        """Map, validate and keep one item (or count it FAILED); returns its provider_ref if known.
        `digest`: the item's digest under `key` (computed when None and there is a key)."""
        reader_issues = list(reader_issues)
        if has_error(reader_issues):
            return self.settle(item, reader_issues, None, digest)
        processed = self.work.process(item, harvested_at or self.now, self.coverage)
        return self.settle(item, reader_issues, processed, digest)

    def settle(
        self,
        item: RawItem,
        reader_issues: list[Issue],
        processed: Processed | None,
        digest: str | None = None,
    ) -> str | None:
        """Account one item the run's `work` processed (here or in a worker process, see
        `services.workers`), in feed order: coverage, duplicates, issues, counts, the candidate.
        `processed` None: the reader could not read the item (its issues say why)."""
        self.items += 1
        if processed is None:
            # Misread cells could even yield a wrong id, so the record counts as unidentified.
            for issue in reader_issues:
                self.note(issue)
            self.unidentified += 1
            self.report.count(Outcome.FAILED)
            return None
        if processed.probe is not None and processed.probe.observed and self.coverage is not None:
            self.coverage.observe_probed(processed.probe)
        if processed.fault == "map":
            return self._fault(item, None)
        if digest is None and self.key is not None:
            digest = item_digest(self.key, item)
        ref = processed.ref
        if ref is None:
            self.unidentified += 1
        elif self._repeated(ref, item.pointer, _content_digest(item, digest)):
            return ref
        if processed.fault == "validate":
            return self._fault(item, ref)
        issues = [_located(issue, ref, item.pointer) for issue in reader_issues + processed.issues]
        rows = None
        if processed.rows is None:
            for issue in issues:
                self.note(issue)
            failed = has_error(issues)
        else:  # from a worker: the reader's issues (rarely any), then the rows
            rows = issue_rows(issues, ref, item.pointer) + processed.rows
            for row in rows:
                # note(), without building the issues it would only count (as `_carry`)
                if self._room((row[0], row[1], row[3])):
                    self.report.issues.append(issue_from_row(row, ref, item.pointer))
            failed = any(row[0] is Severity.ERROR for row in rows)
        unmapped = processed.record is None and processed.encoded is None and processed.refused is None
        if unmapped or failed:
            self.report.count(Outcome.FAILED)
            return ref
        if processed.refused is not None:
            self.note(_located(processed.refused, ref, item.pointer))
            self.report.count(Outcome.FAILED)
            return ref
        self.valid += 1
        report = None
        if digest is not None:
            paths = tuple(self.coverage.last_paths) if self.coverage is not None else ()
            report = ItemReport(rows if rows is not None else issue_rows(issues, ref, item.pointer), paths)
        if processed.encoded is not None:
            candidate = Candidate.from_encoded(
                processed.encoded, processed.content_hash, item.content, item.media_type, digest, report
            )
        else:
            assert processed.record is not None
            candidate = Candidate.from_record(
                processed.record, processed.content_hash, item.content, item.media_type, digest, report
            )
        self.pending.append(candidate)
        return ref

    def _carry(self, gathered: Gathered, digest: str, recalled: Recalled) -> bool:
        """Take an item the last successful run mapped (see `take_batch`): what `take` would do,
        without mapping and validating. False (nothing taken) when the item does not parse as
        it did then, which cannot happen for the same bytes short of a fault: `take` then
        handles it."""
        ref, pointer = recalled.provider_ref, gathered.pointer
        if self.coverage is not None and not self.coverage.observe_known(recalled.report.paths):
            try:
                doc = self.spec.selector_language.parse(gathered.item)
            except ValueError:
                return False
            self.coverage.observe(doc)
        self.items += 1
        if self._repeated(ref, pointer, bytes.fromhex(digest)):
            return True
        for row in recalled.report.issues:
            # note(), without building the issues it would only count
            if self._room((row[0], row[1], row[3])):
                self.report.issues.append(issue_from_row(row, ref, pointer))
        self.valid += 1
        self.pending.append(Carried(recalled.course_id, self.report.source_id, ref, recalled.content_hash))
        return True

    def _repeated(self, ref: str, pointer: str | None, digest: bytes) -> bool:
        """Whether `ref` was met earlier in the feed (`_repeat`): the repeat is then noted, and an
        ERROR one counts the occurrence FAILED. Shared by mapped (`settle`) and recalled
        (`_carry`) items, so both treat a repeated id alike."""
        repeat = self._repeat(ref, pointer, digest)
        if repeat is None:
            return False
        self.note(repeat)
        if repeat.severity is Severity.ERROR:
            self.report.count(Outcome.FAILED)
        return True

    def _fault(self, item: RawItem, ref: str | None) -> str | None:
        """A programming fault met while mapping or validating one item: the record is rejected
        with an ERROR naming the fault (traceback in the log) and the run goes on. A known ref was
        already counted as seen (so its stored version stays); an unknown ref makes the record
        unidentified, so the run withdraws nothing (as for any unreadable record). The traceback
        was logged where the fault happened (`MappingWork.process`)."""
        logger.error("run %s: record %s rejected after a fault", self.report.run_id, ref or item.pointer)
        if ref is None:
            self.unidentified += 1
        message = (
            "this record could not be processed because of a fault in the harvester (logged); "
            "the rest of the feed was processed"
        )
        self.note(Issue(Severity.ERROR, message, record_ref=ref, pointer=item.pointer, code="internal-error"))
        self.report.count(Outcome.FAILED)
        return ref

    def flush(self, target: BatchTarget, at_least: int = 1) -> None:
        """Offer the pending candidates to `target` once there are `at_least` of them."""
        if len(self.pending) >= at_least:
            target.offer(self.pending)
            self.pending = []

    def _repeat(self, ref: str, pointer: str | None, digest: bytes) -> Issue | None:
        """None for the first occurrence of ref; else the issue: an identical copy of a record is
        only noted, a different record under the same id is an ERROR (the first one wins).
        `digest`: the item's (`_content_digest`), `_DIGEST` bytes."""
        first = self.seen.first(ref, _first(digest, pointer))
        if first is None:
            return None
        where = f"the id {ref!r} appears again in the feed (first at {_first_pointer(first)})"
        if first[:_DIGEST] == digest:
            message = f"{where} with identical content; the copy was ignored"
            return Issue(Severity.WARNING, message, record_ref=ref, pointer=pointer, code="duplicate-record")
        message = f"{where} with different content; this occurrence was skipped"
        return Issue(Severity.ERROR, message, record_ref=ref, pointer=pointer, code="duplicate-ref")

    def note(self, issue: Issue) -> None:
        """Count an issue and keep it within the limits (a broken feed must not flood the
        database, nor one kind of issue crowd out the others)."""
        if self._room((issue.severity, issue.code, issue.field)):
            self.report.issues.append(issue)

    def _room(self, kind: IssueKind) -> bool:
        """Whether the report keeps the next issue of `kind` (counted as kept), else it is
        counted as dropped."""
        kept = self._kept.get(kind, 0)
        if kept < ALWAYS_KEPT or (kept < self._max_per_kind and len(self.report.issues) < self._max_issues):
            self._kept[kind] = kept + 1
            return True
        self.report.dropped[kind] += 1
        return False

    def unread(self, paths: Iterable[UnreadPath]) -> None:
        """Source paths the reader could not pass on to the records (see `Gathered.unread`): into
        the coverage report, or straight into the issues when the spec's language has none."""
        if self.coverage is not None:
            self.coverage.unread(paths)
            return
        for entry in paths:
            message = f"{entry.path}: {entry.reason} ({entry.records} record(s))"
            self.note(Issue(Severity.WARNING, message, code=entry.code, value=entry.path))

    def close(self) -> None:
        """The run's items are all taken: its coverage goes into the report."""
        if self.coverage is not None:
            self.report.coverage = self.coverage.result()
            for issue in self.coverage.issues():
                self.note(issue)


ALWAYS_KEPT = 20
"""Issues of each (severity, code, field) kept whatever the run-wide limit."""

_DIGEST = 16  # bytes of blake2b: collisions between two records of one feed are out of reach


def _content_digest(item: RawItem, digest: str | None) -> bytes:
    """What tells two occurrences of one id apart: the item's digest under the run key when it
    has one (for a deferred item, of its raw form: equal raw forms make equal items), else one of
    its bytes."""
    if digest is not None:
        return bytes.fromhex(digest)
    return hashlib.blake2b(item.content, digest_size=_DIGEST).digest()


def _built(gathered: Gathered, content: bytes) -> RawItem:
    """The item a worker built of `gathered` (a portable deferred item), from its content."""
    return RawItem(content, gathered.media_type, gathered.pointer, gathered.guid)


def _first(digest: bytes, pointer: str | None) -> bytes:
    """A record's first occurrence as one small object: the digest, then a 0x01 byte and the pointer."""
    if pointer is None:
        return digest
    return digest + b"\x01" + pointer.encode("utf-8", "surrogatepass")


def _first_pointer(first: bytes) -> str | None:
    packed = first[_DIGEST + 1 :]
    return packed.decode("utf-8", "surrogatepass") if len(first) > _DIGEST else None


def located_rows(
    issues: Iterable[Issue], ref: str | None, pointer: str | None
) -> tuple[tuple[Any, ...], ...]:
    """A record's issues located (`_located`) in their stored form (`issue_rows`): what
    `Intake.settle` notes and remembers of them, as a mapping worker returns them."""
    return issue_rows([_located(issue, ref, pointer) for issue in issues], ref, pointer)


def _located(issue: Issue, ref: str | None, pointer: str | None) -> Issue:
    """`issue` with the record's ref and pointer where it lacks them. Most issues come from the
    mapping and validation with both set already: those are returned as they are, not copied
    (a copy per issue cost ~5% of a CSV harvest, at ~4 issues per record)."""
    if (issue.record_ref or not ref) and (issue.pointer or not pointer):
        return issue
    return replace(issue, record_ref=issue.record_ref or ref, pointer=issue.pointer or pointer)


def has_error(issues: Iterable[Issue]) -> bool:
    return any(issue.severity is Severity.ERROR for issue in issues)
