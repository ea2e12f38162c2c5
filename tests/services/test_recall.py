"""Unchanged items skip the work: a re-harvest recalls what the last successful run made of them.

Every test runs the real pipeline on the real store (SQLite and PostgreSQL), with the
whole-feed skip off (`PER_ITEM`). What is checked is
that recalling changes nothing a user can see: the report (counts, issues in order, coverage)
of a re-harvest that recalls is the one mapping every item gives, and any change to an item,
the spec's parameters or the stored course maps that item again.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.runs import Outcome, RunReport, RunStatus
from course_catalogue.catalogue.schema import item_fingerprints, item_reports
from course_catalogue.catalogue.sources import Source, SourceParameters, set_parameters
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services import intake, pipeline
from course_catalogue.services.pipeline import HarvestSettings

FIXTURES = Path(__file__).parents[1] / "fixtures"
FEEDS = {
    "csv": ("edx-csv", "csv_edx_courses.csv"),
    "xcri-cap": ("xcri-cap", "xcri-cap12_open_university_2011.xml"),
    "qdr-loq": ("qdr-loq", "elm3.1_qdr_loq_learning_opportunities.xml"),
    "elm-rdf": ("elm-rdf", "lo_example_loq.ttl"),
}


PER_ITEM = HarvestSettings(skip_unchanged_feeds=False)
"""These tests are about the item level: a byte-identical feed is read item by item too (the
whole-feed skip above it is tested in test_feed_skip.py)."""


def run_harvest(store: CatalogueStore, source: Source, **kwargs: Any) -> RunReport:
    return pipeline.run_harvest(store, source, settings=PER_ITEM, **kwargs)


class Mapped:
    """Counts the items the engine maps (monkeypatched over `intake.apply`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = intake.apply

        def counting(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(intake, "apply", counting)


def _forget(store: CatalogueStore) -> None:
    with store.writing() as conn:
        conn.execute(sa.delete(item_fingerprints))
        conn.execute(sa.delete(item_reports))


def _seen(report: RunReport) -> tuple[object, ...]:
    """What a user sees of a run, but its status and counts."""
    return ([i.to_dict() for i in report.issues], dict(report.dropped), report.coverage)


def _source(store: CatalogueStore, fmt: str) -> tuple[Source, bytes]:
    mapping, fixture = FEEDS[fmt]
    source = Source(id=f"recall-{fmt}", format=fmt, name=fmt, mapping=mapping)
    store.save_source(source)
    return source, (FIXTURES / fixture).read_bytes()


@pytest.mark.parametrize("fmt", sorted(FEEDS))
def test_an_unchanged_reharvest_maps_nothing_and_reports_the_same(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    source, data = _source(store, fmt)
    first = run_harvest(store, source, data=data)
    assert first.status is RunStatus.SUCCEEDED and first.counts[Outcome.ADDED] > 0
    mapped = Mapped(monkeypatch)
    recalled = run_harvest(store, source, data=data)
    failed = recalled.counts[Outcome.FAILED]
    assert mapped.calls == failed  # only records that failed last time are mapped again
    assert recalled.counts[Outcome.UNCHANGED] == first.counts[Outcome.ADDED]
    assert recalled.counts[Outcome.ADDED] == recalled.counts[Outcome.UPDATED] == 0
    _forget(store)
    full = run_harvest(store, source, data=data)  # every item mapped again
    assert mapped.calls > failed
    assert full.counts == recalled.counts
    assert _seen(full) == _seen(recalled)
    assert _seen(first) == _seen(recalled)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _edx(store: CatalogueStore) -> tuple[Source, list[list[str]]]:
    source, data = _source(store, "csv")
    return source, list(csv.reader(io.StringIO(data.decode("utf-8"))))


def test_a_one_record_change_lands_exactly(store: CatalogueStore, monkeypatch: pytest.MonkeyPatch) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    changed = [list(row) for row in rows]
    changed[7][0] += " (new edition)"
    mapped = Mapped(monkeypatch)
    report = run_harvest(store, source, data=_csv(changed))
    assert report.counts[Outcome.UPDATED] == 1 and report.counts[Outcome.ADDED] == 0
    assert mapped.calls == 1 + report.counts[Outcome.FAILED]
    titles = {next(iter(s.course.title.values())) for s in store.iter_courses(source_id=source.id)}
    assert changed[7][0] in titles and rows[7][0] not in titles
    # and the next unchanged run recalls the new version
    again = run_harvest(store, source, data=_csv(changed))
    assert again.counts[Outcome.UNCHANGED] == report.counts[Outcome.UNCHANGED] + 1


def test_moved_records_carry_their_issues_to_their_new_place(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    moved = [rows[0], *reversed(rows[1:])]
    recalled = run_harvest(store, source, data=_csv(moved))
    _forget(store)
    full = run_harvest(store, source, data=_csv(moved))
    assert _seen(full) == _seen(recalled)
    assert recalled.counts == full.counts


def test_changed_source_parameters_map_every_record_again(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    reparametrised = set_parameters(source, SourceParameters(country="IRL"))
    store.save_source(reparametrised)
    mapped = Mapped(monkeypatch)
    report = run_harvest(store, reparametrised, data=_csv(rows))
    assert report.status is RunStatus.SUCCEEDED
    assert mapped.calls == len(rows) - 1  # every data row


def test_a_withdrawn_course_is_mapped_again_when_it_returns(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    run_harvest(store, source, data=_csv([rows[0], *rows[2:]]))  # one course withdrawn
    withdrawn = [s for s in store.iter_courses(source_id=source.id, include_withdrawn=True)]
    assert sum(s.status is CourseStatus.WITHDRAWN for s in withdrawn) == 1
    mapped = Mapped(monkeypatch)
    report = run_harvest(store, source, data=_csv(rows))
    assert report.counts[Outcome.UPDATED] == 1  # active again
    assert mapped.calls == 1 + report.counts[Outcome.FAILED]


def test_a_dry_run_recalls_but_remembers_nothing(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, rows = _edx(store)
    dry = run_harvest(store, source, data=_csv(rows), dry_run=True)
    with store.reading() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(item_fingerprints)).scalar_one() == 0
    first = run_harvest(store, source, data=_csv(rows))
    assert dry.counts == first.counts
    mapped = Mapped(monkeypatch)
    again = run_harvest(store, source, data=_csv(rows), dry_run=True)
    assert mapped.calls == again.counts[Outcome.FAILED]
    assert again.counts[Outcome.UNCHANGED] == first.counts[Outcome.ADDED]


def test_a_report_cache_smaller_than_the_feed_changes_nothing(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decoded item reports a run keeps are bounded; evicted ones are read again."""
    from course_catalogue.catalogue import item_memory

    source, rows = _edx(store)
    first = run_harvest(store, source, data=_csv(rows))
    monkeypatch.setattr(item_memory, "REPORTS", 2)
    mapped = Mapped(monkeypatch)
    again = run_harvest(store, source, data=_csv(rows))
    assert mapped.calls == again.counts[Outcome.FAILED]
    assert _seen(again) == _seen(first)


def test_a_recalled_course_changed_before_the_transaction_fails_the_run(store: CatalogueStore) -> None:
    """Recalled as unchanged, then changed (a confirm, a remap, a withdrawal) before the run's
    transaction: the session refuses to count it unchanged and nothing of the run is kept. The
    session checks the courses changed since the recall's watermark (every change takes a seq)."""
    from course_catalogue.catalogue.course_writes import withdraw
    from course_catalogue.catalogue.errors import StoreError
    from course_catalogue.catalogue.item_memory import Carried, Recaller

    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    first, second = list(store.iter_courses(source_id=source.id))[:2]
    recaller = Recaller(source.id)
    with store.reading() as conn:
        recaller.recall(conn, ["0" * 32])
    assert recaller.watermark is not None and recaller.watermark > 0
    carried = [
        Carried(s.id, source.id, s.course.provenance.provider_ref, s.content_hash) for s in (first, second)
    ]
    report = store.start_run(source.id, trigger="test")
    # without a watermark every course of the source counts as changed since: a hash it no
    # longer has is refused
    stale = Carried(first.id, source.id, carried[0].provider_ref, "a hash it no longer has")
    with pytest.raises(StoreError), store.harvesting(report) as session:
        session.offer([stale])
        session.finish(seen_refs=[stale.provider_ref], complete=False, max_withdraw_share=None)
    # unchanged since the recall: carried
    with store.harvesting(report, dry_run=True, recalled_after=recaller.watermark) as session:
        session.offer(carried)
        diff = session.finish(
            seen_refs=[c.provider_ref for c in carried], complete=False, max_withdraw_share=None
        )
    assert diff.unchanged == [first.id, second.id]
    # withdrawn after the recall: refused
    with store.writing() as conn:
        withdraw(conn, [second.id], None, datetime.now(UTC))
    with pytest.raises(StoreError), store.harvesting(report, recalled_after=recaller.watermark) as session:
        session.offer(carried)
        session.finish(seen_refs=[c.provider_ref for c in carried], complete=False, max_withdraw_share=None)


@pytest.mark.parametrize(
    ("old", "new", "remapped"),
    [
        # the first course holds three of the four presentations: its copy is in each of them
        (b"<dc:title>Start writing fiction</dc:title>", b"<dc:title>Start writing fiction!</dc:title>", 3),
        # the provider's copy is in every record
        (b"<dc:title>The Open University</dc:title>", b"<dc:title>The Open Universe</dc:title>", 4),
    ],
)
def test_a_change_in_an_xml_records_context_maps_the_records_in_it_again(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch, old: bytes, new: bytes, remapped: int
) -> None:
    """XML items are recognised by their raw form (the record's bytes after its context shells'
    digests) before they are built: a changed context must still change the records in it."""
    source, data = _source(store, "xcri-cap")
    first = run_harvest(store, source, data=data)
    assert first.counts[Outcome.ADDED] == 4 and data.count(old) == 1
    mapped = Mapped(monkeypatch)
    report = run_harvest(store, source, data=data.replace(old, new))
    assert mapped.calls == remapped
    assert report.counts[Outcome.UPDATED] == remapped
    assert report.counts[Outcome.UNCHANGED] == 4 - remapped


@pytest.mark.parametrize("fmt", ["xcri-cap", "qdr-loq"])
def test_a_recalled_xml_record_is_never_built(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Digest first: an unchanged re-harvest recognises deferred items by their raw form alone.
    (The run's coverage report may still parse the first records whose paths it has no example
    of yet: that is bounded per run, and it is taken out here.)"""
    source, data = _source(store, fmt)
    assert_reharvest_builds_nothing(store, monkeypatch, source, data)


def assert_reharvest_builds_nothing(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch, source: Source, data: bytes
) -> None:
    """A first load of `data`, then an unchanged re-harvest in which every item is UNCHANGED and
    no deferred item is built (the coverage report's own examples taken out)."""
    from course_catalogue.harvesters import base
    from course_catalogue.mappings.coverage import CoverageCounter

    first = run_harvest(store, source, data=data)
    built: list[str | None] = []
    real = base.Deferred.item

    def counting(self: base.Deferred) -> object:
        built.append(self.pointer)
        return real(self)

    monkeypatch.setattr(base.Deferred, "item", counting)
    monkeypatch.setattr(CoverageCounter, "observe_known", lambda self, paths: True)
    report = run_harvest(store, source, data=data)
    assert report.counts[Outcome.UNCHANGED] == first.counts[Outcome.ADDED] > 0 and built == []


def test_a_change_in_an_element_qdr_records_link_to_maps_them_again(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QDR items are recognised by the record's bytes and the digests of the elements its links
    copy into it: a change in a linked organisation maps the records that link it again."""
    source, data = _source(store, "qdr-loq")
    first = run_harvest(store, source, data=data)
    assert first.counts[Outcome.ADDED] == 2
    old = b'<legalName language="en">HB-QzqZddn66D_SBl3gVv20WiJ</legalName>'  # of ORG-01, linked by both
    assert data.count(old) == 1
    mapped = Mapped(monkeypatch)
    report = run_harvest(store, source, data=data.replace(old, old.replace(b"HB-", b"HC-")))
    assert mapped.calls == 2 and report.counts[Outcome.UNCHANGED] == 0
    assert report.counts[Outcome.UPDATED] == 2
