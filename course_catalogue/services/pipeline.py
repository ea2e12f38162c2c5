"""The harvest pipeline: feed -> raw items -> mapped, validated courses -> one store transaction -> sinks.

The feed's items stream through map/validate/hash into a spool on disk (`services.spool`) in
batches of `BATCH`; once the whole feed is read, the batches go to the store inside ONE store
transaction (`CatalogueStore.harvesting`) that commits only at the end, so the write lock is held
for the writes and not while the feed is parsed. A large feed mapped by worker processes
(`services.workers`) opens the transaction when the workers start and writes each batch as it
is settled, so the writes overlap the mapping (`_Output`). A run holds a batch of courses in memory, not
the feed's, plus the ids, digests and counters of the whole run (seen refs for withdrawals and
duplicates). After the commit the sinks get the changed courses read back from the store in
batches of `SINK_BATCH`.

`run_harvest` is the one entry point the CLI, the web upload and the scheduler call;
`remap_source` replays the stored raw payloads of a source through its current mapping.

Guarantees:
* A feed-level failure (fetch, decode, parse, no mapping, the store refusing the transaction)
  ends the run FAILED with `report.error` set, and the catalogue is exactly as before, even
  when the feed breaks after batches were written (they were never committed).
* Item-level problems become Issues; a rejected record counts as FAILED and keeps its previously
  stored version (its provider_ref still counts as seen, so it is not withdrawn). Issue counts are
  exact; the report keeps a sample of each kind (`services.intake`).
* A feed that has records but not one the catalogue could take (every record rejected) FAILS the
  run: nothing is added, updated or withdrawn, and the report says why, record by record.
* A dry run changes nothing; with `record=False` (the CLI's `--dry-run`) it is not even recorded:
  no run row, and the source need not be registered.
* Every run's report has a coverage report: each source path with values, in how many records,
  and whether the mapping reads it (`mappings.coverage`).
* An id seen twice in one feed: an identical copy is noted (WARNING) and ignored; a different
  record under the same id is an ERROR on the later occurrence, and the first one wins.
* Change detection ignores where a record sits in the feed (`content_hash` excludes the pointer).
* Withdrawals need certainty about absence: when some record could not be identified (an
  unreadable row, no provider id), a complete run skips withdrawals and says so in a WARNING.
* Sinks (the search index) receive the changed courses after the commit (in batches of at most
  `SINK_BATCH`, so a big run calls a sink several times; a run that changed nothing, one empty
  batch); a failing sink gets no further batches and leaves the run SUCCEEDED/HELD with a WARNING.
  The index itself is not at risk: its changes wait in the outbox (catalogue/outbox.py).
* A byte-identical feed (same mapping, parameters, code, format, completeness) of a source whose
  courses are as its last fully applied run left them is not parsed: the run repeats that run's
  outcome and report without reading it (`services.feed_skip`; `HarvestSettings.skip_unchanged_feeds`).
* HTTP validators (ETag, Last-Modified) are saved only after a successful apply of a feed whose
  every record landed; otherwise they are cleared, so the next run re-reads the feed rather than
  trusting a 304 for content that was never fully stored.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from course_catalogue.catalogue.account_store import publishing_policy
from course_catalogue.catalogue.changes import Candidate, ChangeSink, HarvestDiff, StoredCourse
from course_catalogue.catalogue.collector import paced_collection
from course_catalogue.catalogue.errors import CatalogueError, ConfigurationError, FeedError
from course_catalogue.catalogue.harvest_apply import HarvestSession
from course_catalogue.catalogue.item_memory import Carried
from course_catalogue.catalogue.model import Provenance
from course_catalogue.catalogue.preview import LIMIT as PREVIEW_LIMIT
from course_catalogue.catalogue.runs import Issue, Outcome, RunReport, RunStatus, Severity
from course_catalogue.catalogue.sources import FetchState, Source, registered_provider, source_parameters
from course_catalogue.catalogue.store import GUARD_COUNT, GUARD_SHARE, CatalogueStore
from course_catalogue.harvesters.base import Feed, Gathered, harvester_for
from course_catalogue.harvesters.http import Fetcher, FetchResult
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.spec import MappingSpec, bind_parameters, load_spec
from course_catalogue.services.feed_skip import carry_forward, feed_key, record_feed
from course_catalogue.services.intake import Intake
from course_catalogue.services.recall import Recall, run_key
from course_catalogue.services.spool import Spool
from course_catalogue.services.workers import MappingPool, default_workers

logger = logging.getLogger(__name__)

PlanObserver = Callable[[HarvestDiff, Sequence[Candidate]], None]
"""Told what a run applied (or would apply): the diff and the new versions of (at least) the first
`catalogue.preview.LIMIT` records listed in `diff.added` and in `diff.updated`."""

SINK_FAILED = "search index could not be updated; run `catalogue reindex`"
BATCH = 2000
"""Valid records handed to the store at a time: what bounds a run's memory, whatever the feed size."""
SINK_BATCH = 5000
"""Changed courses per sink call: few calls (each may commit an index), bounded memory."""
RECALL_BATCH = 500
"""Items whose digests are looked up at once (one query: see `services.recall`)."""


@dataclass(frozen=True)
class HarvestSettings:
    """Operator limits for harvesting (mapping choices such as hours per ECTS live in the spec)."""

    max_feed_bytes: int = 200 * 1024 * 1024  # downloaded or uploaded; bigger fails the run
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # between two received chunks
    total_timeout: float = 900.0  # whole download, retries included
    retries: int = 3  # extra attempts on connection errors, 5xx and 429
    allow_private: bool = False  # SSRF guard off: feeds on private/loopback addresses allowed
    max_withdraw_share: float | None = GUARD_SHARE  # mass-drop guard (harvest_apply.withdrawals_held)
    max_withdraw_count: int | None = GUARD_COUNT  # ... and its absolute cap
    max_issues: int = 10_000  # issues kept per run; beyond it they are counted, not kept ...
    max_issues_per_kind: int = 1_000  # ... and of each (severity, code, field) (see services.intake)
    # Processes that map and validate once a run has `parallel_from` records to map (recalled,
    # unchanged ones need none; services.workers): None (the default), one per core this
    # process may use (`os.sched_getaffinity`); 1, all in the harvesting process; never more
    # than those cores (on one core workers only add their overhead, so a process pinned to one
    # core stays serial). Outcomes are the same either way (tested). On by default: a parallel
    # first load now costs about the CPU of a serial one in all (BENCHMARKS.md "One core
    # against two": -6% to +9%), so it hardly slows a busy host, and its wall time on 2 idle
    # cores was measured 1.1-1.6x lower. The price: the run's transaction opens when the
    # workers start and stays open while the rest of the feed is mapped (see `_Output`),
    # holding the store's write lock meanwhile (other SQLite writers wait up to the busy
    # timeout) for about as long as a serial run's writes hold it. Small feeds (under
    # `parallel_from`) never fork.
    workers: int | None = None
    parallel_from: int = 5_000
    # A byte-identical feed of a source whose courses are as its last fully applied run left them
    # is not read again (services.feed_skip); False reads it item by item (`harvest --force`)
    skip_unchanged_feeds: bool = True
    # None: the SSRF-guarded network transport; tests inject an httpx.MockTransport
    transport: httpx.BaseTransport | None = field(default=None, compare=False)

    def fetcher(self) -> Fetcher:
        return Fetcher(
            transport=self.transport,
            max_bytes=self.max_feed_bytes,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
            retries=self.retries,
            allow_private=self.allow_private,
        )

    def page_fetcher(self, max_bytes: int) -> Fetcher:
        """The fetcher of a harvester that fetches documents of its own (the pages of a
        "jsonld-pages" listing): these settings, with its size cap per document and one retry
        (a listing's pages are many; one that keeps failing is reported, not waited for)."""
        return Fetcher(
            transport=self.transport,
            max_bytes=min(max_bytes, self.max_feed_bytes),
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
            retries=min(self.retries, 1),
            allow_private=self.allow_private,
        )


def run_harvest(
    store: CatalogueStore,
    source: Source,
    *,
    data: Feed | None = None,
    fetcher: Fetcher | None = None,
    sinks: Sequence[ChangeSink] = (),
    dry_run: bool = False,
    settings: HarvestSettings = HarvestSettings(),  # frozen, so one shared default is safe
    complete: bool = True,
    trigger: str = "cli",
    observe: PlanObserver | None = None,
    on_failure: Callable[[CatalogueError], None] | None = None,
    record: bool = True,
) -> RunReport:
    """Harvest one feed of `source` and return the finished run report (also saved in the store).

    `data`: the feed's bytes (upload) or a mapped feed file (`harvesters.base.open_feed`); None
    fetches `source.url` conditionally.
    `complete`: the feed lists every current course, so absent ones are withdrawn.
    A dry run fetches unconditionally, computes the same report and changes nothing.
    `observe(diff, candidates)` is called once the store has applied (or, dry, planned) the run:
    how a dry-run preview learns which records would change and their new versions (see
    `PlanObserver`: only the first ones are kept).
    `on_failure(error)` is told the feed-level error that failed the run (the report keeps only
    its message): how a scheduler tells a transient FetchError, worth a retry, from the rest.
    `record=False` (dry runs only): the run is not saved and `source` need not be registered;
    the report has no run_id.
    Raises only on programming errors (the run is then recorded FAILED first).
    """
    if not record and not dry_run:
        raise ValueError("only a dry run can go unrecorded")
    report = _start(store, source, dry_run, trigger, record)
    try:
        diff = _harvest(store, source, report, data, fetcher, dry_run, settings, complete, observe)
    except CatalogueError as exc:
        _fail(store, report, exc, record=record)
        if on_failure is not None:
            on_failure(exc)  # after the run is recorded: a failing callback cannot leave it RUNNING
        return report
    except Exception as exc:
        _fail(store, report, exc, internal=True, record=record)
        raise
    _finish(store, report, diff, sinks, dry_run, record=record)
    return report


def _start(store: CatalogueStore, source: Source, dry_run: bool, trigger: str, record: bool) -> RunReport:
    if record:
        return store.start_run(source.id, dry_run=dry_run, trigger=trigger)
    return RunReport(source_id=source.id, started_at=datetime.now(UTC), dry_run=True)


def remap_source(
    store: CatalogueStore,
    source: Source,
    *,
    sinks: Sequence[ChangeSink] = (),
    dry_run: bool = False,
    settings: HarvestSettings = HarvestSettings(),
) -> RunReport:
    """Re-apply the source's current mapping to the raw payloads stored with its active courses.

    Nothing is downloaded and nothing is withdrawn. Courses without a stored payload keep their
    record and get a WARNING. Harvest times stay those of the original harvests.
    """
    report = store.start_run(source.id, dry_run=dry_run, trigger="remap")
    try:
        spec = _spec_for(source)
        intake = _intake(store, spec, report, settings, source)
        with Spool() as spool, closing(intake.seen), paced_collection(BATCH) as pacer:
            # Everything is read and remapped before the transaction opens (see services.spool).
            # Ids and provenance only: a course whose stored record no longer decodes is remapped
            # too (HarvestService.repair relies on it).
            for stored_id, provenance in store.iter_provenance(source_id=source.id):
                _replay(store, intake, stored_id, provenance)
                intake.flush(spool, BATCH)
                pacer.tick()
            intake.flush(spool)
            intake.close()
            with store.harvesting(report, dry_run=dry_run) as session:
                for batch in spool.batches():
                    session.offer(batch)
                    pacer.tick(len(batch))
                # No seen_refs: a remap saw no feed, so it must not cancel withdrawals held by earlier runs.
                diff = session.finish(seen_refs=(), complete=False, max_withdraw_share=None)
    except CatalogueError as exc:
        return _fail(store, report, exc)
    except Exception as exc:
        _fail(store, report, exc, internal=True)
        raise
    _finish(store, report, diff, sinks, dry_run)
    return report


def _harvest(
    store: CatalogueStore,
    source: Source,
    report: RunReport,
    data: Feed | None,
    fetcher: Fetcher | None,
    dry_run: bool,
    settings: HarvestSettings,
    complete: bool,
    observe: PlanObserver | None = None,
) -> HarvestDiff | None:
    """Everything up to and including the store transaction; None when the feed is unchanged."""
    fetched: FetchResult | None = None
    if data is None:
        fetched = _fetch(store, source, fetcher, settings, conditional=not dry_run)
        if fetched.content is None:
            report.issues.append(
                Issue(Severity.INFO, "the feed has not changed since the last harvest", code="not-modified")
            )
            return None
        data = fetched.content
    if len(data) > settings.max_feed_bytes:
        raise FeedError(f"the feed is {len(data)} bytes, more than the limit of {settings.max_feed_bytes}")
    spec = _spec_for(source)
    harvester = harvester_for(source.format, fetcher=settings.page_fetcher)
    intake = _intake(store, spec, report, settings, source)
    # The whole feed recognised before it is parsed (a dry run records nothing, so it reads the feed)
    key = None if dry_run else feed_key(intake.key, source, complete, harvester, data)
    if key is not None and settings.skip_unchanged_feeds and carry_forward(store, report, key):
        _save_fetch_state(store, source, report, fetched, dry_run)
        return HarvestDiff()
    keep = PREVIEW_LIMIT if observe is not None else 0
    recall = intake.recall = Recall(store, source.id) if intake.key is not None else None
    output = _Output(spool := Spool())
    try:
        with (
            spool,
            closing(intake.seen),
            paced_collection(BATCH) as pacer,
            ExitStack() as transaction,
            ExitStack() as workers,
        ):

            def open_transaction(writer: bool = False) -> HarvestSession:
                after = recall.watermark if recall is not None else None
                writing = store.harvesting(report, dry_run=dry_run, keep=keep, recalled_after=after)
                session = output.open(transaction.enter_context(writing), writer=writer)
                transaction.callback(output.stop)  # (before the transaction ends)
                return session

            def start_workers() -> MappingPool | None:
                pool = _start_workers(intake, settings, workers)
                if pool is not None:  # the transaction opens now, see _Output
                    open_transaction(writer=True)
                return pool

            intake.start_pool = start_workers
            intake.parallel_from = settings.parallel_from
            gathered_batch: list[Gathered] = []
            for gathered in harvester.gather(data, spec):
                if gathered.unread:
                    intake.unread(gathered.unread)
                gathered_batch.append(gathered)
                if len(gathered_batch) >= RECALL_BATCH:
                    intake.take_batch(gathered_batch)
                    gathered_batch = []
                    intake.flush(output, BATCH)
                pacer.tick()
            intake.take_batch(gathered_batch)
            intake.flush(output, BATCH)
            intake.drain(output, BATCH)  # (flushed as a serial run would: the same batches)
            workers.close()
            intake.flush(output)
            intake.close()
            if intake.items and not intake.valid:
                raise _NothingValid  # rolls back an open transaction (nothing was offered to it)
            withdraw = complete and intake.unidentified == 0
            if complete and not withdraw:
                report.issues.append(
                    Issue(
                        Severity.WARNING,
                        f"{intake.unidentified} record(s) could not be identified, so this run withdrew "
                        "nothing: a course missing from the feed might be one of them",
                        code="withdrawals-skipped",
                    )
                )
            # The feed is read: only now the transaction (unless workers opened it), which holds
            # the write lock while it lasts.
            if output.session is None:
                open_transaction()
            session = output.written(pacer.tick)
            diff = session.finish(
                seen_refs=intake.seen,
                complete=withdraw,
                max_withdraw_share=settings.max_withdraw_share,
                max_withdraw_count=settings.max_withdraw_count,
            )
            record_feed(session, report, key, diff)
    except _NothingValid:
        # Not one record the catalogue can take: publishing the run would withdraw the whole
        # listing (or leave it stale while saying "succeeded"). Nothing changes.
        report.status = RunStatus.FAILED
        report.error = (
            f"every one of the feed's {intake.items} record(s) was rejected, so nothing was "
            "changed: see the issues for why"
        )
        return None
    if observe is not None:
        observe(diff, session.kept)
    _save_fetch_state(store, source, report, fetched, dry_run)
    return diff


def _save_fetch_state(
    store: CatalogueStore, source: Source, report: RunReport, fetched: FetchResult | None, dry_run: bool
) -> None:
    """Keep the HTTP validators of a download whose every record landed; clear them otherwise."""
    if fetched is not None and not dry_run:
        clean = report.counts[Outcome.FAILED] == 0
        state = FetchState(fetched.etag, fetched.last_modified) if clean else FetchState()
        store.set_fetch_state(source.id, state)


class _NothingValid(Exception):
    """Raised inside `_harvest`'s transaction block to roll it back: no record could be taken."""


class _Output:
    """Where a run's valid batches go (`Intake.flush`): the spool while the feed is read, so the
    transaction opens only once every record is ready (see `services.spool`); or, once mapping
    workers run (a large feed, see `services.workers`), the open transaction itself, through a
    writer thread (`_Writer`).

    With workers the harvesting process would otherwise map nothing while it waits for them,
    then write every record alone after the last one: writing each batch as it is settled
    overlaps the store's writes with the mapping. The price is that the write lock (SQLite) /
    seq lock (PostgreSQL) is held while the rest of the feed is read, as long as the mapping
    takes. The guarantees hold: one transaction, rolled back if the feed breaks, a worker dies
    or no record is valid (nothing is withdrawn before `finish`); sinks only after the commit;
    the same batches in the same order as a serial run, so the same change sequence."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.session: HarvestSession | None = None
        self._writer: _Writer | None = None
        self._spooled = True  # the spool's batches are still to be offered to the session

    def open(self, session: HarvestSession, *, writer: bool = False) -> HarvestSession:
        """The transaction is open: batches go to `session` from now on, the spooled ones first;
        `writer`: through a writer thread."""
        self.session = session
        self._writer = _Writer(session) if writer else None
        return session

    def offer(self, candidates: Sequence[Candidate | Carried]) -> None:
        if self.session is None:
            self.spool.offer(candidates)
            return
        self._write_spooled()  # the batches of the serial start come first
        self._write(candidates)

    def written(self, tick: Callable[[int], object] = lambda n: None) -> HarvestSession:
        """The session, once every batch offered was written (a writer's failure raised here)."""
        assert self.session is not None, "open() first"
        self._write_spooled(tick)
        if self._writer is not None:
            self._writer.close()
        return self.session

    def stop(self) -> None:
        """End the writer thread, if any, without raising: the transaction is ending."""
        if self._writer is not None:
            self._writer.stop()

    def _write(self, batch: Sequence[Candidate | Carried]) -> None:
        assert self.session is not None
        (self._writer or self.session).offer(batch)

    def _write_spooled(self, tick: Callable[[int], object] = lambda n: None) -> None:
        if self._spooled:
            self._spooled = False
            for batch in self.spool.batches():
                self._write(batch)
                tick(len(batch))
            self.spool.close()


class _Writer:
    """A thread offering batches to the run's open session, in order, while the harvesting
    process reads and settles the next ones: the driver releases the GIL while SQLite (or the
    server) executes, so the database's work on batch N overlaps the Python work on N+1 (the
    writes are the largest serial part of a run: ~40% of a CSV first load's CPU). Only this
    thread uses the session's connection until `close()` returns; at most `DEPTH` batches wait."""

    DEPTH = 2

    def __init__(self, session: HarvestSession) -> None:
        self._session = session
        self._queue: queue.Queue[Sequence[Candidate | Carried] | None] = queue.Queue(self.DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="harvest-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:  # after a failure, batches are only taken off the queue
                try:
                    self._session.offer(batch)
                except BaseException as exc:  # raised in the harvesting thread (`offer`, `close`)
                    self._error = exc

    def offer(self, batch: Sequence[Candidate | Carried]) -> None:
        self._raise()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait until every batch is written; raise what writing one raised."""
        self.stop()
        self._raise()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


def _start_workers(intake: Intake, settings: HarvestSettings, workers: ExitStack) -> MappingPool | None:
    """Fork the mapping workers of a large feed (see `services.workers`), closed with `workers`."""
    processes = min(settings.workers or default_workers(), default_workers())
    tracker = intake.coverage.tracker if intake.coverage is not None else None
    pool = MappingPool.start(intake.work, tracker, intake.now, processes)
    return None if pool is None else workers.enter_context(pool)


def _fetch(
    store: CatalogueStore,
    source: Source,
    fetcher: Fetcher | None,
    settings: HarvestSettings,
    *,
    conditional: bool,
) -> FetchResult:
    if not source.url:
        raise ConfigurationError(f"source {source.id!r} has no URL; upload the feed instead")
    state = store.get_fetch_state(source.id) if conditional else FetchState()
    if fetcher is not None:
        return fetcher.fetch(source.url, etag=state.etag, last_modified=state.last_modified)
    with settings.fetcher() as own:
        return own.fetch(source.url, etag=state.etag, last_modified=state.last_modified)


def _intake(
    store: CatalogueStore, spec: MappingSpec, report: RunReport, settings: HarvestSettings, source: Source
) -> Intake:
    provider = registered_provider(source)
    policy = publishing_policy(store, source)  # None: the source may publish for anyone
    return Intake(
        spec,
        report,
        settings.max_issues,
        provider,
        max_per_kind=settings.max_issues_per_kind,
        policy=policy,
        key=run_key(spec, source_parameters(source), provider, policy),
    )


def _spec_for(source: Source) -> MappingSpec:
    """The source's mapping, else the default mapping named after its format, bound to the
    parameters the source declares (qualification framework, currency, country, ...)."""
    if source.mapping:
        return bind_parameters(load_spec(source.mapping), source_parameters(source))
    try:
        return bind_parameters(load_spec(source.format), source_parameters(source))
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"source {source.id!r} names no mapping and there is no default mapping for "
            f"format {source.format!r}: {exc}"
        ) from None


def _replay(store: CatalogueStore, intake: Intake, course_id: str, provenance: Provenance) -> None:
    """Feed one stored course's raw payload back through the intake (remap)."""
    raw = store.get_raw(course_id)
    if raw is None:
        intake.note(
            Issue(
                Severity.WARNING,
                "no raw payload is stored for this record, so it keeps its current version; "
                "harvest the feed again to refresh it",
                record_ref=provenance.provider_ref,
                pointer=provenance.pointer,
                code="raw-missing",
            )
        )
        return
    item = RawItem(raw[0], raw[1], pointer=provenance.pointer)
    ref = intake.take(item, harvested_at=provenance.harvested_at)
    if ref is not None and ref != provenance.provider_ref:
        intake.note(
            Issue(
                Severity.WARNING,
                f"the mapping now gives this record the id {ref!r} instead of "
                f"{provenance.provider_ref!r}; the next harvest will withdraw the old one",
                record_ref=provenance.provider_ref,
                pointer=provenance.pointer,
                code="ref-changed",
            )
        )


def _fail(
    store: CatalogueStore, report: RunReport, exc: Exception, *, internal: bool = False, record: bool = True
) -> RunReport:
    """Record a feed-level failure; nothing was written, so the catalogue is unchanged."""
    report.status = RunStatus.FAILED
    report.error = f"internal error: {type(exc).__name__}: {exc}" if internal else str(exc)
    report.counts.clear()
    logger.log(
        logging.ERROR if internal else logging.WARNING,
        "run %s of %s failed: %s",
        report.run_id,
        report.source_id,
        report.error,
    )
    if record:
        store.finish_run(report)
    else:
        report.finished_at = datetime.now(UTC)
    return report


def _finish(
    store: CatalogueStore,
    report: RunReport,
    diff: HarvestDiff | None,
    sinks: Sequence[ChangeSink],
    dry_run: bool,
    *,
    record: bool = True,
) -> None:
    """Close the run, then hand committed changes to the sinks (re-saving the report if one fails)."""
    if report.status is RunStatus.RUNNING:
        report.status = RunStatus.SUCCEEDED
    if not record:
        report.finished_at = datetime.now(UTC)
        return
    store.finish_run(report)
    logger.info("run %s of %s %s: %s", report.run_id, report.source_id, report.status, dict(report.counts))
    if dry_run:
        return
    # A run that changed nothing (or found the feed not modified) still tells the sinks: the index
    # outbox's sink then delivers what an earlier, killed process left pending.
    if deliver_changes(store, diff or HarvestDiff(), sinks, report.issues, str(report.run_id)):
        store.finish_run(report)  # finish_run replaces the saved issues, so this only adds the warnings


def deliver_changes(
    store: CatalogueStore,
    diff: HarvestDiff,
    sinks: Sequence[ChangeSink],
    issues: list[Issue],
    run: str,
) -> bool:
    """Hand a committed diff's changed courses to every sink, read back in batches of SINK_BATCH.

    A sink that raises gets no further batches and a WARNING in `issues`; so does every sink
    still waiting when the store cannot be read. A diff without changes gives each sink one
    empty batch. Returns whether a warning was added.
    """
    if not sinks:
        return False
    live = list(sinks)
    failed = False

    def note(sink: object, exc: Exception) -> None:
        message = f"{SINK_FAILED} ({type(sink).__name__}: {type(exc).__name__}: {exc})"
        issues.append(Issue(Severity.WARNING, message, code="sink-failed"))

    nothing: list[list[StoredCourse]] = [[]]
    with paced_collection(SINK_BATCH) as pacer:
        try:
            batches = (
                nothing if diff.seqs is None and not diff.changed else store.iter_changed(diff, SINK_BATCH)
            )
            for batch in batches:
                pacer.tick(len(batch))
                for sink in list(live):
                    try:
                        sink.apply(batch)
                    except Exception as exc:  # a sink is a plug-in boundary: the committed harvest must stand
                        logger.exception("run %s: change sink %r failed", run, sink)
                        note(sink, exc)
                        live.remove(sink)
                        failed = True
                if not live:
                    break
        except CatalogueError as exc:  # reading the changes back failed: the index is behind the store
            logger.exception("run %s: the changed courses could not be read back for the sinks", run)
            for sink in live:
                note(sink, exc)
                failed = True
    return failed
