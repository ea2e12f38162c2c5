"""CatalogueStore.harvesting: one run streamed in batches through one transaction (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.runs import Outcome, RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from tests.catalogue.test_store import SOURCE, cand, cid, harvest


@pytest.fixture
def edx(store: CatalogueStore) -> CatalogueStore:
    store.save_source(Source(SOURCE, "csv", name="edX"))
    return store


def test_batches_of_one_run_commit_together(edx: CatalogueStore) -> None:
    harvest(edx, [cand(f"r{i}") for i in range(12)])
    report = edx.start_run(SOURCE)
    with edx.harvesting(report) as session:
        session.offer([cand("r0", "v2"), cand("new")])
        session.offer([cand(f"r{i}") for i in range(1, 10)])
        diff = session.finish(
            seen_refs={"r0", "new", *(f"r{i}" for i in range(1, 10))}, complete=True, max_withdraw_share=0.5
        )
        assert report.counts == {}  # counted only once committed
    assert diff.added == [cid("new")] and diff.updated == [cid("r0")]
    assert sorted(diff.withdrawn) == sorted([cid("r10"), cid("r11")]) and len(diff.unchanged) == 9
    assert report.counts[Outcome.ADDED] == 1 and report.counts[Outcome.WITHDRAWN] == 2
    changed = [s for batch in edx.iter_changed(diff, batch_size=2) for s in batch]
    assert [s.seq for s in changed] == sorted(s.seq for s in changed)
    assert {s.id for s in changed} == {cid("new"), cid("r0"), cid("r10"), cid("r11")}


def test_the_guard_counts_courses_active_before_the_run(edx: CatalogueStore) -> None:
    harvest(edx, [cand(f"r{i}") for i in range(10)])
    report = edx.start_run(SOURCE)
    with edx.harvesting(report) as session:
        # 6 new courses do not dilute the share: 5 of the 10 known ones go, which is not > 50 %
        session.offer([cand(f"n{i}") for i in range(6)])
        session.offer([cand(f"r{i}") for i in range(5)])
        diff = session.finish(seen_refs=(), complete=True, max_withdraw_share=0.5)
    assert len(diff.withdrawn) == 5 and report.status is RunStatus.RUNNING
    report = edx.start_run(SOURCE)
    with edx.harvesting(report) as session:
        session.offer([cand("r0")])  # 10 of 11 active would go
        diff = session.finish(seen_refs=(), complete=True, max_withdraw_share=0.5)
    assert len(diff.held_withdrawals) == 10 and report.status is RunStatus.HELD


def test_an_error_after_written_batches_rolls_the_run_back(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a")])
    before = list(edx.iter_courses(include_withdrawn=True))
    report = edx.start_run(SOURCE)
    with pytest.raises(KeyError), edx.harvesting(report) as session:
        session.offer([cand("a", "v2"), cand("b")])
        session.offer([cand("c")])
        raise KeyError("the feed broke")
    assert list(edx.iter_courses(include_withdrawn=True)) == before and report.counts == {}


def test_an_unfinished_session_commits_nothing(edx: CatalogueStore) -> None:
    report = edx.start_run(SOURCE)
    with pytest.raises(RuntimeError, match="not finished"), edx.harvesting(report) as session:
        session.offer([cand("a")])
    assert edx.count_courses(include_withdrawn=True) == 0


def test_a_ref_offered_in_two_batches_is_refused(edx: CatalogueStore) -> None:
    report = edx.start_run(SOURCE)
    with pytest.raises(ValueError, match="offered twice"), edx.harvesting(report) as session:
        session.offer([cand("a")])
        session.offer([cand("a", "again")])
    assert edx.count_courses(include_withdrawn=True) == 0


def test_a_dry_session_keeps_a_sample_and_writes_nothing(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a"), cand("b")])
    report = edx.start_run(SOURCE, dry_run=True)
    with edx.harvesting(report, keep=1) as session:
        session.offer([cand("x"), cand("y"), cand("a", "v2"), cand("b", "v2")])
        diff = session.finish(seen_refs={"x", "y", "a", "b"}, complete=True, max_withdraw_share=0.5)
    assert [c.course.id for c in session.kept] == [cid("x"), cid("a")]
    assert diff.seqs is None and list(edx.iter_changed(diff)) == []
    assert edx.count_courses() == 2 and edx.get_course(cid("a")).course.title == {"en": "Python"}


def test_iter_changed_leaves_out_courses_changed_again_since(edx: CatalogueStore) -> None:
    report = edx.start_run(SOURCE)
    with edx.harvesting(report) as session:
        session.offer([cand("a"), cand("b")])
        first = session.finish(seen_refs={"a", "b"}, complete=True, max_withdraw_share=0.5)
    harvest(edx, [cand("a", "v2"), cand("b")])
    assert [s.id for batch in edx.iter_changed(first) for s in batch] == [cid("b")]
    assert edx.get_course(cid("a")).status is CourseStatus.ACTIVE
