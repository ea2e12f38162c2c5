"""The index outbox: written with every committed change, delivered (withdrawals first), retired only
once delivered; documents carry the index version, so repair also sees eligibility drift
(SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.eligibility import ManualDecision, Scheme, parse_rules
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.model import course_id
from course_catalogue.catalogue.outbox import Outbox
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.search.backend import Document
from course_catalogue.search.query import Query
from course_catalogue.search.sync import DrainReport, drain_exclusively, drain_outbox, repair
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.services.locks import FileLocks
from tests.registries import SOURCE, candidate, make_course, publish


class Recorder:
    """A backend that records the ids of each upsert call (and can act in the middle of one)."""

    def __init__(self, during: Any = None) -> None:
        self.calls: list[list[tuple[str, str, int]]] = []
        self.during = during

    def upsert(self, documents: Iterable[Document]) -> int:
        batch = []
        for doc in documents:
            batch.append((doc["id"], doc["status"], doc["seq"]))
            if self.during is not None:
                during, self.during = self.during, None
                during()
        self.calls.append(batch)
        return len(batch)

    def delete(self, ids: Sequence[str]) -> None:
        raise AssertionError(f"nothing should be deleted: {ids}")


def cid(ref: str) -> str:
    return course_id(SOURCE, ref)


def test_every_committed_change_has_an_entry_and_a_rolled_back_one_none(store: CatalogueStore) -> None:
    outbox = Outbox(store)
    assert outbox.head() is None and outbox.stats().entries == 0
    publish(store, {"a": {}, "b": {}})
    assert outbox.stats().entries == 2 and outbox.stats().oldest is not None
    head = outbox.head()
    assert head is not None
    assert [
        (p.course_id, p.refresh) for p in outbox.pending(head, withdrawals=False, after=None, limit=10)
    ] == sorted([(cid("a"), True), (cid("b"), True)])
    report = store.start_run(SOURCE)
    with pytest.raises(RuntimeError), store.harvesting(report) as session:
        session.offer([candidate(make_course("c"))])
        raise RuntimeError("the feed broke halfway")
    assert outbox.stats().entries == 2  # the rolled-back run left neither a course nor an entry
    publish(store, {"a": {}})  # complete: b is withdrawn
    head = outbox.head()
    assert head is not None
    assert [p.course_id for p in outbox.pending(head, withdrawals=True, after=None, limit=10)] == [cid("b")]
    assert [p.course_id for p in outbox.pending(head, withdrawals=False, after=None, limit=10)] == [cid("a")]
    assert outbox.done(head) == 3 and outbox.head() is None


def test_drain_writes_withdrawals_first_then_the_rest_and_retires_only_what_it_read(
    store: CatalogueStore,
) -> None:
    publish(store, {"a": {}, "b": {}, "c": {}})
    publish(store, {"a": {"eqf_level": 6}, "b": {}})  # a updated, c withdrawn
    late: list[int] = []

    def change_a_meanwhile() -> None:  # a commit while the drain streams its first documents
        publish(store, {"a": {"eqf_level": 7}, "b": {}})
        late.append(store.get_course(cid("a")).seq)

    backend = Recorder(during=change_a_meanwhile)
    report = drain_outbox(Outbox(store), backend)  # type: ignore[arg-type]
    first, second = backend.calls[0], backend.calls[1]
    assert [(i, s) for i, s, _ in first] == [(cid("c"), "withdrawn")]  # its own, first commit
    assert {i for i, _, _ in second} == {cid("a"), cid("b")}
    # the change made meanwhile has its own entry: a later round wrote a's newest version
    assert any(i == cid("a") and seq == late[0] for call in backend.calls[2:] for i, _, seq in call)
    assert Outbox(store).head() is None and report.withdrawals == 1 and report.delivered >= 5


def test_a_failing_delivery_leaves_every_entry_pending(store: CatalogueStore) -> None:
    publish(store, {"a": {}, "b": {}})

    class Broken(Recorder):
        def upsert(self, documents: Iterable[Document]) -> int:
            raise OSError("the index is on a full disk")

    with pytest.raises(OSError):
        drain_outbox(Outbox(store), Broken())  # type: ignore[arg-type]
    assert Outbox(store).stats().entries == 2


def test_drains_are_serialised(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path / "locks")
    ran: list[str] = []
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with locks.hold("index"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    report = drain_exclusively(locks, lambda: ran.append("x") or DrainReport(1), wait=0)
    assert report.skipped and ran == []  # the holder delivers
    threading.Timer(0.3, release.set).start()
    report = drain_exclusively(locks, lambda: ran.append("y") or DrainReport(1), wait=30)
    thread.join()
    assert not report.skipped and ran == ["y"] and report.delivered == 1


def _eligibility_world(store: CatalogueStore, tmp_path: Path) -> tuple[EligibilityStore, EmbeddedBackend]:
    es = EligibilityStore(store)
    es.create_scheme(
        Scheme(
            "fund", "Fund", None, parse_rules([{"id": "e", "field": "eqf_level", "op": "gte", "value": 4}])
        )
    )
    publish(store, {"a": {"eqf_level": 4}, "b": {"eqf_level": 3}})
    backend = EmbeddedBackend(tmp_path / "index")
    drain_outbox(Outbox(store), backend, es, refresh=es)
    return es, backend


def _funded(backend: EmbeddedBackend) -> set[str]:
    return {h.id for h in backend.search(Query.create(filters={"funding": ("fund",)})).hits}


def test_delivery_refreshes_eligibility_and_documents_carry_the_index_version(
    store: CatalogueStore, tmp_path: Path
) -> None:
    es, backend = _eligibility_world(store, tmp_path)
    try:
        assert es.eligible_course_ids("fund") == [cid("a")]  # the drain re-evaluated the new courses
        assert _funded(backend) == {cid("a")}
        a = store.get_course(cid("a"))
        version = max(a.seq, es.get_eligibility("fund", cid("a")).seq or 0)
        assert version > a.seq  # it became eligible after it was stored
        assert backend.inventory()[cid("a")] == (version, "active")
        assert repair(store, backend, dry_run=True, eligibility=es).drift == 0
    finally:
        backend.close()


def test_repair_sees_a_document_whose_eligibility_is_behind(store: CatalogueStore, tmp_path: Path) -> None:
    """The state issue 22 found after a killed scheme update: the course itself unchanged, its
    eligibility changed, the index not told. Repair used to compare the course's seq only."""
    es, backend = _eligibility_world(store, tmp_path)
    try:
        es.set_decision(ManualDecision("fund", cid("a"), False, "", "reg", datetime.now(UTC)))  # no drain
        assert _funded(backend) == {cid("a")}  # the index is behind
        found = repair(store, backend, dry_run=True, eligibility=es)
        assert (found.stale, found.missing, found.orphans) == (1, 0, 0)
        assert repair(store, backend, eligibility=es).drift == 1
        assert _funded(backend) == set() and repair(store, backend, dry_run=True, eligibility=es).drift == 0
    finally:
        backend.close()


def test_the_store_tells_which_courses_are_withdrawn(store: CatalogueStore) -> None:
    publish(store, {"a": {}, "b": {}})
    publish(store, {"a": {}})
    assert Outbox(store).withdrawn_among([cid("a"), cid("b"), "nope"]) == {cid("b")}
    assert Outbox(store).withdrawn_among([]) == set()
    assert store.get_course(cid("b")).status is CourseStatus.WITHDRAWN
