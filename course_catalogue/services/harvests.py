"""Harvest operations on a registered source, for every interface alike: push a feed (a dry run
staged for confirmation by default), confirm a staged feed, pull the source's URL now, remap its
stored records, confirm the withdrawals a mass-withdrawal guard held back, and repair what a
crash or a hand-edited database left inconsistent in one source (`repair`).

Each operation checks one permission (`can_change_source`, through `Actor`), then runs in the
pipeline's one store transaction per run (services/pipeline.py), under the source's lock
(services/locks.py). Errors: InvalidInput, PermissionDenied, and the domain's NotFound, Conflict
(AlreadyRunning, a retired source, a stale staged feed), QuotaExceeded (staged feeds). A feed
that fails as a whole is not an exception: the returned report says FAILED.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from course_catalogue.catalogue.changes import ChangeSink, HarvestDiff
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.permissions import can_change_source, is_admin
from course_catalogue.catalogue.record_checks import inconsistent_records, rehash
from course_catalogue.catalogue.runs import RunReport
from course_catalogue.catalogue.skill_link_store import SkillLinkStore
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.staged_feeds import StagedFeedStore, StagedQuota
from course_catalogue.catalogue.stale_runs import fail_stale_runs, stale_runs
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.base import Feed, open_feed
from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.sync import INDEX_LOCK_WAIT, RepairReport, index_writes_held
from course_catalogue.search.sync import repair as repair_index
from course_catalogue.services import publish
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput, PermissionDenied
from course_catalogue.services.jobs import HarvestAttempt, run_harvest_exclusive
from course_catalogue.services.locks import SourceLocks
from course_catalogue.services.pipeline import HarvestSettings, remap_source
from course_catalogue.services.publish import Confirmed, Published


@dataclass(frozen=True)
class SourceRepair:
    """What `HarvestService.repair` found in one source and (unless `dry_run`) did about it.

    `stale_runs`: its runs left RUNNING by a dead process (failed now). `inconsistent`: its active
    courses whose stored record does not decode or does not match its content hash
    (catalogue/record_checks.py); `remap`: the remap run that rewrote them from their stored raw
    payloads (None when there was nothing to remap, or on a dry run); `left`: those still
    inconsistent afterwards (a course without a stored payload cannot be rebuilt: the remap
    report warns `raw-missing`). `index`: the source's index documents found missing or stale
    and upserted; None without a search backend, or while a record that does not decode is left
    (no document can be built from it: on a dry run, until the repair has remapped it)."""

    source_id: str
    dry_run: bool
    stale_runs: list[int]
    inconsistent: list[str]
    remap: RunReport | None
    left: list[str]
    index: RepairReport | None


@dataclass
class HarvestService:
    """`staged_quota`: what a provider account may keep staged (admins: the per-source limits
    only); `staged_ttl`: how long a dry run's feed waits for its confirmation; `backend`: the
    search index `repair` checks (None: the index is not checked)."""

    store: CatalogueStore
    locks: SourceLocks
    sinks: Sequence[ChangeSink] = ()
    settings: HarvestSettings = field(default_factory=HarvestSettings)
    staged_quota: StagedQuota = field(default_factory=StagedQuota)
    staged_ttl: timedelta = timedelta(hours=24)
    backend: SearchBackend | None = None
    index_locks: SourceLocks | None = None

    def push(
        self,
        actor: Actor,
        source_id: str,
        content: bytes,
        media_type: str,
        *,
        dry_run: bool = True,
        filename: str | None = None,
    ) -> Published:
        """Harvest pushed bytes. A dry run (the default) changes nothing and stages the bytes for
        `confirm`; a feed that could not be staged is refused (QuotaExceeded) before its dry run."""
        source = self.changeable(actor, source_id)
        if actor.account is None:
            raise PermissionDenied("A pushed feed is staged for an account: push it with an API token.")
        staged = self.staged_feeds(actor)
        if dry_run:
            staged.check_room(source, actor.account.id, len(content))
        return publish.push(
            self.store,
            staged,
            source,
            content,
            media_type,
            account_id=actor.account.id,
            dry_run=dry_run,
            ttl=self.staged_ttl,
            locks=self.locks,
            sinks=self.sinks,
            settings=self.settings,
            filename=filename,
        )

    def harvest(
        self, actor: Actor, source: Source, *, data: Feed | None = None, dry_run: bool = False
    ) -> HarvestAttempt:
        """Register (or update) `source` as given and harvest it: `data` when given, else its URL;
        one run per source at a time (a busy source: `HarvestAttempt.report` None). A dry run
        registers nothing, changes nothing and records no run: the report is only returned."""
        actor.permit(lambda a: can_change_source(a, source), f"Your account may not harvest {source.id!r}.")
        if data is None and not source.url:
            raise InvalidInput(f"Source {source.id!r} has no URL: give its feed.", field="url")
        if not dry_run:
            self.store.save_source(source)
        return run_harvest_exclusive(
            self.store,
            source,
            locks=self.locks,
            data=data,
            sinks=self.sinks,
            dry_run=dry_run,
            settings=self.settings,
            record=not dry_run,
        )

    def harvest_file(
        self, actor: Actor, source: Source, path: Path, *, dry_run: bool = False
    ) -> HarvestAttempt:
        """`harvest` of the feed file at `path`, mapped into memory rather than read whole (a
        feed of gigabytes is paged in as the reader streams it; see `harvesters.base.open_feed`)."""
        with open_feed(path) as data:
            return self.harvest(actor, source, data=data, dry_run=dry_run)

    def confirm(self, actor: Actor, source_id: str, staged_id: str) -> Confirmed:
        """Publish exactly the bytes of a staged dry run (the mapping is applied again)."""
        source = self.changeable(actor, source_id)
        return publish.confirm(
            self.store,
            StagedFeedStore(self.store),
            source,
            staged_id,
            locks=self.locks,
            sinks=self.sinks,
            settings=self.settings,
        )

    def pull(self, actor: Actor, source_id: str, *, dry_run: bool = False) -> Published:
        """Fetch the source's URL and harvest it now (what its schedule does)."""
        source = self.changeable(actor, source_id)
        if not source.url:
            raise InvalidInput(f"Source {source_id!r} has no URL: push its feed instead.", field="url")
        return publish.pull(
            self.store, source, dry_run=dry_run, locks=self.locks, sinks=self.sinks, settings=self.settings
        )

    def remap(self, actor: Actor, source_id: str, *, dry_run: bool = False) -> RunReport:
        """Re-apply the source's current mapping to its stored raw records (nothing downloaded)."""
        source = self.changeable(actor, source_id)
        with self.locks.hold(source.id):
            return remap_source(self.store, source, sinks=self.sinks, dry_run=dry_run, settings=self.settings)

    def repair(self, actor: Actor, source_id: str, *, dry_run: bool = False) -> SourceRepair:
        """Put one source right after a crash or a hand-edited database, under its lock (Conflict,
        AlreadyRunning, while a harvest of it runs; holding the lock also proves that none of its
        RUNNING runs has a live owner). In order: fail the runs a dead process left RUNNING;
        remap the active courses whose stored record disagrees with its content hash (each gets
        the hash of what is stored first, so the remap sees the difference and rewrites the record
        through the normal path: changes feed, outbox, index); then upsert the source's index
        documents that are missing or stale. A dry run reports all three and changes nothing.
        The whole-catalogue version, orphaned index documents included: `catalogue repair`."""
        source = self.changeable(actor, source_id)
        with self.locks.hold(source.id):
            now = datetime.now(UTC)
            if dry_run:
                stale = stale_runs(self.store, now, source_id=source.id)
            else:
                stale = fail_stale_runs(self.store, now, source_id=source.id)
            found = inconsistent_records(self.store, source.id)
            remap: RunReport | None = None
            left = found
            if found and not dry_run:
                rehash(self.store, [entry.course_id for entry in found])
                remap = remap_source(self.store, source, sinks=self.sinks, settings=self.settings)
                left = inconsistent_records(self.store, source.id)
            index = None
            if self.backend is not None and not any(entry.unreadable for entry in left):
                held = (
                    index_writes_held(self.index_locks, wait=INDEX_LOCK_WAIT)
                    if self.index_locks is not None
                    else nullcontext()
                )
                with held:
                    index = repair_index(
                        self.store,
                        self.backend,
                        dry_run=dry_run,
                        eligibility=EligibilityStore(self.store),
                        source_id=source.id,
                        skill_cache=SkillLinkStore(self.store),
                    )
        inconsistent = [entry.course_id for entry in found]
        return SourceRepair(
            source.id, dry_run, stale, inconsistent, remap, [entry.course_id for entry in left], index
        )

    def confirm_withdrawals(self, actor: Actor, run_id: int) -> HarvestDiff:
        """Apply the withdrawals a HELD run kept back; the sinks then see them."""
        report = self.store.get_run(run_id)
        self.changeable(actor, report.source_id)
        diff = self.store.confirm_withdrawals(run_id)
        for sink in self.sinks:
            sink.apply(diff.changed)
        return diff

    def staged_feeds(self, actor: Actor) -> StagedFeedStore:
        """The staged-feed store with the actor's quota (admins and the operator: no account quota)."""
        quota = self.staged_quota
        if actor.may(is_admin):
            quota = replace(quota, feeds_per_account=0, bytes_per_account=0)
        return StagedFeedStore(self.store, quota)

    def changeable(self, actor: Actor, source_id: str) -> Source:
        """The source, if the actor may change it (NotFound, PermissionDenied)."""
        source = self.store.get_source(source_id)
        actor.permit(
            lambda a: can_change_source(a, source), f"Your account does not own source {source_id!r}."
        )
        return source
