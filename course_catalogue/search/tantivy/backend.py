"""The embedded search backend: a tantivy index on local disk behind the SearchBackend protocol.

Concurrency model:
* One writer at a time. In this process a lock per index directory serialises upsert, delete
  and rebuild; across processes tantivy's own lock file does, and a writer that finds it busy
  retries until `writer_timeout`. The tantivy writer is opened per operation and released
  afterwards, so the web server and a CLI harvest can take turns.
* Readers never block. Every search checks the `CURRENT` pointer (one stat) and reloads the
  searcher (cheap when nothing changed), so commits and rebuilds made by another process are
  seen on the next query.
* `rebuild` fills a new version directory while holding the writer lock of the live one (so
  other processes' upserts wait instead of landing in an index about to be replaced), switches
  CURRENT atomically, then deletes versions older than the one it replaced.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TypeVar

import tantivy

from course_catalogue.search.analysis import build_analyzers, build_stopword_analyzers
from course_catalogue.search.backend import Document, Suggestion
from course_catalogue.search.documents import OTHER, StoredRecord, provider_key, record_document
from course_catalogue.search.errors import (
    BackendUnavailable,
    IndexingError,
    IndexOutdated,
    QueryError,
    SearchError,
)
from course_catalogue.search.facet_values import vocabulary_label
from course_catalogue.search.geo import hit_distance
from course_catalogue.search.index_versions import IndexVersions
from course_catalogue.search.query import (
    FACETS_BY_NAME,
    LABELLED_FIELDS,
    Hit,
    Query,
    SearchResult,
    make_cursor,
    read_cursor,
    validate,
)
from course_catalogue.search.tantivy.facets import count_facets
from course_catalogue.search.tantivy.hits import HitBuilder
from course_catalogue.search.tantivy.index import (
    SCHEMA_VERSION,
    SLUG_FIELDS,
    build_schema,
    register_analyzers,
    slug_hash,
    to_tantivy,
)
from course_catalogue.search.tantivy.paging import geo_scope, page_by_distance, page_by_key
from course_catalogue.search.tantivy.query import QueryBuilder, combine
from course_catalogue.search.tantivy.suggest import suggest as tantivy_suggest

UPDATE_HEAP = 64_000_000
REBUILD_HEAP = 256_000_000
_TANTIVY_ERRORS = (ValueError, RuntimeError, OSError)
_LABEL_CACHE_LIMIT = 50_000
FACET_THREADS = 4  # facet counts of concurrent searches run on these, each beside its own search

K = TypeVar("K")
V = TypeVar("V")

_process_locks: dict[Path, threading.RLock] = {}
_process_locks_guard = threading.Lock()

OUTDATED = "the search index was built by an older version of the software; run `catalogue reindex`"


_pool: ThreadPoolExecutor | None = None
_pool_guard = threading.Lock()


def _facet_pool() -> ThreadPoolExecutor:
    """Threads for facet counting, created on first use in each process."""
    global _pool
    with _pool_guard:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=FACET_THREADS, thread_name_prefix="search-facets")
        return _pool


def _forget_pool() -> None:
    # A forked child (Celery prefork, gunicorn) inherits the pool object but not its threads.
    global _pool, _pool_guard
    _pool, _pool_guard = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _process_lock(root: Path) -> threading.RLock:
    """One lock per index directory per process, shared by every backend opened on it."""
    with _process_locks_guard:
        return _process_locks.setdefault(root, threading.RLock())


@dataclass(frozen=True)
class _Opened:
    name: str
    index: tantivy.Index
    stamp: tuple[int, int] | None
    compatible: bool


class EmbeddedBackend:
    """SearchBackend on tantivy. See the module docstring for the concurrency model."""

    def __init__(self, index_dir: str | Path, *, writer_timeout: float = 300.0) -> None:
        self._versions = IndexVersions(Path(index_dir).resolve())
        self._writer_timeout = writer_timeout
        self._schema = build_schema()
        self._analyzers = build_analyzers()
        self._builder = QueryBuilder(self._schema, self._analyzers, build_stopword_analyzers())
        self._write_lock = _process_lock(self._versions.root)
        self._state_lock = threading.Lock()
        self._opened: _Opened | None = None
        self._closed = False
        self._provider_labels: dict[str, str] = {}
        self._slugs: dict[tuple[str, int], str] = {}
        self._meta_stamp: tuple[int, int, int] | None = None
        try:
            self._versions.root.mkdir(parents=True, exist_ok=True)
            with self._write_lock:
                if self._versions.current() is None:
                    self._versions.switch(self._build_version((), heap=15_000_000))
            self._refresh()
        except (*_TANTIVY_ERRORS, IndexingError) as error:
            raise BackendUnavailable(f"cannot open search index at {index_dir}: {error}") from error

    # -- writes --------------------------------------------------------------------------------

    def upsert(self, documents: Iterable[Document]) -> int:
        """Add or replace documents by id; visible to `search` when this returns."""

        def apply(writer: tantivy.IndexWriter) -> int:
            count = 0
            for doc in documents:
                _add(writer, doc, replace=True)
                count += 1
            return count

        return self._write(apply)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""

        def apply(writer: tantivy.IndexWriter) -> int:
            with _wrapped("deleting from the search index"):
                for doc_id in ids:
                    writer.delete_documents_by_term("id", doc_id)
            return len(ids)

        if ids:
            self._write(apply)

    def rebuild(self, documents: Iterable[Document]) -> int:
        """Replace the whole index with `documents` (ids must be unique); return how many.

        Searches meanwhile use the old index; the switch to the new one is atomic.
        """
        return self._rebuild(map(to_tantivy, documents))

    def rebuild_records(self, records: Iterable[StoredRecord]) -> int:
        """`rebuild` with the documents of stored records (`search.sync.reindex`), each built as
        it is consumed (`record_document`). A second builder writing tantivy's JSON straight from
        the records saved 7.4% of a reindex's CPU (bench/fast_paths.py), under the 10% a second
        implementation must save to stay, so there is one document path."""
        return self._rebuild(to_tantivy(record_document(*record)) for record in records)

    def _rebuild(self, converted: Iterable[str]) -> int:
        """`rebuild` from documents already converted (`to_tantivy`)."""
        with self._write_lock:
            while True:
                old = self._refresh()
                with self._writer(old.index, heap=15_000_000, threads=1):  # holds other writers off
                    # Another rebuild may have switched CURRENT while we waited for its lock: the
                    # writers to hold off are then the new version's (see `_write`).
                    if self._versions.current() != old.name:
                        continue
                    name = self._build_version(converted)
                    self._versions.switch(name)
                break
            new = self._refresh()
            self._versions.prune(keep_from=old.name)
            return int(new.index.searcher().num_docs)

    def _build_version(self, converted: Iterable[str], heap: int = REBUILD_HEAP) -> str:
        """A new index version holding `converted` (documents as `to_tantivy` gives them)."""
        name = self._versions.create()
        try:
            with _wrapped("creating a new search index"):
                index = tantivy.Index(self._schema, path=str(self._versions.path(name)), reuse=False)
                register_analyzers(index, self._analyzers)
            with self._writer(index, heap=heap, threads=0 if heap >= REBUILD_HEAP else 1) as writer:
                for doc in converted:  # errors of the source (and of the conversion) propagate unchanged
                    try:  # not `_wrapped`: entering a generator context manager per document costs ~1 us
                        writer.add_json(doc)
                    except _TANTIVY_ERRORS as error:
                        raise IndexingError(
                            f"adding a document to the search index failed: {error}"
                        ) from error
                with _wrapped("committing the new search index"):
                    writer.commit()
            self._versions.write_marker(name, SCHEMA_VERSION)
        except BaseException:
            self._versions.discard(name)
            raise
        return name

    def _write(self, apply: Callable[[tantivy.IndexWriter], int]) -> int:
        with self._write_lock:
            while True:
                opened = self._refresh()
                if not opened.compatible:
                    raise IndexingError(OUTDATED)
                with self._writer(opened.index, heap=UPDATE_HEAP, threads=1) as writer:
                    # Another process may have switched CURRENT while we waited for its lock.
                    if self._versions.current() != opened.name:
                        continue
                    count = apply(writer)
                    with _wrapped("committing to the search index"):
                        writer.commit()
                opened.index.reload()
                return count

    @contextmanager
    def _writer(self, index: tantivy.Index, *, heap: int, threads: int) -> Iterator[tantivy.IndexWriter]:
        """A tantivy writer, released (with its lock file) on exit; rolled back on error."""
        deadline = time.monotonic() + self._writer_timeout
        while True:
            try:
                writer = index.writer(heap_size=heap, num_threads=threads)
                break
            except ValueError as error:
                if "LockBusy" not in str(error) or time.monotonic() > deadline:
                    raise IndexingError(f"cannot get the search index writer: {error}") from error
                time.sleep(0.05)
        try:
            yield writer
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()  # consumes the writer and releases the lock

    # -- reads -----------------------------------------------------------------------------------

    def search(self, query: Query) -> SearchResult:
        """Run `query`; raises QueryError for an invalid request, BackendUnavailable if the
        index cannot be used, and nothing for any user text."""
        validate(query)
        opened = self._refresh()
        if not opened.compatible:
            raise IndexOutdated(OUTDATED)
        try:
            return self._search(opened.index.searcher(), query)
        except SearchError:
            raise
        except _TANTIVY_ERRORS as error:
            raise BackendUnavailable(f"search failed: {error}") from error

    def _search(self, searcher: tantivy.Searcher, query: Query) -> SearchResult:
        text, reach = self._builder.text_and_reach(query.text, searcher, any_words=query.any_words)
        filters = self._builder.filters(query)
        scope = geo_scope(searcher, self._builder, query)
        full = combine(text, [*self._builder.visibility(query), *scope, *filters.values()])
        # tantivy releases the GIL while it searches: the facet aggregation (the larger half of
        # the work) runs on another core while this thread collects the page.
        sort = "start_date" if query.sort == "relevance" and text is None else query.sort
        cursor = read_cursor(query)
        if cursor is not None and cursor.sort != sort:
            raise QueryError("cursor belongs to another search; start again from the first page")
        labeller = self._labeller(searcher)
        slugs = partial(self._slug, searcher)
        counting = _facet_pool().submit(
            count_facets, searcher, self._builder, query, text, filters, labeller, slugs, scope, reach
        )
        start = cursor.seen if cursor is not None else query.offset
        if sort == "distance":
            pairs, after, total = page_by_distance(searcher, full, query, cursor)
        else:
            pairs, after, total = page_by_key(searcher, full, sort, query, cursor)
        hits = HitBuilder(searcher, self._schema, text).hits(pairs, scored=sort == "relevance")
        if query.near is not None:
            hits = tuple(replace(h, distance_km=hit_distance(query, h.fields.get("geo"))) for h in hits)
        facets = counting.result()
        end = start + len(hits)
        next_cursor = make_cursor(query, sort, after, end) if hits and end < total else None
        return SearchResult(query, total, hits, facets, next_cursor=next_cursor, offset=start)

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Autocomplete over visible courses: see `SearchBackend.suggest` for the contract."""
        opened = self._refresh()
        if not opened.compatible:
            raise IndexOutdated(OUTDATED)
        fold = self._analyzers[OTHER].analyze
        visibility = self._builder.visibility(Query())
        try:
            return tantivy_suggest(opened.index.searcher(), self._schema, fold, visibility, prefix, limit)
        except _TANTIVY_ERRORS as error:
            raise BackendUnavailable(f"suggest failed: {error}") from error

    def _labeller(self, searcher: tantivy.Searcher) -> Callable[[str, str], str]:
        def label(name: str, value: str) -> str:
            field = FACETS_BY_NAME[name].field
            if field not in LABELLED_FIELDS:
                return vocabulary_label(name, value)
            cached = self._provider_labels.get(f"{field}:{value}")
            if cached is None:
                cached = self._published_name(searcher, field, value)
                _bounded_put(self._provider_labels, f"{field}:{value}", cached)
            return cached

        return label

    def _slug(self, searcher: tantivy.Searcher, field: str, hashed: int) -> str | None:
        """The slug of `field` whose slug_hash is `hashed` (see SLUG_FIELDS), from one course
        that has it; None if none has. A hash always maps to the same slug, so answers are kept
        across index versions (bounded, like the labels). The name it was made from becomes the
        slug's label, so the labeller need not look the course up again."""
        slug = self._slugs.get((field, hashed))
        if slug is not None:
            return slug
        having = self._builder.term(SLUG_FIELDS[field], hashed)
        if field not in LABELLED_FIELDS:  # the card holds the values themselves (ESCO skill URIs)
            for value in self._card_values(searcher, having, field):
                if slug_hash(value) == hashed:
                    _bounded_put(self._slugs, (field, hashed), value)
                    return value
            return None
        for name in self._names(searcher, having, field):
            key = provider_key(name)
            if key and slug_hash(key) == hashed:
                _bounded_put(self._slugs, (field, hashed), key)
                self._provider_labels.setdefault(f"{field}:{key}", name)
                return key
        return None

    def _published_name(self, searcher: tantivy.Searcher, field: str, key: str) -> str:
        """The name a slug facet value was made from, as one of its courses publishes it."""
        names = self._names(searcher, self._builder.term(field, key), field)
        return next((name for name in names if provider_key(name) == key), key)

    def _names(self, searcher: tantivy.Searcher, match: tantivy.Query, field: str) -> list[str]:
        """The published names of slug field `field` (LABELLED_FIELDS) on one course matching
        `match`; empty when none matches."""
        return self._card_values(searcher, match, LABELLED_FIELDS[field])

    def _card_values(self, searcher: tantivy.Searcher, match: tantivy.Query, card_field: str) -> list[str]:
        """The values of card field `card_field` (CARD_FIELDS) on one course matching `match`."""
        found = searcher.search(match, 1).hits
        if not found:
            return []
        hit: Hit = HitBuilder(searcher, self._schema, None).hits(found[:1], scored=False)[0]
        names = hit.fields.get(card_field)
        return [str(name) for name in (names if isinstance(names, list) else [names]) if name]

    def inventory(self) -> dict[str, tuple[int, str]]:
        """Every indexed document's id -> (seq, status): what `search.sync.repair` compares."""
        opened = self._refresh()
        if not opened.compatible:
            raise IndexOutdated(OUTDATED)
        searcher = opened.index.searcher()
        total = int(searcher.num_docs)
        found: dict[str, tuple[int, str]] = {}
        if not total:
            return found
        with _wrapped("listing indexed documents"):
            for _score, address in searcher.search(tantivy.Query.all_query(), total).hits:
                doc = searcher.doc(address)
                card = json.loads(bytes(doc.get_first("card") or b"{}"))
                seq = int(doc.get_first("seq") or 0)
                found[str(doc.get_first("id"))] = (seq, str(card.get("status") or "active"))
        return found

    def count(self) -> int:
        """Documents in the index, withdrawn tombstones included; IndexOutdated when the index was
        built by an older schema (so a health check and `catalogue init` notice it)."""
        opened = self._refresh()
        if not opened.compatible:
            raise IndexOutdated(OUTDATED)
        return int(opened.index.searcher().num_docs)

    def close(self) -> None:
        with self._state_lock:
            self._closed = True
            self._opened = None

    # -- the live version -------------------------------------------------------------------------

    def _refresh(self) -> _Opened:
        """The live index, reopened if CURRENT moved and reloaded to its latest commit."""
        stamp = self._versions.stamp()
        with self._state_lock:
            if self._closed:
                raise BackendUnavailable("the search backend is closed")
            opened = self._opened
            if opened is None or opened.stamp != stamp:
                name = self._versions.current()
                if name is None:
                    raise BackendUnavailable(f"no search index in {self._versions.root}")
                if opened is None or opened.name != name:
                    opened = self._open(name, stamp)
                    self._provider_labels.clear()
                else:
                    opened = _Opened(opened.name, opened.index, stamp, opened.compatible)
                self._opened = opened
        # Reloading costs ~0.25 ms even when nothing changed; a stat of meta.json (which tantivy
        # replaces atomically on every commit) tells whether anyone committed since.
        meta = _file_stamp(self._versions.path(opened.name) / "meta.json")
        if meta != self._meta_stamp:
            try:
                opened.index.reload()
            except _TANTIVY_ERRORS as error:
                raise BackendUnavailable(f"cannot reload the search index: {error}") from error
            self._meta_stamp = meta
        return opened

    def _open(self, name: str, stamp: tuple[int, int] | None) -> _Opened:
        try:
            index = tantivy.Index.open(str(self._versions.path(name)))
        except _TANTIVY_ERRORS as error:
            raise BackendUnavailable(f"cannot open search index version {name}: {error}") from error
        register_analyzers(index, self._analyzers)
        compatible = self._versions.read_marker(name) == SCHEMA_VERSION
        return _Opened(name, index, stamp, compatible)


def _bounded_put(cache: dict[K, V], key: K, value: V) -> None:
    """Store into a cache that is emptied when it reaches _LABEL_CACHE_LIMIT entries."""
    if len(cache) >= _LABEL_CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def _add(writer: tantivy.IndexWriter, doc: Document, *, replace: bool) -> None:
    converted = to_tantivy(doc)
    with _wrapped("adding a document to the search index"):
        if replace:
            writer.delete_documents_by_term("id", doc["id"])
        writer.add_json(converted)


@contextmanager
def _wrapped(action: str) -> Iterator[None]:
    """Report tantivy's errors (ValueError, RuntimeError, OSError) as IndexingError."""
    try:
        yield
    except _TANTIVY_ERRORS as error:
        raise IndexingError(f"{action} failed: {error}") from error
