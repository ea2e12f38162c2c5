"""Provider publishing around the pipeline: push with a dry run, confirm staged bytes, retire a source.

A push is a dry run by default: the feed goes through the whole pipeline without changing the
catalogue, the record-level diff is computed, and the bytes are staged. Confirming runs the real
harvest on exactly those bytes. The catalogue may have changed in between (another push, a
scheduled pull), so the confirmed diff can differ from the preview; `Confirmed.differs` says so.
Retiring a source withdraws all its courses as tombstones and unschedules it; nothing is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from course_catalogue.catalogue.changes import Candidate, ChangeSink, HarvestDiff
from course_catalogue.catalogue.errors import Conflict, NotFound
from course_catalogue.catalogue.preview import DiffPreview, preview
from course_catalogue.catalogue.runs import Outcome, RunReport, RunStatus
from course_catalogue.catalogue.sources import RETIRED, Source, is_retired
from course_catalogue.catalogue.staged_feeds import StagedFeed, StagedFeedStore
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.http import Fetcher
from course_catalogue.services.jobs import run_harvest_exclusive
from course_catalogue.services.locks import AlreadyRunning, SourceLocks
from course_catalogue.services.pipeline import HarvestSettings, deliver_changes

logger = logging.getLogger(__name__)

_DEFAULT_SETTINGS = HarvestSettings()
_COMPARED = (Outcome.ADDED, Outcome.UPDATED, Outcome.WITHDRAWN)


@dataclass(frozen=True)
class Published:
    """A push or pull: the run, its record-level diff (None if the run failed) and, for a dry
    run that did not fail, the staged feed to confirm."""

    report: RunReport
    diff: DiffPreview | None
    staged: StagedFeed | None = None


@dataclass(frozen=True)
class Confirmed:
    """A confirmed staged feed: the real run, and whether it did other than its dry run said."""

    published: Published
    dry_run: RunReport | None
    differs: bool


def _require_active(source: Source) -> None:
    if is_retired(source):
        raise Conflict(f"source {source.id!r} was deleted; register it again to publish to it")


class _Recorder:
    """The pipeline's observer: keeps the diff and candidates of the run."""

    def __init__(self) -> None:
        self.diff: HarvestDiff | None = None
        self.candidates: Sequence[Candidate] = ()

    def __call__(self, diff: HarvestDiff, candidates: Sequence[Candidate]) -> None:
        self.diff, self.candidates = diff, candidates

    def preview(self, store: CatalogueStore, report: RunReport) -> DiffPreview | None:
        if report.status is RunStatus.FAILED or self.diff is None:
            return None
        return preview(store, self.diff, self.candidates, compare=report.dry_run)


def _run(
    store: CatalogueStore,
    source: Source,
    data: bytes | None,
    *,
    dry_run: bool,
    trigger: str,
    locks: SourceLocks,
    sinks: Sequence[ChangeSink],
    settings: HarvestSettings,
    fetcher: Fetcher | None = None,
) -> Published:
    recorder = _Recorder()
    attempt = run_harvest_exclusive(
        store,
        source,
        locks=locks,
        data=data,
        fetcher=fetcher,
        sinks=sinks,
        dry_run=dry_run,
        settings=settings,
        trigger=trigger,
        observe=recorder,
    )
    if attempt.report is None:  # another harvest of the source holds its lock: nothing was run
        raise attempt.error or AlreadyRunning(source.id)
    report = attempt.report
    # changed fields need the versions before the run: only a dry run can still read them
    return Published(report, recorder.preview(store, report))


def push(
    store: CatalogueStore,
    staged_feeds: StagedFeedStore,
    source: Source,
    data: bytes,
    media_type: str,
    *,
    account_id: str,
    dry_run: bool,
    ttl: timedelta,
    locks: SourceLocks,
    sinks: Sequence[ChangeSink] = (),
    settings: HarvestSettings = _DEFAULT_SETTINGS,
    filename: str | None = None,
) -> Published:
    """Harvest pushed bytes: a dry run stages them (with the uploaded file's name, if any) for
    `confirm`, a real run publishes them."""
    _require_active(source)
    published = _run(
        store, source, data, dry_run=dry_run, trigger="push", locks=locks, sinks=sinks, settings=settings
    )
    if not dry_run or published.report.status is RunStatus.FAILED:
        return published
    staged = staged_feeds.stage(
        source, account_id, data, media_type, dry_run_id=published.report.run_id, ttl=ttl, filename=filename
    )
    return replace(published, staged=staged)


def confirm(
    store: CatalogueStore,
    staged_feeds: StagedFeedStore,
    source: Source,
    staged_id: str,
    *,
    locks: SourceLocks,
    sinks: Sequence[ChangeSink] = (),
    settings: HarvestSettings = _DEFAULT_SETTINGS,
) -> Confirmed:
    """Publish a staged feed's exact bytes. NotFound if unknown, of another source or expired;
    Conflict if the source's format or mapping changed since the dry run. The staged feed is
    consumed by a run that did not fail (a failed one can be retried)."""
    _require_active(source)
    staged = staged_feeds.get(staged_id)
    if staged.source_id != source.id:
        raise NotFound(f"no staged feed {staged_id!r} for source {source.id!r}")
    if staged.expired():
        staged_feeds.delete(staged_id)
        raise NotFound(f"staged feed {staged_id!r} expired at {staged.expires_at.isoformat()}; push it again")
    if not staged.matches(source):
        raise Conflict(
            f"source {source.id!r} changed format or mapping since the dry run "
            f"({staged.format}/{staged.mapping} -> {source.format}/{source.mapping}); push the feed again "
            "to preview it with the current mapping"
        )
    data = staged_feeds.content(staged_id)
    published = _run(
        store, source, data, dry_run=False, trigger="push", locks=locks, sinks=sinks, settings=settings
    )
    if published.report.status is not RunStatus.FAILED:
        staged_feeds.delete(staged_id)
    dry = _dry_run_report(store, staged.dry_run_id)
    differs = dry is None or any(dry.counts.get(o, 0) != published.report.counts.get(o, 0) for o in _COMPARED)
    return Confirmed(replace(published, staged=staged), dry, differs)


def pull(
    store: CatalogueStore,
    source: Source,
    *,
    dry_run: bool,
    locks: SourceLocks,
    sinks: Sequence[ChangeSink] = (),
    settings: HarvestSettings = _DEFAULT_SETTINGS,
    fetcher: Fetcher | None = None,
) -> Published:
    """Harvest the source's URL now (what the schedule does), optionally as a dry run."""
    _require_active(source)
    return _run(
        store,
        source,
        None,
        dry_run=dry_run,
        trigger="api",
        locks=locks,
        sinks=sinks,
        settings=settings,
        fetcher=fetcher,
    )


def retire(
    store: CatalogueStore, source: Source, *, locks: SourceLocks, sinks: Sequence[ChangeSink] = ()
) -> RunReport:
    """Withdraw every active course of the source as a tombstone (in one run, with no
    mass-withdrawal guard: the owner asked for it), unschedule it and mark it retired.
    AlreadyRunning (a Conflict) while a harvest of the source is running."""
    with locks.hold(source.id):
        return _retire(store, source, sinks)


def _retire(store: CatalogueStore, source: Source, sinks: Sequence[ChangeSink]) -> RunReport:
    report = store.start_run(source.id, trigger="delete")
    try:
        with store.harvesting(report) as session:
            diff = session.finish(seen_refs=(), complete=True, max_withdraw_share=None)
    except Exception as exc:
        report.status, report.error = RunStatus.FAILED, str(exc)
        store.finish_run(report)
        raise
    report.status = RunStatus.SUCCEEDED
    settings = {**source.settings, RETIRED: datetime.now(UTC).isoformat()}
    store.save_source(replace(source, schedule_minutes=None, settings=MappingProxyType(settings)))
    # the committed withdrawal stands whatever a sink does; the index can be rebuilt
    deliver_changes(store, diff, sinks, report.issues, f"{report.run_id} (retiring {source.id})")
    store.finish_run(report)
    return report


def _dry_run_report(store: CatalogueStore, run_id: int | None) -> RunReport | None:
    if run_id is None:
        return None
    try:
        return store.get_run(run_id)
    except NotFound:
        return None
