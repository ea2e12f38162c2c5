"""Per-app wiring: the catalogue store, the search backend, the change sinks, harvest settings.

The search backend is wrapped in a per-process result cache (`search.result_cache`) unless
`SEARCH_CACHE_SIZE` is 0; writes through it, and commits by other processes, invalidate it.

One `Services` lives in `app.extensions["catalogue"]`. Everything opens lazily on first use (so
`create_app` does no I/O) and stays open for the life of the app, shared by every request and
thread; `close()` releases it (the CLI closes when a command ends, tests when the app fixture
ends, and a finaliser when the app is garbage-collected or the interpreter exits).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from catalogue.changes import ChangeSink, StoredCourse
from catalogue.eligibility_store import EligibilitySink, EligibilityStore
from catalogue.store import CatalogueStore
from catalogue.webhook_store import WebhookStore
from harvesters.locks import SourceLocks, open_locks
from harvesters.pipeline import HarvestSettings
from harvesters.webhook_delivery import WebhookSettings
from search.backend import SearchBackend
from search.factory import open_backend
from search.result_cache import CachedBackend, EmbeddedGeneration, ExpiringGeneration, Generation
from search.sync import IndexSync

EXTENSION = "catalogue"


class Services:
    """Lazily opened, thread-safe holder of the app's long-lived resources."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._store: CatalogueStore | None = None
        self._backend: SearchBackend | None = None
        self._locks: SourceLocks | None = None

    @property
    def store(self) -> CatalogueStore:
        with self._lock:
            if self._store is None:
                _ensure_sqlite_dir(self._config["DATABASE_URL"])
                self._store = CatalogueStore(self._config["DATABASE_URL"])
            return self._store

    @property
    def backend(self) -> SearchBackend:
        with self._lock:
            if self._backend is None:
                url = self._config["OPENSEARCH_URL"]
                if not url:
                    Path(self._config["INDEX_DIR"]).mkdir(parents=True, exist_ok=True)
                self._backend = _with_cache(open_backend(self._config["INDEX_DIR"], url), self._config)
            return self._backend

    @property
    def sinks(self) -> list[ChangeSink]:
        """Where committed changes go after a harvest, in this order: eligibility per scheme
        (before the index, whose documents carry it), the search index, webhook deliveries."""
        eligibility = EligibilityStore(self.store)
        return [
            EligibilitySink(eligibility),
            IndexSync(self.backend, eligibility),
            WebhookEnqueue(WebhookStore(self.store)),
        ]

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
        in `<DATA_DIR>/locks` (see harvesters/locks.py)."""
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
        )

    def close(self) -> None:
        """Close whatever is open; safe to call twice, and the next use opens again."""
        with self._lock:
            backend, store, locks = self._backend, self._store, self._locks
            self._backend = self._store = self._locks = None
        if locks is not None:
            locks.close()
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


def get_services(app: Flask | None = None) -> Services:
    """The Services of `app`, or of the current app."""
    target = app if app is not None else current_app
    services: Services = target.extensions[EXTENSION]
    return services
