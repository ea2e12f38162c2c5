"""Change sinks that act at once, for tests that want a harvest's changes in the index or the
eligibility tables without the index outbox. Production wires `search.sync.OutboxSink` (index
and eligibility through the outbox, healing after a crash) and the webhook queue
(`services.runtime`)."""

from __future__ import annotations

from collections.abc import Sequence

from course_catalogue.catalogue.changes import StoredCourse
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.sync import EligibilityLookup, documents


class IndexSync:
    """ChangeSink that upserts every changed course, active or withdrawn.

    Withdrawn courses stay in the index with status "withdrawn" (hidden unless a query asks
    for them), so applying the same changes again leaves the same index: idempotent.
    """

    def __init__(self, backend: SearchBackend, eligibility: EligibilityLookup | None = None) -> None:
        self.backend = backend
        self.eligibility = eligibility

    def apply(self, changed: Sequence[StoredCourse]) -> None:
        # Only the last version of a course delivered in one batch counts.
        latest = {stored.id: stored for stored in changed}
        if latest:
            self.backend.upsert(documents(latest.values(), self.eligibility))


class EligibilitySink:
    """ChangeSink: re-evaluates every changed course for every scheme after its harvest committed
    (idempotent: a refresh re-reads the courses, so a repeated delivery changes nothing)."""

    def __init__(self, store: EligibilityStore) -> None:
        self.store = store

    def apply(self, changed: Sequence[StoredCourse]) -> None:
        self.store.refresh_courses(stored.id for stored in changed)
