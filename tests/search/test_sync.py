"""IndexSync (the tests' immediate change sink, tests/sinks.py), reindex and the backend factory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore, RecordRow
from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.errors import BackendUnavailable
from course_catalogue.search.factory import open_backend
from course_catalogue.search.sync import documents, record_documents, reindex
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from tests.catalogue.test_store import cand, harvest
from tests.search.conftest import catalogue, cid, q
from tests.sinks import IndexSync


class ListStore:
    """Stands in for CatalogueStore.iter_courses and iter_records."""

    def __init__(self, courses: list[StoredCourse]) -> None:
        self.courses = courses
        self.asked_withdrawn: bool | None = None

    def iter_courses(
        self, *, source_id: str | None = None, include_withdrawn: bool = False, batch_size: int = 1000
    ) -> Iterator[StoredCourse]:
        self.asked_withdrawn = include_withdrawn
        return iter(c for c in self.courses if include_withdrawn or c.status is CourseStatus.ACTIVE)

    def iter_records(
        self, *, source_id: str | None = None, include_withdrawn: bool = False, batch_size: int = 1000
    ) -> Iterator[RecordRow]:
        for stored in self.iter_courses(include_withdrawn=include_withdrawn):
            yield RecordRow(stored.id, stored.status, stored.seq, json.dumps(course_to_dict(stored.course)))


class Schemes:
    """An eligibility lookup that remembers the id batches it was asked about."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def eligible_schemes(self, course_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = list(course_ids)
        self.batches.append(ids)
        return {course_id: ["erasmus", "bildungsgutschein"] for course_id in ids[::2]}


@pytest.fixture
def empty(empty_backend: SearchBackend) -> SearchBackend:
    """An empty backend of every engine: syncing is part of the backend contract."""
    return empty_backend


def test_sync_upserts_active_and_withdrawn(empty: SearchBackend) -> None:
    sync = IndexSync(empty)
    sync.apply(catalogue())
    assert empty.count() == 10
    assert empty.search(q()).total == 8
    assert empty.search(q(include_withdrawn=True, include_past=True)).total == 10


def test_sync_is_idempotent(empty: SearchBackend) -> None:
    sync = IndexSync(empty)
    sync.apply(catalogue())
    first = [h.id for h in empty.search(q(page_size=100)).hits]
    sync.apply(catalogue())
    assert empty.count() == 10
    assert [h.id for h in empty.search(q(page_size=100)).hits] == first


def test_sync_withdrawal_hides_the_course(empty: SearchBackend) -> None:
    sync = IndexSync(empty)
    courses = catalogue()
    sync.apply(courses)
    python = courses[0]
    sync.apply([replace(python, status=CourseStatus.WITHDRAWN)])
    assert cid("python") not in {h.id for h in empty.search(q("python")).hits}
    shown = empty.search(q("python", include_withdrawn=True)).hits
    assert shown[0].id == cid("python") and shown[0].fields["status"] == "withdrawn"


def test_sync_keeps_the_last_of_duplicate_deliveries(empty: SearchBackend) -> None:
    python = catalogue()[0]
    IndexSync(empty).apply([python, replace(python, status=CourseStatus.WITHDRAWN)])
    assert empty.count() == 1 and empty.search(q()).total == 0


def test_sync_of_nothing_is_a_no_op(empty: SearchBackend) -> None:
    IndexSync(empty).apply([])
    assert empty.count() == 0


def test_reindex_streams_every_course_including_withdrawn(empty: SearchBackend) -> None:
    store = ListStore(catalogue())
    assert reindex(store, empty) == 10
    assert store.asked_withdrawn is True
    assert empty.search(q(include_withdrawn=True)).total == 9


def test_factory_opens_the_embedded_index(tmp_path: Path) -> None:
    backend = open_backend(str(tmp_path / "index"))
    assert isinstance(backend, EmbeddedBackend) and backend.count() == 0


def test_factory_reports_an_unreachable_opensearch_as_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="OpenSearch"):
        open_backend(str(tmp_path / "index"), "http://127.0.0.1:1")


def test_reindex_documents_equal_the_sync_documents() -> None:
    """A reindex reads records raw (`record_documents`); a sync flattens Courses (`documents`):
    the same courses must give the same documents, eligible schemes included, looked up per batch."""
    store = ListStore(catalogue())
    by_records, by_courses = Schemes(), Schemes()
    built = list(record_documents(store.iter_records(include_withdrawn=True), by_records, batch=3))
    expected = list(documents(store.iter_courses(include_withdrawn=True), by_courses, batch=3))
    assert json.dumps(built) == json.dumps(expected) and len(built) == 10
    assert by_records.batches == by_courses.batches and [len(b) for b in by_records.batches] == [3, 3, 3, 1]
    assert sum(bool(doc["eligible"]) for doc in built) == 7  # every other id of each batch


def test_reindex_from_the_store_keeps_tombstones(store: CatalogueStore, tmp_path: Path) -> None:
    """End to end on SQLite and PostgreSQL: every course, the withdrawn one as a tombstone."""
    store.save_source(Source("edx", "csv"))
    harvest(store, [cand(f"r{i}", f"Cours d'été {i}") for i in range(4)])
    harvest(store, [cand(f"r{i}", f"Cours d'été {i}") for i in range(3)])  # r3 withdrawn
    backend = EmbeddedBackend(tmp_path / "index")
    try:
        assert reindex(store, backend) == 4
        stored = {s.id: (s.seq, str(s.status)) for s in store.iter_courses(include_withdrawn=True)}
        assert backend.inventory() == stored and sorted(v for _, v in stored.values()).count("withdrawn") == 1
        assert backend.search(q("ete")).total == 3
    finally:
        backend.close()
