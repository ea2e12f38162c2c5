"""CatalogueStore.harvesting: one run streamed in batches through one transaction (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from course_catalogue.catalogue import harvest_apply
from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.errors import StoreError
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


def _lookups(store: CatalogueStore) -> list[str]:
    """Statements the store runs from now on that look up stored courses by provider_ref."""
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "provider_ref IN" in statement and "raw_items" in statement:
            seen.append(statement)

    sa.event.listen(store._engine, "before_cursor_execute", note)
    return seen


def test_a_first_load_looks_nothing_up_and_withdraws_nothing(edx: CatalogueStore) -> None:
    lookups = _lookups(edx)
    report = edx.start_run(SOURCE)
    with edx.harvesting(report) as session:
        session.offer([cand("a"), cand("b")])
        session.offer([cand("c")])
        diff = session.finish(seen_refs={"a", "b", "c"}, complete=True, max_withdraw_share=0.5)
    assert lookups == [] and diff.added == [cid("a"), cid("b"), cid("c")] and diff.withdrawn == []
    _, again = harvest(edx, [cand("a"), cand("b", "v2")], max_withdraw_share=0.5)  # not a first load
    assert lookups and again.unchanged == [cid("a")] and again.updated == [cid("b")]
    assert again.withdrawn == [cid("c")]


def test_a_source_holding_only_withdrawn_courses_is_not_a_first_load(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a")])
    harvest(edx, [], seen=(), max_withdraw_share=None)  # every course withdrawn
    assert edx.count_courses(source_id=SOURCE) == 0
    _, diff = harvest(edx, [cand("a"), cand("b")])
    assert diff.updated == [cid("a")] and diff.added == [cid("b")]
    assert edx.get_course(cid("a")).status is CourseStatus.ACTIVE


def test_statistics_refreshed_mid_run_describe_the_rows_it_wrote(
    edx: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harvest_apply, "STATISTICS_FROM", 3)
    harvest(edx, [cand("a")])
    report = edx.start_run(SOURCE)
    with edx.harvesting(report) as session:
        session.offer([cand(f"n{i}") for i in range(4)])  # 4 written: refreshed, next at 8
        session.offer([cand("a", "v2"), cand("n9")])
        if edx._postgres:  # the transaction's own statistics count its uncommitted rows
            query = "SELECT reltuples FROM pg_class WHERE oid = 'courses'::regclass"
            assert session._conn.exec_driver_sql(query).scalar_one() == 5
        diff = session.finish(seen_refs={"a", "n9"}, complete=False, max_withdraw_share=0.5)
    assert diff.added == [*(cid(f"n{i}") for i in range(4)), cid("n9")] and diff.updated == [cid("a")]
    assert edx.count_courses(source_id=SOURCE) == 6


def _in_schema(server: str, schema: str, *options: str) -> str:
    url = sa.make_url(server).update_query_dict({"options": " ".join([f"-csearch_path={schema}", *options])})
    return url.render_as_string(hide_password=False)


@pytest.mark.postgres
def test_the_seq_lock_is_one_per_schema(postgres_url: str) -> None:
    """A harvest holding its schema's seq lock blocks seq-allocating writers of that schema only:
    the catalogue of another schema in the same database goes on (here without waiting at all:
    lock_timeout makes a wait an error)."""
    from tests.conftest import POSTGRES_URL

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    holder = CatalogueStore(postgres_url)
    own = str(sa.make_url(postgres_url).query["options"]).removeprefix("-csearch_path=")
    same = CatalogueStore(_in_schema(POSTGRES_URL, own, "-clock_timeout=2s"))
    other = CatalogueStore(_in_schema(POSTGRES_URL, schema, "-clock_timeout=2s"))
    try:
        for store in (holder, other):
            store.migrate()
            store.save_source(Source(SOURCE, "csv", name="edX"))
        with holder.harvesting(holder.start_run(SOURCE)) as session:
            session.offer([cand("a")])
            with pytest.raises(StoreError, match="lock timeout"):
                harvest(same, [cand("b")])  # the same catalogue waits for the seq lock
            report, diff = harvest(other, [cand("b")])  # another schema's does not
            session.finish(seen_refs={"a"}, complete=True, max_withdraw_share=0.5)
        assert diff.added == [cid("b")] and report.counts[Outcome.ADDED] == 1
        assert [c.id for c in holder.iter_courses()] == [cid("a")]
    finally:
        for store in (same, other, holder):
            store.close()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
