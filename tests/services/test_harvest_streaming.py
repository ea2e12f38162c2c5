"""run_harvest streams the feed through the store in batches: the guarantees hold across batches.

BATCH, SINK_BATCH and the spool's memory are made tiny so the 975-row edX fixture spans many
batches, most of them spooled to disk (SQLite and PostgreSQL through the `store` fixture).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from course_catalogue.catalogue.errors import FeedError
from course_catalogue.catalogue.model import course_id
from course_catalogue.catalogue.runs import RunReport, RunStatus, Severity
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.base import Gathered
from course_catalogue.services import pipeline, spool
from course_catalogue.services.pipeline import run_harvest
from tests.services.test_harvest_pipeline import (
    FIXTURE,
    URL,
    N,
    RecordingSink,
    counts,
    edx_rows,
    feed,
    ref_of,
)


@pytest.fixture
def source(store: CatalogueStore) -> Source:
    registered = Source(id="edx", format="csv", name="edX", url=URL, mapping="edx-csv")
    store.save_source(registered)
    return registered


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BATCH", 40)
    monkeypatch.setattr(pipeline, "SINK_BATCH", 300)
    monkeypatch.setattr(spool, "IN_MEMORY", 100)  # most batches go through the spool's disk file


def test_batches_add_every_course_once_and_sinks_get_them_in_seq_order(
    store: CatalogueStore, source: Source
) -> None:
    sink = RecordingSink()
    report = run_harvest(store, source, data=FIXTURE.read_bytes(), sinks=[sink])
    assert report.status is RunStatus.SUCCEEDED and counts(report) == {"added": N}
    # the repeated row (line 317) is several batches after its first copy: still only a warning
    (repeat,) = [i for i in report.issues if i.code == "duplicate-record"]
    assert repeat.severity is Severity.WARNING and repeat.pointer == "line 317"
    assert [len(b) for b in sink.batches] == [300, 300, 300, N - 900]
    delivered = [s for batch in sink.batches for s in batch]
    assert len({s.id for s in delivered}) == N
    assert [s.seq for s in delivered] == sorted(s.seq for s in delivered)
    assert {s.id for s in delivered} == {s.id for s in store.iter_courses(source_id="edx")}


def test_edits_and_removals_across_batches(store: CatalogueStore, source: Source) -> None:
    rows = edx_rows()
    run_harvest(store, source, data=feed(rows))
    header = rows[0]
    for index in (5, 400, 900):
        rows[index][header.index("title")] = f"Edited {index}"
    removed = [rows.pop(700), rows.pop(30)]
    sink = RecordingSink()
    report = run_harvest(store, source, data=feed(rows), sinks=[sink])
    assert counts(report) == {"updated": 3, "withdrawn": 2, "unchanged": N - 5}
    delivered = {s.id for batch in sink.batches for s in batch}
    assert delivered == {course_id("edx", ref_of(r, header)) for r in removed} | {
        course_id("edx", ref_of(rows[i], header)) for i in (5, 400 - 1, 900 - 2)
    }


def test_a_feed_failing_after_several_batches_changes_nothing(
    store: CatalogueStore, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = edx_rows()
    run_harvest(store, source, data=feed(rows))
    before = list(store.iter_courses(source_id="edx", include_withdrawn=True))
    top = max(s.seq for s in before)
    header = rows[0]
    for row in rows[1:]:
        row[header.index("title")] += " (v2)"
    real = pipeline.harvester_for(source.format)

    class BreaksHalfway:
        def gather(self, data: bytes, spec: Any) -> Iterator[Gathered]:
            for n, gathered in enumerate(real.gather(data, spec)):
                if n == 500:  # a dozen batches are written (uncommitted) by now
                    raise FeedError("the feed is truncated")
                yield gathered

    monkeypatch.setattr(pipeline, "harvester_for", lambda fmt: BreaksHalfway())
    sink = RecordingSink()
    report = run_harvest(store, source, data=feed(rows), sinks=[sink])
    assert report.status is RunStatus.FAILED and report.error == "the feed is truncated"
    assert counts(report) == {} and sink.batches == []
    assert list(store.iter_courses(source_id="edx", include_withdrawn=True)) == before
    assert store.changes_since(top) == []


def test_a_dry_run_across_batches_plans_the_same_diff(store: CatalogueStore, source: Source) -> None:
    rows = edx_rows()
    run_harvest(store, source, data=feed(rows))
    rows[10][rows[0].index("title")] = "Edited"
    del rows[600]
    seen: list[tuple[Any, Any]] = []
    dry = run_harvest(store, source, data=feed(rows), dry_run=True, observe=lambda d, c: seen.append((d, c)))
    real = run_harvest(store, source, data=feed(rows))
    assert counts(dry) == counts(real) == {"updated": 1, "withdrawn": 1, "unchanged": N - 2}
    ((diff, candidates),) = seen
    assert [c.course.id for c in candidates] == diff.updated  # the new version, for a preview


def test_the_report_is_the_same_as_one_batch(
    store: CatalogueStore, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = edx_rows()
    rows[50][rows[0].index("title")] = ""  # rejected by validation
    streamed = run_harvest(store, source, data=feed(rows), dry_run=True)
    monkeypatch.setattr(pipeline, "BATCH", 10**9)
    whole = run_harvest(store, source, data=feed(rows), dry_run=True)
    assert counts(streamed) == counts(whole)
    assert _issues(streamed) == _issues(whole)


def _issues(report: RunReport) -> list[dict[str, Any]]:
    return [i.to_dict() for i in report.issues]


def test_other_writers_are_not_kept_waiting_while_a_feed_is_read(
    store: CatalogueStore, source: Source, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed is spooled before the store transaction opens: a writer from another store object
    (another process, in production) commits while the harvest is still reading its feed."""
    real = pipeline.harvester_for(source.format)
    other = CatalogueStore(store_url)
    finished: list[str] = []

    def write() -> None:
        other.save_source(Source(id="other", format="csv", name="Other", url=URL, mapping="edx-csv"))
        finished.append("other")

    class WritesHalfway:
        def gather(self, data: bytes, spec: Any) -> Iterator[Gathered]:
            for n, gathered in enumerate(real.gather(data, spec)):
                if n == 500:  # a dozen batches are spooled by now
                    writer = threading.Thread(target=write)
                    writer.start()
                    writer.join(timeout=20)  # a held write lock would keep it waiting (30 s on SQLite)
                    assert finished == ["other"], "another writer was blocked by a harvest reading its feed"
                yield gathered

    monkeypatch.setattr(pipeline, "harvester_for", lambda fmt: WritesHalfway())
    try:
        report = run_harvest(store, source, data=FIXTURE.read_bytes())
    finally:
        other.close()
    assert report.status is RunStatus.SUCCEEDED and counts(report) == {"added": N}
    assert store.get_source("other") is not None
