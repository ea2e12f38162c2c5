"""Keeps the search index following the store: a ChangeSink, and a full reindex from the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from catalogue.changes import StoredCourse
from search.backend import SearchBackend
from search.documents import to_document


class CourseSource(Protocol):
    """The part of CatalogueStore a reindex reads."""

    def iter_courses(
        self, *, source_id: str | None = None, include_withdrawn: bool = False, batch_size: int = 1000
    ) -> Iterable[StoredCourse]: ...


class IndexSync:
    """ChangeSink that upserts every changed course, active or withdrawn.

    Withdrawn courses stay in the index with status "withdrawn" (hidden unless a query asks
    for them), so applying the same changes again leaves the same index: idempotent.
    """

    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend

    def apply(self, changed: Sequence[StoredCourse]) -> None:
        # Only the last version of a course delivered in one batch counts.
        latest = {stored.id: stored for stored in changed}
        if latest:
            self.backend.upsert(to_document(stored) for stored in latest.values())


def reindex(store: CourseSource, backend: SearchBackend) -> int:
    """Rebuild the whole index from the store (withdrawn tombstones included); return the count."""
    return backend.rebuild(to_document(stored) for stored in store.iter_courses(include_withdrawn=True))
