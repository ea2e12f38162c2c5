"""The harvest pipeline: feed -> raw items -> mapped, validated courses -> one store transaction -> sinks.

`run_harvest` is the one entry point the CLI, the web upload and the scheduler call;
`remap_source` replays the stored raw payloads of a source through its current mapping.

Guarantees:
* A feed-level failure (fetch, decode, parse, no mapping, the store refusing the transaction)
  ends the run FAILED with `report.error` set, and the catalogue is exactly as before.
* Item-level problems become Issues; a rejected record counts as FAILED and keeps its previously
  stored version (its provider_ref still counts as seen, so it is not withdrawn).
* An id seen twice in one feed: an identical copy is noted (WARNING) and ignored; a different
  record under the same id is an ERROR on the later occurrence, and the first one wins.
* Change detection ignores where a record sits in the feed (`content_hash` excludes the pointer).
* Withdrawals need certainty about absence: when some record could not be identified (an
  unreadable row, no provider id), a complete run skips withdrawals and says so in a WARNING.
* Sinks (the search index) receive the changed courses after the commit; a failing sink leaves
  the run SUCCEEDED/HELD with a WARNING to run `catalogue reindex`.
* HTTP validators (ETag, Last-Modified) are saved only after a successful apply of a feed whose
  every record landed; otherwise they are cleared, so the next run re-reads the feed rather than
  trusting a 304 for content that was never fully stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx

from catalogue.changes import Candidate, ChangeSink, HarvestDiff
from catalogue.codec import course_to_dict, record_hash
from catalogue.errors import CatalogueError, ConfigurationError, FeedError
from catalogue.model import Organisation, Provenance
from catalogue.runs import Issue, Outcome, RunReport, RunStatus, Severity
from catalogue.sources import FetchState, Source, registered_provider, with_registered_provider
from catalogue.store import CatalogueStore
from catalogue.validate import validate
from harvesters.base import harvester_for
from harvesters.http import Fetcher, FetchResult
from mappings.engine import apply
from mappings.items import RawItem
from mappings.spec import MappingSpec, load_spec

logger = logging.getLogger(__name__)

PlanObserver = Callable[[HarvestDiff, Sequence[Candidate]], None]
"""Told what a run applied (or would apply): the diff and the candidates it was computed from."""

SINK_FAILED = "search index could not be updated; run `catalogue reindex`"


@dataclass(frozen=True)
class HarvestSettings:
    """Operator limits for harvesting (mapping choices such as hours per ECTS live in the spec)."""

    max_feed_bytes: int = 200 * 1024 * 1024  # downloaded or uploaded; bigger fails the run
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # between two received chunks
    total_timeout: float = 900.0  # whole download, retries included
    retries: int = 3  # extra attempts on connection errors, 5xx and 429
    allow_private: bool = False  # SSRF guard off: feeds on private/loopback addresses allowed
    max_withdraw_share: float | None = 0.5  # mass-drop guard (see CatalogueStore.apply_harvest)
    max_issues: int = 10_000  # per run; beyond it issues are counted, not kept
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


def run_harvest(
    store: CatalogueStore,
    source: Source,
    *,
    data: bytes | None = None,
    fetcher: Fetcher | None = None,
    sinks: Sequence[ChangeSink] = (),
    dry_run: bool = False,
    settings: HarvestSettings = HarvestSettings(),  # frozen, so one shared default is safe
    complete: bool = True,
    trigger: str = "cli",
    observe: PlanObserver | None = None,
    on_failure: Callable[[CatalogueError], None] | None = None,
) -> RunReport:
    """Harvest one feed of `source` and return the finished run report (also saved in the store).

    `data`: the feed's bytes (upload or file); None fetches `source.url` conditionally.
    `complete`: the feed lists every current course, so absent ones are withdrawn.
    A dry run fetches unconditionally, computes the same report and changes nothing.
    `observe(diff, candidates)` is called once the store has applied (or, dry, planned) the run:
    how a dry-run preview learns which records would change and their new versions.
    `on_failure(error)` is told the feed-level error that failed the run (the report keeps only
    its message): how a scheduler tells a transient FetchError, worth a retry, from the rest.
    Raises only on programming errors (the run is then recorded FAILED first).
    """
    report = store.start_run(source.id, dry_run=dry_run, trigger=trigger)
    try:
        diff = _harvest(store, source, report, data, fetcher, dry_run, settings, complete, observe)
    except CatalogueError as exc:
        _fail(store, report, exc)
        if on_failure is not None:
            on_failure(exc)  # after the run is recorded: a failing callback cannot leave it RUNNING
        return report
    except Exception as exc:
        _fail(store, report, exc, internal=True)
        raise
    _finish(store, report, diff, sinks, dry_run)
    return report


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
        intake = _Intake(spec, report, settings, registered_provider(source))
        for stored in store.iter_courses(source_id=source.id):
            _replay(store, intake, stored.course.id, stored.course.provenance)
        intake.close()
        # No seen_refs: a remap saw no feed, so it must not cancel withdrawals held by earlier runs.
        diff = store.apply_harvest(
            report, intake.candidates, seen_refs=(), complete=False, dry_run=dry_run, max_withdraw_share=None
        )
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
    data: bytes | None,
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
    harvester = harvester_for(source.format)
    intake = _Intake(spec, report, settings, registered_provider(source))
    for gathered in harvester.gather(data, spec):
        intake.take(gathered.item, gathered.issues)
    intake.close()
    withdraw = complete and intake.unidentified == 0
    if complete and not withdraw:
        report.issues.append(
            Issue(
                Severity.WARNING,
                f"{intake.unidentified} record(s) could not be identified, so this run withdrew nothing: "
                "a course missing from the feed might be one of them",
                code="withdrawals-skipped",
            )
        )
    diff = store.apply_harvest(
        report,
        intake.candidates,
        seen_refs=intake.seen,
        complete=withdraw,
        dry_run=dry_run,
        max_withdraw_share=settings.max_withdraw_share,
    )
    if observe is not None:
        observe(diff, intake.candidates)
    if fetched is not None and not dry_run:
        clean = report.counts[Outcome.FAILED] == 0
        state = FetchState(fetched.etag, fetched.last_modified) if clean else FetchState()
        store.set_fetch_state(source.id, state)
    return diff


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


def _spec_for(source: Source) -> MappingSpec:
    """The source's mapping, else the default mapping named after its format."""
    if source.mapping:
        return load_spec(source.mapping)
    try:
        return load_spec(source.format)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"source {source.id!r} names no mapping and there is no default mapping for "
            f"format {source.format!r}: {exc}"
        ) from None


def _replay(store: CatalogueStore, intake: _Intake, course_id: str, provenance: Provenance) -> None:
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


class _Intake:
    """Turns one run's raw items into store candidates: map, validate, de-duplicate, report."""

    def __init__(
        self,
        spec: MappingSpec,
        report: RunReport,
        settings: HarvestSettings,
        provider: Organisation | None = None,
    ) -> None:
        self.spec = spec
        self.provider = provider  # the source registration's provider: fills gaps in records
        self.report = report
        self.candidates: list[Candidate] = []
        # provider_ref -> (pointer, content digest) of its first occurrence in the feed
        self.seen: dict[str, tuple[str | None, bytes]] = {}
        self.unidentified = 0
        self._max_issues = settings.max_issues
        self._dropped = 0
        self._now = datetime.now(UTC)

    def take(
        self, item: RawItem, reader_issues: Iterable[Issue] = (), harvested_at: datetime | None = None
    ) -> str | None:
        """Map, validate and keep one item (or count it FAILED); returns its provider_ref if known."""
        reader_issues = list(reader_issues)
        if _has_error(reader_issues):
            # Misread cells could even yield a wrong id, so the record counts as unidentified.
            for issue in reader_issues:
                self.note(issue)
            self.unidentified += 1
            self.report.count(Outcome.FAILED)
            return None
        mapped = apply(self.spec, item, self.report.source_id)
        ref = mapped.provider_ref
        issues = reader_issues + list(mapped.issues)
        if ref is None:
            self.unidentified += 1
        else:
            repeat = self._repeat(ref, item)
            if repeat is not None:
                self.note(repeat)
                if repeat.severity is Severity.ERROR:
                    self.report.count(Outcome.FAILED)
                return ref
        course = mapped.course
        if course is not None and self.provider is not None:
            course, filled = with_registered_provider(course, self.provider)
            if filled:
                message = "provider details the record lacks were taken from the source registration"
                issues.append(Issue(Severity.INFO, message, field="provider", code="provider-from-source"))
        if course is not None and not _has_error(issues):
            issues += validate(course)
        for issue in issues:
            self.note(
                replace(issue, record_ref=issue.record_ref or ref, pointer=issue.pointer or item.pointer)
            )
        if course is None or _has_error(issues):
            self.report.count(Outcome.FAILED)
            return ref
        when = harvested_at or self._now
        provenance = replace(course.provenance, run_id=self.report.run_id, harvested_at=when)
        course = replace(course, provenance=provenance)
        record = course_to_dict(course)  # once, for both the hash and the store
        self.candidates.append(Candidate(course, record_hash(record), item.content, item.media_type, record))
        return ref

    def _repeat(self, ref: str, item: RawItem) -> Issue | None:
        """None for the first occurrence of ref; else the issue: an identical copy of a record is
        only noted, a different record under the same id is an ERROR (the first one wins)."""
        digest = hashlib.blake2b(item.content, digest_size=16).digest()
        first = self.seen.get(ref)
        if first is None:
            self.seen[ref] = (item.pointer, digest)
            return None
        where = f"the id {ref!r} appears again in the feed (first at {first[0]})"
        if first[1] == digest:
            message = f"{where} with identical content; the copy was ignored"
            return Issue(
                Severity.WARNING, message, record_ref=ref, pointer=item.pointer, code="duplicate-record"
            )
        message = f"{where} with different content; this occurrence was skipped"
        return Issue(Severity.ERROR, message, record_ref=ref, pointer=item.pointer, code="duplicate-ref")

    def note(self, issue: Issue) -> None:
        """Keep an issue, up to the per-run limit (a broken feed must not flood the database)."""
        if len(self.report.issues) < self._max_issues:
            self.report.issues.append(issue)
        else:
            self._dropped += 1

    def close(self) -> None:
        if self._dropped:
            self.report.issues.append(
                Issue(
                    Severity.WARNING,
                    f"{self._dropped} more issue(s) were not recorded (limit {self._max_issues} per run)",
                    code="issues-truncated",
                )
            )


def _has_error(issues: Iterable[Issue]) -> bool:
    return any(issue.severity is Severity.ERROR for issue in issues)


def _fail(store: CatalogueStore, report: RunReport, exc: Exception, *, internal: bool = False) -> RunReport:
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
    store.finish_run(report)
    return report


def _finish(
    store: CatalogueStore,
    report: RunReport,
    diff: HarvestDiff | None,
    sinks: Sequence[ChangeSink],
    dry_run: bool,
) -> None:
    """Close the run, then hand committed changes to the sinks (re-saving the report if one fails)."""
    if report.status is RunStatus.RUNNING:
        report.status = RunStatus.SUCCEEDED
    store.finish_run(report)
    logger.info("run %s of %s %s: %s", report.run_id, report.source_id, report.status, dict(report.counts))
    if diff is None or dry_run or not diff.changed:
        return
    failed = False
    for sink in sinks:
        try:
            sink.apply(diff.changed)
        except Exception as exc:  # a sink is a plug-in boundary: the committed harvest must stand
            logger.exception("run %s: change sink %r failed", report.run_id, sink)
            message = f"{SINK_FAILED} ({type(sink).__name__}: {type(exc).__name__}: {exc})"
            report.issues.append(Issue(Severity.WARNING, message, code="sink-failed"))
            failed = True
    if failed:
        store.finish_run(report)  # finish_run replaces the saved issues, so this only adds the warning
