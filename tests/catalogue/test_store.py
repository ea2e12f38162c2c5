"""CatalogueStore contract tests, run on SQLite and PostgreSQL through the `store` fixture."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from types import MappingProxyType
from typing import Any

import pytest
import sqlalchemy as sa

from course_catalogue.catalogue.changes import Candidate, CourseStatus, HarvestDiff
from course_catalogue.catalogue.codec import content_hash, course_to_dict
from course_catalogue.catalogue.course_writes import unstorable
from course_catalogue.catalogue.errors import ConfigurationError, NotFound, StoreError
from course_catalogue.catalogue.model import Course, Organisation, Price, Provenance, course_id, lang_text
from course_catalogue.catalogue.runs import Issue, Outcome, RunReport, RunStatus, Severity
from course_catalogue.catalogue.schema import courses as courses_table
from course_catalogue.catalogue.sources import FetchState, Source
from course_catalogue.catalogue.store import CatalogueStore, printable
from tests.store_writes import apply_harvest

SOURCE = "edx"


def make_course(
    ref: str, title: str = "Python", source_id: str = SOURCE, run_id: int | None = None
) -> Course:
    return Course(
        id=course_id(source_id, ref),
        title=lang_text({"en": title}),
        provider=Organisation(name=lang_text({"en": "edX"}), country="USA"),
        provenance=Provenance(
            source_id=source_id, provider_ref=ref, run_id=run_id, harvested_at=datetime.now(UTC)
        ),
        price=Price(Decimal("49.00"), "USD"),
        languages=("en",),
    )


def cand(ref: str, title: str = "Python", *, raw: bytes | None = None, source_id: str = SOURCE) -> Candidate:
    course = make_course(ref, title, source_id)
    payload = raw if raw is not None else json.dumps({"ref": ref, "title": title}).encode()
    return Candidate(
        course=course, content_hash=content_hash(course), raw=payload, media_type="application/json"
    )


def harvest(
    store: CatalogueStore,
    candidates: Sequence[Candidate],
    *,
    seen: Iterable[str] | None = None,
    complete: bool = True,
    dry_run: bool = False,
    source_id: str = SOURCE,
    **kwargs: float | None,
) -> tuple[RunReport, HarvestDiff]:
    report = store.start_run(source_id, dry_run=dry_run)
    refs = {c.course.provenance.provider_ref for c in candidates} if seen is None else set(seen)
    diff = apply_harvest(store, report, candidates, seen_refs=refs, complete=complete, **kwargs)  # type: ignore[arg-type]
    store.finish_run(report)
    return report, diff


@pytest.fixture
def edx(store: CatalogueStore) -> CatalogueStore:
    store.save_source(Source(SOURCE, "csv", name="edX", url="https://example.org/edx.csv", mapping="edx"))
    return store


def cid(ref: str) -> str:
    return course_id(SOURCE, ref)


# --- sources, fetch state, runs -------------------------------------------------------------


def test_sources_crud(store: CatalogueStore) -> None:
    first = Source(
        "uni-zed",
        "xcri-cap",
        name="Uni Zed",
        url="https://z.example/feed.xml",
        schedule_minutes=60,
        owner="zed",
        settings=MappingProxyType({"timeout": 30, "headers": {"X-Key": "k"}}),
    )
    store.save_source(first)
    store.save_source(Source("aaa", "csv"))
    assert store.get_source("uni-zed") == first
    changed = Source("uni-zed", "xml", name="Uni Zed 2", mapping="zed")
    store.save_source(changed)
    assert store.get_source("uni-zed") == changed
    assert [s.id for s in store.list_sources()] == ["aaa", "uni-zed"]
    with pytest.raises(NotFound):
        store.get_source("nope")


def test_fetch_state_round_trip_and_survives_source_update(store: CatalogueStore) -> None:
    store.save_source(Source("feed", "csv"))
    assert store.get_fetch_state("feed") == FetchState(None, None)
    state = FetchState(etag='W/"abc"', last_modified="Wed, 21 Oct 2015 07:28:00 GMT")
    store.set_fetch_state("feed", state)
    store.save_source(Source("feed", "csv", name="renamed"))
    assert store.get_fetch_state("feed") == state
    with pytest.raises(NotFound):
        store.get_fetch_state("nope")
    with pytest.raises(NotFound):
        store.set_fetch_state("nope", state)


def test_run_with_issues_round_trips(edx: CatalogueStore) -> None:
    report = edx.start_run(SOURCE, trigger="schedule")
    assert report.run_id is not None and report.status is RunStatus.RUNNING
    assert report.started_at is not None and report.started_at.tzinfo is not None
    issues = [
        Issue(
            Severity.ERROR, "title missing", field="title", record_ref="r1", pointer="line 3", code="required"
        ),
        Issue(Severity.WARNING, "bad EQF", field="eqf_level", record_ref="r2", value="nine"),
        Issue(Severity.INFO, "feed note"),
    ]
    report.issues.extend(issues)
    report.count(Outcome.FAILED)
    report.count(Outcome.ADDED, 3)
    report.status = RunStatus.SUCCEEDED
    edx.finish_run(report)
    edx.finish_run(report)  # idempotent: issues replaced, not duplicated

    loaded = edx.get_run(report.run_id)
    assert loaded.issues == issues
    assert loaded.counts == Counter({Outcome.FAILED: 1, Outcome.ADDED: 3})
    assert loaded.status is RunStatus.SUCCEEDED
    assert loaded.started_at == report.started_at and loaded.finished_at == report.finished_at
    assert loaded.finished_at is not None and loaded.finished_at.tzinfo is not None
    assert loaded.to_dict() == report.to_dict()


def test_list_runs_newest_first_without_issues(edx: CatalogueStore) -> None:
    edx.save_source(Source("other", "csv"))
    ids = [edx.start_run(s).run_id for s in (SOURCE, "other", SOURCE)]
    failed = edx.start_run(SOURCE, dry_run=True)
    failed.status, failed.error = RunStatus.FAILED, "HTTP 500"
    failed.issues.append(Issue(Severity.ERROR, "x"))
    edx.finish_run(failed)
    runs = edx.list_runs(SOURCE)
    assert [r.run_id for r in runs] == [failed.run_id, ids[2], ids[0]]
    assert runs[0].error == "HTTP 500" and runs[0].dry_run and runs[0].issues == []
    assert [r.run_id for r in edx.list_runs(limit=2)] == [failed.run_id, ids[2]]


def test_unknown_ids_raise_not_found(edx: CatalogueStore) -> None:
    with pytest.raises(NotFound):
        edx.start_run("nope")
    with pytest.raises(NotFound):
        edx.get_run(999)
    with pytest.raises(NotFound):
        edx.finish_run(RunReport(SOURCE, run_id=999))
    with pytest.raises(NotFound):
        edx.confirm_withdrawals(999)
    with pytest.raises(NotFound):
        edx.get_course("nope")
    assert edx.get_raw("nope") is None


# --- apply_harvest outcomes ---------------------------------------------------------------------


def test_first_harvest_adds_and_keeps_raw(edx: CatalogueStore) -> None:
    first = cand("a")
    report, diff = harvest(edx, [first, cand("b", raw=b"\x00\xffbinary")])
    assert sorted(diff.added) == sorted([cid("a"), cid("b")])
    assert report.counts == Counter({Outcome.ADDED: 2})
    assert report.status is RunStatus.RUNNING  # the pipeline decides success, the store only HELD
    assert [s.id for s in diff.changed] == sorted(diff.added, key=lambda i: edx.get_course(i).seq)
    stored = edx.get_course(cid("a"))
    assert stored.course == first.course and stored.content_hash == first.content_hash
    assert stored.status is CourseStatus.ACTIVE and stored.last_run_id == report.run_id
    assert stored.first_seen == stored.updated_at and stored.first_seen.tzinfo is not None
    assert stored == next(s for s in diff.changed if s.id == cid("a"))
    assert edx.get_raw(cid("b")) == (b"\x00\xffbinary", "application/json")
    assert edx.get_run(report.run_id or 0).counts == Counter({Outcome.ADDED: 2})


def test_unchanged_record_is_not_rewritten(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a"), cand("b")])
    before = edx.get_course(cid("a"))
    report, diff = harvest(edx, [cand("a"), cand("b", "New title")])
    assert diff.unchanged == [cid("a")] and diff.updated == [cid("b")]
    assert report.counts == Counter({Outcome.UNCHANGED: 1, Outcome.UPDATED: 1})
    after = edx.get_course(cid("a"))
    assert (after.seq, after.updated_at, after.last_run_id) == (
        before.seq,
        before.updated_at,
        before.last_run_id,
    )
    assert [s.id for s in diff.changed] == [cid("b")]


def test_updated_record_gets_new_seq_and_keeps_first_seen(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a")])
    before = edx.get_course(cid("a"))
    report, diff = harvest(edx, [cand("a", "Python 2", raw=b"v2")])
    after = edx.get_course(cid("a"))
    assert diff.updated == [cid("a")]
    assert after.seq > before.seq and after.updated_at > before.updated_at
    assert after.first_seen == before.first_seen and after.last_run_id == report.run_id
    assert after.course.title == {"en": "Python 2"}
    assert edx.get_raw(cid("a")) == (b"v2", "application/json")
    assert diff.changed == [after]


def test_changed_raw_payload_with_same_content_refreshes_raw_only(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a", raw=b"old")])
    before = edx.get_course(cid("a"))
    _, diff = harvest(edx, [cand("a", raw=b"new, with a column the mapping ignores")])
    assert diff.unchanged == [cid("a")] and diff.changed == []
    assert edx.get_raw(cid("a")) == (b"new, with a column the mapping ignores", "application/json")
    assert edx.get_course(cid("a")).seq == before.seq


def test_missing_record_becomes_tombstone_and_can_reappear(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a"), cand("b")])
    report, diff = harvest(edx, [cand("a")])
    assert diff.withdrawn == [cid("b")] and report.counts[Outcome.WITHDRAWN] == 1
    gone = edx.get_course(cid("b"))
    assert gone.status is CourseStatus.WITHDRAWN and gone.withdrawn_at is not None
    assert gone.course == edx.get_course(cid("b")).course and edx.get_raw(cid("b")) is not None
    assert diff.changed == [gone]
    assert edx.count_courses() == 1 and edx.count_courses(include_withdrawn=True) == 2

    _, again = harvest(edx, [cand("a"), cand("b")])  # same content as before the withdrawal
    back = edx.get_course(cid("b"))
    assert again.updated == [cid("b")] and again.unchanged == [cid("a")]
    assert back.status is CourseStatus.ACTIVE and back.withdrawn_at is None and back.seq > gone.seq


def test_failed_record_keeps_previous_version(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a"), cand("b")])
    before = edx.get_course(cid("b"))
    # b is in the feed but failed validation: not a candidate, but seen
    report, diff = harvest(edx, [cand("a")], seen={"a", "b"})
    assert diff.withdrawn == [] and edx.get_course(cid("b")) == before
    assert report.counts == Counter({Outcome.UNCHANGED: 1})


def test_incomplete_feed_withdraws_nothing(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a"), cand("b")])
    _, diff = harvest(edx, [cand("c")], complete=False)
    assert diff.added == [cid("c")] and diff.withdrawn == []
    assert edx.count_courses() == 3


def test_duplicate_refs_last_candidate_wins(edx: CatalogueStore) -> None:
    _, diff = harvest(edx, [cand("a", "first"), cand("a", "second")])
    assert diff.added == [cid("a")]
    assert edx.get_course(cid("a")).course.title == {"en": "second"}


def test_candidate_of_another_source_is_refused(edx: CatalogueStore) -> None:
    edx.save_source(Source("other", "csv"))
    with pytest.raises(ValueError, match="belongs to 'other'"):
        harvest(edx, [cand("a"), cand("x", source_id="other")])
    assert edx.count_courses(include_withdrawn=True) == 0


def test_apply_to_unknown_source_raises_not_found(edx: CatalogueStore) -> None:
    with pytest.raises(NotFound):
        apply_harvest(edx, RunReport("ghost", run_id=None), [], seen_refs=(), complete=True)


def _ten(edx: CatalogueStore) -> None:
    harvest(edx, [cand(f"r{i}") for i in range(10)])


def test_mass_withdrawal_is_held_then_confirmed(edx: CatalogueStore) -> None:
    _ten(edx)
    keep = [cand(f"r{i}") for i in range(4)]
    report, diff = harvest(edx, keep)  # 6 of 10 missing > 50 %
    held = sorted(cid(f"r{i}") for i in range(4, 10))
    assert report.status is RunStatus.HELD and sorted(diff.held_withdrawals) == held
    assert diff.withdrawn == [] and edx.count_courses() == 10
    assert edx.get_run(report.run_id or 0).status is RunStatus.HELD
    assert Outcome.WITHDRAWN not in report.counts

    confirmed = edx.confirm_withdrawals(report.run_id or 0)
    assert sorted(confirmed.withdrawn) == held and len(confirmed.changed) == 6
    assert all(s.status is CourseStatus.WITHDRAWN for s in confirmed.changed)
    assert edx.count_courses() == 4
    run = edx.get_run(report.run_id or 0)
    assert run.status is RunStatus.SUCCEEDED and run.counts[Outcome.WITHDRAWN] == 6
    assert edx.confirm_withdrawals(report.run_id or 0) == HarvestDiff()  # nothing left to confirm


def test_confirm_skips_held_courses_seen_again_or_withdrawn(edx: CatalogueStore) -> None:
    _ten(edx)
    report, _ = harvest(edx, [cand(f"r{i}") for i in range(3)])
    # a later partial run sees r9 again; r8 is gone by then for another reason
    harvest(edx, [cand("r9")], complete=False)
    assert edx.confirm_withdrawals(report.run_id or 0).withdrawn.count(cid("r9")) == 0
    assert edx.get_course(cid("r9")).status is CourseStatus.ACTIVE
    assert edx.get_course(cid("r8")).status is CourseStatus.WITHDRAWN


def test_complete_run_supersedes_earlier_held_withdrawals(edx: CatalogueStore) -> None:
    _ten(edx)
    held_run, _ = harvest(edx, [cand(f"r{i}") for i in range(3)])
    harvest(edx, [cand(f"r{i}") for i in range(10)])  # the feed is whole again
    assert edx.confirm_withdrawals(held_run.run_id or 0).withdrawn == []
    assert edx.count_courses() == 10


@pytest.mark.parametrize(
    ("share", "count", "n_kept", "held"),
    [
        (0.5, None, 5, False),
        (0.5, None, 4, True),
        (None, None, 0, False),  # guard off (deleting a source, a remap)
        (0.0, None, 9, False),  # one course may always go...
        (0.0, None, 8, True),  # ... not two beyond the share
        (1.0, None, 1, False),
        (1.0, None, 0, True),  # every course of the source: always held
        (0.5, 3, 6, True),  # 4 > the absolute cap of 3, though under the share
        (0.5, 4, 6, False),
    ],
)
def test_withdraw_guard_threshold(
    edx: CatalogueStore, share: float | None, count: int | None, n_kept: int, held: bool
) -> None:
    _ten(edx)
    kept = [cand(f"r{i}") for i in range(n_kept)]
    report, diff = harvest(edx, kept, max_withdraw_share=share, max_withdraw_count=count)
    assert (report.status is RunStatus.HELD) is held
    assert len(diff.held_withdrawals if held else diff.withdrawn) == 10 - n_kept


@pytest.mark.parametrize("n", [1, 2, 9])
def test_guard_holds_emptying_a_small_source(edx: CatalogueStore, n: int) -> None:
    # sources under 10 courses were once unguarded: an empty or renamed feed withdrew them all
    harvest(edx, [cand(f"r{i}") for i in range(n)])
    report, diff = harvest(edx, [cand("renamed")])
    assert report.status is RunStatus.HELD and len(diff.held_withdrawals) == n
    assert edx.count_courses() == n + 1


def test_dry_run_computes_diff_and_writes_nothing(edx: CatalogueStore) -> None:
    harvest(edx, [cand(f"r{i}") for i in range(10)])
    snapshot = list(edx.iter_courses(include_withdrawn=True))
    raw = edx.get_raw(cid("r1"))
    candidates = [cand("r0"), cand("r1", "changed", raw=b"x"), cand("new")] + [
        cand(f"r{i}") for i in range(2, 9)
    ]
    report, diff = harvest(edx, candidates, dry_run=True)
    assert diff.added == [cid("new")] and diff.updated == [cid("r1")] and diff.withdrawn == [cid("r9")]
    assert len(diff.unchanged) == 8 and diff.changed == []
    assert report.counts == Counter(
        {Outcome.ADDED: 1, Outcome.UPDATED: 1, Outcome.UNCHANGED: 8, Outcome.WITHDRAWN: 1}
    )
    assert list(edx.iter_courses(include_withdrawn=True)) == snapshot and edx.get_raw(cid("r1")) == raw
    assert edx.changes_since(max(s.seq for s in snapshot)) == []


def test_dry_run_reports_held_but_persists_nothing(edx: CatalogueStore) -> None:
    _ten(edx)
    report, diff = harvest(edx, [], dry_run=True)
    assert report.status is RunStatus.HELD and len(diff.held_withdrawals) == 10
    assert edx.confirm_withdrawals(report.run_id or 0).withdrawn == []
    assert edx.count_courses() == 10


def test_error_mid_apply_rolls_everything_back(edx: CatalogueStore) -> None:
    harvest(edx, [cand("a"), cand("b"), cand("c")])
    snapshot = list(edx.iter_courses(include_withdrawn=True))
    top = max(s.seq for s in snapshot)
    raws = {s.id: edx.get_raw(s.id) for s in snapshot}
    broken = cand("b", "changed")
    # processed after the additions and b's course row: the raw payload write fails (NOT NULL)
    broken = Candidate(broken.course, broken.content_hash, broken.raw, None)  # type: ignore[arg-type]
    report = edx.start_run(SOURCE)
    with pytest.raises(StoreError):
        apply_harvest(
            edx, report, [cand("new"), broken, cand("a")], seen_refs={"new", "b", "a"}, complete=True
        )
    assert list(edx.iter_courses(include_withdrawn=True)) == snapshot
    assert {s.id: edx.get_raw(s.id) for s in snapshot} == raws
    assert edx.changes_since(top) == [] and report.counts == Counter()
    _, diff = harvest(edx, [cand("new"), cand("a")], seen={"new", "b", "a"})  # the store still works
    assert diff.added == [cid("new")] and min(s.seq for s in diff.changed) > top


# --- reading: seq, changes feed, iteration ---------------------------------------------------------


def test_seq_is_monotonic_and_changes_since_follows_it(edx: CatalogueStore) -> None:
    _, first = harvest(edx, [cand("a"), cand("b"), cand("c")])
    _, second = harvest(edx, [cand("a", "v2"), cand("c")])  # a updated, b withdrawn, c unchanged
    assert min(s.seq for s in second.changed) > max(s.seq for s in first.changed)
    feed = edx.changes_since(0)
    assert [s.seq for s in feed] == sorted(s.seq for s in feed)
    assert [s.id for s in feed] == [cid("c"), *[s.id for s in second.changed]]
    cursor = max(s.seq for s in first.changed)
    assert {s.id for s in edx.changes_since(cursor)} == {cid("a"), cid("b")}
    assert len(edx.changes_since(0, limit=2)) == 2
    assert edx.changes_since(max(s.seq for s in feed)) == []


def test_iter_and_count_filters(edx: CatalogueStore) -> None:
    edx.save_source(Source("other", "csv"))
    harvest(edx, [cand(f"r{i}") for i in range(7)])
    harvest(edx, [cand(f"r{i}") for i in range(5)], max_withdraw_share=None)  # r5, r6 withdrawn
    harvest(edx, [cand("x", source_id="other")], source_id="other")
    assert edx.count_courses() == 6 and edx.count_courses(include_withdrawn=True) == 8
    assert edx.count_courses(source_id=SOURCE) == 5
    assert edx.count_courses(source_id=SOURCE, include_withdrawn=True) == 7
    assert edx.count_courses(source_id="nope") == 0
    everything = list(edx.iter_courses(include_withdrawn=True, batch_size=3))
    assert [s.id for s in everything] == sorted(s.id for s in everything) and len(everything) == 8
    active_edx = list(edx.iter_courses(source_id=SOURCE, batch_size=2))
    assert sorted(s.id for s in active_edx) == sorted(cid(f"r{i}") for i in range(5))
    assert all(s.status is CourseStatus.ACTIVE for s in active_edx)
    assert [s.id for s in edx.iter_courses(source_id="other")] == [course_id("other", "x")]
    with pytest.raises(ValueError):
        list(edx.iter_courses(batch_size=0))


def test_iter_records_reads_what_iter_courses_reads(edx: CatalogueStore) -> None:
    edx.save_source(Source("other", "csv"))
    harvest(edx, [cand(f"r{i}", f"Cours d'été {i}") for i in range(7)])
    harvest(edx, [cand(f"r{i}", f"Cours d'été {i}") for i in range(5)])  # r5, r6 withdrawn
    harvest(edx, [cand("x", source_id="other")], source_id="other")
    for kwargs in ({"include_withdrawn": True}, {}, {"source_id": SOURCE}, {"source_id": "other"}):
        stored = list(edx.iter_courses(**kwargs))  # type: ignore[arg-type]
        rows = list(edx.iter_records(batch_size=2, **kwargs))  # type: ignore[arg-type]
        assert [(r.id, r.status, r.seq) for r in rows] == [(s.id, s.status, s.seq) for s in stored]
        assert [json.loads(r.record_json) for r in rows] == [course_to_dict(s.course) for s in stored]
        assert all(isinstance(r.status, CourseStatus) for r in rows)
    with edx.reading() as conn:  # the driver's own decoding, key order included (JSONB reorders)
        decoded = conn.execute(sa.select(courses_table.c.record).order_by(courses_table.c.id)).scalars().all()
    rows = list(edx.iter_records(include_withdrawn=True))
    assert [json.dumps(json.loads(r.record_json)) for r in rows] == [json.dumps(d) for d in decoded]
    with pytest.raises(ValueError):
        list(edx.iter_records(batch_size=0))


def test_stored_record_round_trips_exactly(edx: CatalogueStore) -> None:
    candidate = cand("a")
    harvest(edx, [candidate])
    assert edx.get_course(cid("a")).course == candidate.course
    assert edx.get_course(cid("a")).content_hash == candidate.content_hash


# --- engine and URL handling -----------------------------------------------------------------


def test_sqlite_parent_directory_is_created(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "deep" / "er" / "catalogue.db"
    store = CatalogueStore(f"sqlite:///{path}")
    try:
        store.migrate()
        store.migrate()  # idempotent
        assert path.exists() and store.list_sources() == []
    finally:
        store.close()


@pytest.mark.parametrize("url", ["mysql://x/y", "not a url", "oracle+nothing://a"])
def test_unsupported_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        CatalogueStore(url)


def test_unmigrated_database_raises_store_error(sqlite_url: str) -> None:
    store = CatalogueStore(sqlite_url)
    try:
        with pytest.raises(StoreError):
            store.list_sources()
    finally:
        store.close()


def test_concurrent_harvests_commit_in_seq_order(edx: CatalogueStore) -> None:
    # Writers are serialised (advisory lock / BEGIN IMMEDIATE): the seqs of two concurrent applies
    # never interleave, so a changes-feed cursor cannot skip a seq that commits later.
    from concurrent.futures import ThreadPoolExecutor

    sources = [f"s{i}" for i in range(4)]
    for source_id in sources:
        edx.save_source(Source(source_id, "csv"))

    def run(source_id: str) -> list[int]:
        _, diff = harvest(edx, [cand(f"r{i}", source_id=source_id) for i in range(300)], source_id=source_id)
        return [s.seq for s in diff.changed]

    with ThreadPoolExecutor(max_workers=4) as pool:
        ranges = sorted((min(seqs), max(seqs)) for seqs in pool.map(run, sources))
    assert all(prev[1] < nxt[0] for prev, nxt in pairwise(ranges))
    assert edx.count_courses() == 1200


# --- values the store cannot hold ------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field", "what"),
    [
        ({"title": {"en": "Py\x00thon"}}, "title", "title.en holds a NUL character (U+0000) at character 3"),
        ({"keywords": ["a", "b\ud800"]}, "keywords", "keywords[1] holds a lone surrogate (U+D800"),
        ({"originals": {"eqf_level": "\x00"}}, "eqf_level", "originals.eqf_level holds a NUL"),
        ({"provenance": {"provider_ref": "r\udfff"}}, "provider_ref", "provenance.provider_ref holds a lone"),
        ({"title": {"e\x00n": "x"}}, "title", "title.e\x00n holds a NUL"),
    ],
)
def test_unstorable_values_reject_the_record(record: dict[str, Any], field: str, what: str) -> None:
    issue = unstorable(record)
    assert issue is not None and issue.severity is Severity.ERROR and issue.code == "unstorable-value"
    assert issue.field == field and issue.message.startswith(what) and issue.value is None


@pytest.mark.parametrize(
    "record", [{"title": {"en": "Python"}}, {"title": {"en": "a literal \\u0000, escaped"}}, {"n": 2**70}]
)
def test_storable_records_pass(record: dict[str, Any]) -> None:
    assert unstorable(record) is None


def test_report_text_with_nul_or_surrogates_is_saved_escaped(edx: CatalogueStore) -> None:
    report = edx.start_run(SOURCE)
    issue = Issue(Severity.WARNING, "could not read 'a\x00b'", value="a\x00b\ud800", record_ref="r\x00")
    report.issues.append(issue)
    report.error = "broken \x00 feed"
    edx.finish_run(report)  # PostgreSQL refused the NUL: the whole report was lost
    saved = edx.get_run(report.run_id or 0)
    (issue,) = saved.issues
    assert (issue.message, issue.value) == ("could not read 'a\\x00b'", "a\\x00b\\ud800")
    assert issue.record_ref == "r\\x00"
    assert saved.error == "broken \\x00 feed"
    assert printable("plain é text") == "plain é text" and printable(None) is None
