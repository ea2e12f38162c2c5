"""A per-process cache of search results and suggestions in front of any SearchBackend.

`CachedBackend(backend, generation, size=...)` answers `search` and `suggest` from memory when
the same request was answered before *at the same index generation*, and passes everything
else (writes, `inventory`, `count`, `close`) to `backend`.

Contract (`tests/search/test_result_cache.py` checks each point):

* **Key**: the whole request. For `search`, every field of the `Query` as `Query.create`
  normalised it (text with collapsed whitespace, filter values de-duplicated), plus the date
  "today" resolves to, because visibility ("not past") and the start-date buckets move with the
  calendar; for `suggest`, the prefix, the limit and that date.
* **Never stale**: an answer is served only while `generation()` returns the value it returned
  *before* the answer was computed. The first lookup that sees a new generation drops every
  entry, and an answer computed under a generation that has meanwhile moved on is not stored.
  So a commit by any process is visible to the next request, exactly as without the cache.
* **Writes through the wrapper** (`upsert`, `delete`, `rebuild`) also invalidate when they
  return, whatever the generation function says, so this process sees its own writes at once
  even with a time-based generation.
* **Bounded**: at most `size` entries (least recently used dropped first); `size <= 0` disables
  caching. Per process: workers do not share entries (nothing to keep coherent between them).
* Cached `SearchResult`s are shared between requests: they are frozen dataclasses, and callers
  must not mutate the `fields` dicts of their hits (the web layer copies them).

Generations:

* `EmbeddedGeneration(index_dir)` for the embedded engine: the stamp of the `CURRENT` pointer
  (a rebuild switches it) and of the live version's `meta.json`, which tantivy replaces
  atomically on every commit. These are the two stats `EmbeddedBackend` itself uses to decide
  to reload, so the cache moves exactly when the engine's view of the index does.
* `ExpiringGeneration(seconds)` for engines without a cheap change signal (OpenSearch): the
  generation is the current `seconds`-long time slot, so another process's writes show within
  `seconds` (writes made through this wrapper show at once, see above).

`take_outcome()` says whether the calling thread's latest `search`/`suggest` was a "hit" or a
"miss" (the web layer reports it in a response header, which the load benchmark counts).
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from course_catalogue.search.backend import Document, SearchBackend, Suggestion
from course_catalogue.search.documents import StoredRecord
from course_catalogue.search.index_versions import POINTER, IndexVersions
from course_catalogue.search.query import Query, SearchResult
from course_catalogue.search.sync import rebuild_from_records

Generation = Callable[[], Hashable]
"""Returns a value that changes whenever what the backend would answer may have changed."""

Outcome = Literal["hit", "miss"]
_outcome: contextvars.ContextVar[Outcome | None] = contextvars.ContextVar("search_cache", default=None)

META_FILE = "meta.json"
"""The file tantivy replaces (write to a temp file, rename) on every commit."""


def take_outcome() -> Outcome | None:
    """ "hit" or "miss" for this thread's latest cached call since the last `take_outcome`;
    None if it made none."""
    outcome = _outcome.get()
    _outcome.set(None)
    return outcome


class EmbeddedGeneration:
    """The generation of an embedded (tantivy) index directory: see the module docstring.

    Two `os.stat` calls per lookup (plus reading `CURRENT` when its stamp moved)."""

    def __init__(self, index_dir: str | Path) -> None:
        self._versions = IndexVersions(Path(index_dir).resolve())
        self._pointer_file = str(self._versions.root / POINTER)
        # (CURRENT's stamp, the version it named, that version's meta.json path)
        self._seen: tuple[Hashable, str | None, str | None] = (None, None, None)

    def __call__(self) -> Hashable:
        stamp = _file_stamp(self._pointer_file)
        seen_stamp, name, meta = self._seen
        if stamp != seen_stamp or name is None:
            # Read after the stamp: if CURRENT moves in between, the next call sees a new stamp.
            name = self._versions.current()
            meta = str(self._versions.path(name) / META_FILE) if name else None
            self._seen = (stamp, name, meta)
        return (stamp, name, _file_stamp(meta) if meta else None)


class ExpiringGeneration:
    """A generation that moves every `seconds` (for engines with no cheap change signal)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        self._seconds, self._clock = seconds, clock

    def __call__(self) -> Hashable:
        return int(self._clock() // self._seconds)


@dataclasses.dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    invalidations: int = 0
    entries: int = 0


class CachedBackend:
    """SearchBackend wrapper: see the module docstring for the contract."""

    def __init__(self, backend: SearchBackend, generation: Generation, *, size: int = 1024) -> None:
        self.backend = backend
        self._generation = generation
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._current: Hashable = None  # the generation the entries belong to
        self._writes = 0  # bumped by writes through this wrapper; part of the generation
        self._stats = CacheStats()

    # -- cached reads ------------------------------------------------------------------------------

    def search(self, query: Query) -> SearchResult:
        result: SearchResult = self._cached(("search", query_key(query)), lambda: self.backend.search(query))
        return result

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        key = ("suggest", prefix, limit, date.today())
        found: tuple[Suggestion, ...] = self._cached(key, lambda: tuple(self.backend.suggest(prefix, limit)))
        return list(found)  # a fresh list: callers may not share the cached one

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self._size <= 0:
            _outcome.set("miss")
            return compute()
        generation = (self._writes, self._generation())
        with self._lock:
            if generation != self._current:
                if self._entries:
                    self._stats.invalidations += 1
                self._entries.clear()
                self._current = generation
            found = self._entries.get(key, _MISSING)
            if found is not _MISSING:
                self._entries.move_to_end(key)
                self._stats.hits += 1
                _outcome.set("hit")
                return found
            self._stats.misses += 1
        _outcome.set("miss")
        value = compute()  # outside the lock: searches run concurrently
        with self._lock:
            # Computed under `generation`: keep it only if that is still the live one.
            if generation == self._current:
                self._entries[key] = value
                self._entries.move_to_end(key)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return value

    def stats(self) -> CacheStats:
        """Counters since this wrapper was made (a copy)."""
        with self._lock:
            return dataclasses.replace(self._stats, entries=len(self._entries))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._current = None

    # -- pass-through --------------------------------------------------------------------------------

    def upsert(self, documents: Iterable[Document]) -> int:
        try:
            return self.backend.upsert(documents)
        finally:
            self._written()

    def delete(self, ids: Sequence[str]) -> None:
        try:
            self.backend.delete(ids)
        finally:
            self._written()

    def rebuild(self, documents: Iterable[Document]) -> int:
        try:
            return self.backend.rebuild(documents)
        finally:
            self._written()

    def rebuild_records(self, records: Iterable[StoredRecord]) -> int:
        try:
            return rebuild_from_records(self.backend, records)
        finally:
            self._written()

    def inventory(self) -> dict[str, tuple[int, str]]:
        return self.backend.inventory()

    def count(self) -> int:
        return self.backend.count()

    def close(self) -> None:
        self.clear()
        self.backend.close()

    def _written(self) -> None:
        # After the write returned (it is visible then): a reader that read the old counter may
        # store a pre-write answer, but only under the old generation, which no lookup matches.
        with self._lock:
            self._writes += 1


_MISSING = object()


def query_key(query: Query) -> Hashable:
    """Every field of `query`, hashable, plus the date its "today" resolves to.

    Built from the dataclass fields, so a field added to Query is part of the key by default."""
    parts: list[Hashable] = [_frozen(getattr(query, f.name)) for f in dataclasses.fields(query)]
    parts.append(query.today or date.today())
    return tuple(parts)


def _frozen(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return tuple((name, _frozen(item)) for name, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return tuple(_frozen(item) for item in items)
    frozen: Hashable = value
    return frozen


def _file_stamp(path: str) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size
