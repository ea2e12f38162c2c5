"""Per-app wiring: the catalogue store, the search backend, the change sinks, harvest settings.

The search backend is wrapped in a per-process result cache (`search.result_cache`) unless
`SEARCH_CACHE_SIZE` is 0; writes through it, and commits by other processes, invalidate it.
Outside the cache, `search.fresh.FreshResults` drops hits the store has withdrawn meanwhile.

After a commit, the sinks deliver the index outbox (`drain_outbox`: eligibility re-evaluated,
then the index; catalogue/outbox.py) and queue webhooks. A web process also runs a background
thread from its first request (`BACKGROUND_SECONDS`): it delivers what a dead process left in
the outbox and resumes abandoned scheme evaluation jobs (catalogue/eligibility_jobs.py).

One `Services` lives in `app.extensions["catalogue"]`. Everything opens lazily on first use (so
`create_app` does no I/O) and stays open for the life of the app, shared by every request and
thread; `close()` releases it (the CLI closes when a command ends, tests when the app fixture
ends, and a finaliser when the app is garbage-collected or the interpreter exits).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context

from course_catalogue.catalogue.changes import ChangeSink, StoredCourse
from course_catalogue.catalogue.eligibility_jobs import SchemeJobs
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.outbox import Outbox
from course_catalogue.catalogue.skill_link_store import SkillLinkStore
from course_catalogue.catalogue.staged_feeds import StagedQuota
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.catalogue.webhook_store import WebhookStore
from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.factory import embed_missing_vectors, open_backend
from course_catalogue.search.fresh import FreshResults
from course_catalogue.search.result_cache import (
    CachedBackend,
    EmbeddedGeneration,
    ExpiringGeneration,
    Generation,
)
from course_catalogue.search.sync import (
    INDEX_LOCK_WAIT,
    DrainReport,
    OutboxSink,
    RepairReport,
    drain_exclusively,
    drain_outbox,
    index_writes_held,
    reindex,
    repair,
)
from course_catalogue.services.accounts import AccountService
from course_catalogue.services.harvests import HarvestService
from course_catalogue.services.locks import SourceLocks, open_locks
from course_catalogue.services.pipeline import HarvestSettings
from course_catalogue.services.schemes import SchemeService
from course_catalogue.services.sources import SourceService
from course_catalogue.services.webhook_delivery import WebhookSettings
from course_catalogue.services.webhooks import WebhookService

EXTENSION = "catalogue"
DRAIN_WAIT = 60.0
"""Seconds a committing process waits for another process's drain before leaving its changes to
it (so that, normally, a harvest's changes are searchable when the harvest returns)."""
DRAIN_WAIT_REQUEST = 10.0
"""The same inside a web request: well under a worker's timeout (gunicorn's default is 30 s)."""
OUTBOX_LOCK_NAMESPACE = "catalogue-outbox"

logger = logging.getLogger(__name__)


class Services:
    """Lazily opened, thread-safe holder of the app's long-lived resources."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._store: CatalogueStore | None = None
        self._backend: SearchBackend | None = None
        self._engine: SearchBackend | None = None  # the engine behind `backend`'s wrappers
        self._locks: SourceLocks | None = None
        self._outbox_locks: SourceLocks | None = None
        self._background: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def store(self) -> CatalogueStore:
        with self._lock:
            if self._store is None:
                _ensure_sqlite_dir(self._config["DATABASE_URL"])
                self._store = CatalogueStore(self._config["DATABASE_URL"])
            return self._store

    @property
    def backend(self) -> SearchBackend:
        """The search backend, opened on first use. Opening never embeds what a vector graph
        lacks under the services' lock (every request would wait on it): a process that is not
        serving a request does it right after (`embed_missing_vectors`); a web process leaves it
        to its maintenance thread (`_maintain`), since seconds to a minute of CPU inside a
        request can outlast the server's worker timeout."""
        opened = False
        with self._lock:
            if self._backend is None:
                url = self._config["OPENSEARCH_URL"]
                if not url:
                    Path(self._config["INDEX_DIR"]).mkdir(parents=True, exist_ok=True)
                engine = open_backend(
                    self._config["INDEX_DIR"],
                    url,
                    self._config.get("SEMANTIC_MODEL", ""),
                    embed_missing=False,
                )
                self._engine = engine
                cached = _with_cache(engine, self._config)
                self._backend = FreshResults(cached, lambda ids: Outbox(self.store).withdrawn_among(ids))
                opened = True
            backend = self._backend
        if opened and not has_request_context():
            self.embed_missing_vectors()
        return backend

    @property
    def sinks(self) -> list[ChangeSink]:
        """Where committed changes go after a harvest, in this order: the index outbox's delivery
        (eligibility re-evaluated, then the search index), webhook deliveries."""
        return [OutboxSink(self.drain_outbox), WebhookEnqueue(WebhookStore(self.store))]

    @property
    def outbox_locks(self) -> SourceLocks:
        """The lock that serialises outbox drains across processes (own namespace and folder)."""
        with self._lock:
            if self._outbox_locks is None:
                lock_dir = Path(self._config["DATA_DIR"]) / "locks" / "outbox"
                self._outbox_locks = open_locks(
                    self._config["DATABASE_URL"], lock_dir, namespace=OUTBOX_LOCK_NAMESPACE
                )
            return self._outbox_locks

    def drain_outbox(self, wait: float | None = None) -> DrainReport:
        """Deliver every pending index outbox entry (see search.sync.drain_outbox), or leave them
        to the process that holds the drain lock after `wait` seconds (default: DRAIN_WAIT, or
        DRAIN_WAIT_REQUEST inside a web request)."""
        if wait is None:
            wait = DRAIN_WAIT_REQUEST if has_request_context() else DRAIN_WAIT
        return drain_exclusively(self.outbox_locks, self._drain, wait=wait)

    def embed_missing_vectors(self) -> int | None:
        """Embed what this process's vector graph lacks, when the index is small enough
        (search.factory.embed_missing_vectors); the backend is opened if it was not. None: no
        graph, or too big an index (`catalogue reindex` rebuilds it)."""
        if self._engine is None:
            _ = self.backend  # opens it (and, outside a request, comes back here)
        engine = self._engine
        return None if engine is None else embed_missing_vectors(engine)

    def reindex(self) -> int:
        """Rebuild the whole search index from the store (search.sync.reindex); returns how many
        courses it holds. The drain lock is held throughout (`index_writes_held`): a delivery
        written meanwhile into the index being replaced would be lost with it, its entries
        retired. Changes committed during the rebuild keep their entries, and are delivered here
        before the lock is let go. Conflict when another process holds the lock for
        INDEX_LOCK_WAIT seconds."""
        with index_writes_held(self.outbox_locks, wait=INDEX_LOCK_WAIT):
            count = reindex(
                self.store, self.backend, EligibilityStore(self.store), SkillLinkStore(self.store)
            )
            self._drain()
        return count

    def repair_index(self, *, dry_run: bool = False) -> tuple[DrainReport, RepairReport]:
        """Deliver the pending outbox entries (not on a dry run), then compare the whole index with
        the store and fix what differs (search.sync.repair), holding the drain lock so that no
        delivery interleaves with the comparison (see `reindex`)."""
        with index_writes_held(self.outbox_locks, wait=INDEX_LOCK_WAIT):
            delivered = DrainReport() if dry_run else self._drain()
            report = repair(
                self.store,
                self.backend,
                dry_run=dry_run,
                eligibility=EligibilityStore(self.store),
                skill_cache=SkillLinkStore(self.store),
            )
        return delivered, report

    def _drain(self) -> DrainReport:
        """One `drain_outbox` of this catalogue; the caller holds the drain lock."""
        eligibility = EligibilityStore(self.store)
        return drain_outbox(
            Outbox(self.store),
            self.backend,
            eligibility,
            refresh=eligibility,
            skill_cache=SkillLinkStore(self.store),
        )

    @property
    def scheme_jobs(self) -> SchemeJobs:
        stale = timedelta(seconds=float(self._config["SCHEME_JOB_STALE_SECONDS"]))
        return SchemeJobs(self.store, stale_after=stale)

    def after_scheme_jobs(self) -> None:
        """What follows a scheme evaluation that switched in: the index, then the webhooks."""
        self.drain_outbox()
        WebhookStore(self.store).enqueue()

    def start_background(self) -> None:
        """Start this process's maintenance thread once (no-op when BACKGROUND_SECONDS is 0)."""
        every = float(self._config["BACKGROUND_SECONDS"])
        if every <= 0 or self._background is not None:
            return
        with self._lock:
            if self._background is not None:
                return
            self._stop.clear()
            thread = threading.Thread(
                target=self._maintain, args=(every,), name="catalogue-maintenance", daemon=True
            )
            self._background = thread
        thread.start()

    def _maintain(self, every: float) -> None:
        """Right away, then every `every` seconds: deliver the outbox (whatever a dead process
        left: normally the committing process delivers its own), embed what the vector graph
        lacks (search.factory.embed_missing_vectors: a request never does) and resume scheme
        jobs whose runner died (or that no worker took)."""
        delay = 0.0
        while not self._stop.wait(delay):
            delay = every
            try:
                report = self.drain_outbox(wait=0)
                self.embed_missing_vectors()
                if report.delivered:
                    logger.info(
                        "index outbox: delivered %d entries (%d courses)", report.delivered, report.courses
                    )
                if any(run.claimed for run in self.scheme_jobs.resume()):
                    self.after_scheme_jobs()
            except Exception:  # the next round tries again; a web process must not die of it
                logger.exception("background maintenance failed")

    @property
    def webhook_settings(self) -> WebhookSettings:
        return WebhookSettings(
            max_attempts=self._config["WEBHOOK_MAX_ATTEMPTS"],
            timeout=self._config["WEBHOOK_TIMEOUT"],
            allow_private=self._config["ALLOW_PRIVATE_URLS"],
            public_url=self._config["PUBLIC_BASE_URL"],
        )

    @property
    def locks(self) -> SourceLocks:
        """One harvest per source at a time: advisory locks on PostgreSQL, else file locks
        in `<DATA_DIR>/locks` (see services/locks.py)."""
        with self._lock:
            if self._locks is None:
                lock_dir = Path(self._config["DATA_DIR"]) / "locks"
                self._locks = open_locks(self._config["DATABASE_URL"], lock_dir)
            return self._locks

    @property
    def harvest_settings(self) -> HarvestSettings:
        return HarvestSettings(
            max_feed_bytes=self._config["MAX_FEED_BYTES"],
            allow_private=self._config["ALLOW_PRIVATE_URLS"],
            max_withdraw_share=self._config["WITHDRAW_GUARD_SHARE"],
            max_withdraw_count=self._config["WITHDRAW_GUARD_COUNT"] or None,
            workers=self._config["HARVEST_WORKERS"] or None,
        )

    @property
    def accounts(self) -> AccountService:
        """Accounts and API tokens (services/accounts.py)."""
        return AccountService(self.store)

    @property
    def schemes(self) -> SchemeService:
        """Eligibility schemes: define, change, decide, read (services/schemes.py)."""
        return SchemeService(self.store, self.scheme_jobs, deliver=self.after_scheme_jobs)

    @property
    def webhooks(self) -> WebhookService:
        """Webhook subscriptions (services/webhooks.py)."""
        return WebhookService(self.store, allow_private=self._config["ALLOW_PRIVATE_URLS"])

    @property
    def sources(self) -> SourceService:
        """Register, change and retire sources (services/sources.py)."""
        return SourceService(
            self.store,
            self.locks,
            self.sinks,
            max_sources_per_account=self._config["MAX_SOURCES_PER_ACCOUNT"],
        )

    @property
    def harvests(self) -> HarvestService:
        """Push, confirm, pull, remap, confirm withdrawals (services/harvests.py)."""
        config = self._config
        return HarvestService(
            self.store,
            self.locks,
            self.sinks,
            self.harvest_settings,
            staged_quota=StagedQuota(
                feeds_per_source=config["STAGED_FEEDS_PER_SOURCE"],
                bytes_per_source=config["STAGED_BYTES_PER_SOURCE"],
                feeds_per_account=config["STAGED_FEEDS_PER_ACCOUNT"],
                bytes_per_account=config["STAGED_BYTES_PER_ACCOUNT"],
            ),
            staged_ttl=timedelta(hours=config["STAGED_FEED_HOURS"]),
            backend=self.backend,
            index_locks=self.outbox_locks,
        )

    def close(self) -> None:
        """Close whatever is open; safe to call twice, and the next use opens again."""
        self._stop.set()
        thread, self._background = self._background, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        with self._lock:
            backend, store, locks = self._backend, self._store, self._locks
            outbox_locks = self._outbox_locks
            self._backend = self._store = self._locks = self._outbox_locks = None
            self._engine = None
        for held in (locks, outbox_locks):
            if held is not None:
                held.close()
        if backend is not None:
            backend.close()
        if store is not None:
            store.close()


class WebhookEnqueue:
    """ChangeSink: queue a webhook delivery for each subscription whose feed moved (the periodic
    `deliver_webhooks` task sends them)."""

    def __init__(self, hooks: WebhookStore) -> None:
        self.hooks = hooks

    def apply(self, changed: Sequence[StoredCourse]) -> None:
        self.hooks.enqueue()


def _with_cache(backend: SearchBackend, config: Mapping[str, Any]) -> SearchBackend:
    """`backend` behind this process's result cache (search/result_cache.py), when configured:
    invalidated by the index generation for the embedded engine, by time for OpenSearch."""
    size = config["SEARCH_CACHE_SIZE"]
    if size <= 0:
        return backend
    generation: Generation
    if config["OPENSEARCH_URL"]:
        if config["SEARCH_CACHE_SECONDS"] <= 0:
            return backend
        generation = ExpiringGeneration(config["SEARCH_CACHE_SECONDS"])
    else:
        generation = EmbeddedGeneration(config["INDEX_DIR"])
    return CachedBackend(backend, generation, size=size)


def _ensure_sqlite_dir(url: str) -> None:
    # SQLite creates the file but not its directory; a fresh instance has neither.
    prefix = "sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def init_app(app: Flask) -> None:
    services = Services(app.config)
    app.extensions[EXTENSION] = services
    weakref.finalize(app, services.close)
    app.before_request(services.start_background)  # a serving process, not every CLI command


def get_services(app: Flask | None = None) -> Services:
    """The Services of `app`, or of the current app."""
    target = app if app is not None else current_app
    services: Services = target.extensions[EXTENSION]
    return services
