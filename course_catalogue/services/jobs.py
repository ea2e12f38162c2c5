"""Harvest jobs as schedulers and the CLI run them: one run per source at a time, what is due,
stale runs, retry delays. No Celery here: services/tasks.py wraps these in thin tasks.

Every caller that harvests a registered source (the CLI, the Celery task, the web pull) goes
through `run_harvest_exclusive`, so a RUNNING run always has a live process holding its source's
lock; that is what lets `reap_stale_runs` tell a dead run from a slow one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from course_catalogue.catalogue.changes import ChangeSink
from course_catalogue.catalogue.errors import CatalogueError, FetchError
from course_catalogue.catalogue.runs import RunReport
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.stale_runs import fail_stale_runs, stale_runs, stale_sources
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.base import Feed
from course_catalogue.harvesters.http import Fetcher
from course_catalogue.services.locks import AlreadyRunning, SourceLocks
from course_catalogue.services.pipeline import HarvestSettings, PlanObserver, run_harvest

logger = logging.getLogger(__name__)

_DEFAULT_SETTINGS = HarvestSettings()


class HarvestWiring(Protocol):
    """What a harvest job needs; `services.runtime.Services` provides it from the app's config."""

    @property
    def store(self) -> CatalogueStore: ...

    @property
    def sinks(self) -> Sequence[ChangeSink]: ...

    @property
    def harvest_settings(self) -> HarvestSettings: ...

    @property
    def locks(self) -> SourceLocks: ...


@dataclass(frozen=True)
class HarvestAttempt:
    """What `run_harvest_exclusive` did: a finished run, or nothing because the source was busy."""

    source_id: str
    report: RunReport | None  # None: another harvest holds the source's lock; no run was recorded
    error: CatalogueError | None = None  # why the run FAILED, or AlreadyRunning

    @property
    def already_running(self) -> bool:
        return isinstance(self.error, AlreadyRunning)

    @property
    def transient(self) -> bool:
        """The run failed in a way worth retrying later (network, timeout, HTTP 5xx or 429)."""
        return isinstance(self.error, FetchError) and self.error.transient

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the Celery task's result)."""
        report = self.report
        return {
            "source_id": self.source_id,
            "status": "already-running" if report is None else report.status.value,
            "run_id": None if report is None else report.run_id,
            "error": str(self.error) if self.error is not None else None,
        }


def run_harvest_exclusive(
    store: CatalogueStore,
    source: Source,
    *,
    locks: SourceLocks,
    data: Feed | None = None,
    fetcher: Fetcher | None = None,
    sinks: Sequence[ChangeSink] = (),
    dry_run: bool = False,
    settings: HarvestSettings = _DEFAULT_SETTINGS,
    complete: bool = True,
    trigger: str = "cli",
    observe: PlanObserver | None = None,
    record: bool = True,
) -> HarvestAttempt:
    """`run_harvest` (same arguments) while holding the source's lock. If another harvest of the
    source holds it, nothing is run or recorded and the attempt is `already_running`: it never
    waits. Dry runs take the lock too, so every RUNNING run has a live holder."""
    errors: list[CatalogueError] = []
    try:
        with locks.hold(source.id):
            report = run_harvest(
                store,
                source,
                data=data,
                fetcher=fetcher,
                sinks=sinks,
                dry_run=dry_run,
                settings=settings,
                complete=complete,
                trigger=trigger,
                observe=observe,
                on_failure=errors.append,
                record=record,
            )
    except AlreadyRunning as exc:
        logger.info("%s; skipped", exc)
        return HarvestAttempt(source.id, None, exc)
    return HarvestAttempt(source.id, report, errors[0] if errors else None)


def harvest_registered(wiring: HarvestWiring, source: Source, *, trigger: str) -> HarvestAttempt:
    """Pull a registered source's feed with the app's wiring (what the task and CLI both do)."""
    return run_harvest_exclusive(
        wiring.store,
        source,
        locks=wiring.locks,
        sinks=wiring.sinks,
        settings=wiring.harvest_settings,
        trigger=trigger,
    )


# --- the schedule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleEntry:
    """A source pulled every `every` minutes: when it last started and when it is next due."""

    source_id: str
    every: timedelta
    last_started: datetime | None  # latest run that was not a dry run, whatever its outcome
    next_due: datetime | None  # None: never harvested, due now

    def due(self, now: datetime) -> bool:
        return self.next_due is None or self.next_due <= now


def schedule_entry(store: CatalogueStore, source: Source) -> ScheduleEntry | None:
    """The source's schedule, or None for manual and pushed feeds (no schedule or no URL).

    A FAILED run counts as a start: transient failures are retried by the task with backoff,
    and a feed that keeps failing is tried once per interval, not once per minute.
    """
    if not source.schedule_minutes or not source.url:
        return None
    every = timedelta(minutes=source.schedule_minutes)
    last = next((r.started_at for r in store.list_runs(source.id, limit=20) if not r.dry_run), None)
    return ScheduleEntry(source.id, every, last, None if last is None else last + every)


def schedule(store: CatalogueStore) -> list[ScheduleEntry]:
    """Every scheduled source, in source id order (one runs query per scheduled source)."""
    entries = (schedule_entry(store, source) for source in store.list_sources())
    return [entry for entry in entries if entry is not None]


def due_sources(store: CatalogueStore, now: datetime) -> list[ScheduleEntry]:
    """The scheduled sources whose next pull is due at `now` (aware datetime), in id order."""
    return [entry for entry in schedule(store) if entry.due(now)]


# --- retries and stale runs --------------------------------------------------------------------


def retry_delay(
    retries: int, *, base: float = 60.0, cap: float = 3600.0, jitter: Callable[[], float] = random.random
) -> float:
    """Seconds before retry number `retries + 1`: exponential (base, 2 base, 4 base ... up to
    cap) with jitter in [half, full], so sources that failed together do not retry in step."""
    return min(cap, base * 2**retries) * (0.5 + jitter() / 2)


def reap_stale_runs(
    store: CatalogueStore, locks: SourceLocks, started_before: datetime, *, dry_run: bool = False
) -> list[int]:
    """Fail the RUNNING runs started before `started_before` whose source nobody is harvesting.

    The time limit alone would misjudge a long harvest started from the CLI (no time limit), so
    a source's runs are only failed while this function holds the source's lock: no live
    harvest can then own them. Returns the failed run ids; with `dry_run`, the ids it would
    fail (found the same way, under the lock), changing nothing.
    """
    failed: list[int] = []
    for source_id in stale_sources(store, started_before):
        try:
            with locks.hold(source_id):
                if dry_run:
                    failed.extend(stale_runs(store, started_before, source_id=source_id))
                    continue
                ids = fail_stale_runs(store, started_before, source_id=source_id)
        except AlreadyRunning:
            continue  # a live harvest holds it: its run is slow, not dead
        if ids:
            logger.warning("source %s: marked interrupted run(s) %s FAILED", source_id, ids)
        failed.extend(ids)
    return sorted(failed)
