"""A byte-identical feed is recognised as a whole before it is parsed (services.feed_skip).

Every test runs the real pipeline on the real store (SQLite and PostgreSQL). A skipped run must
be indistinguishable, in what it reports and stores, from reading the feed item by item (the
`--force` path, `PER_ITEM`), and anything that could make the outcome differ (a byte, the spec,
the source's parameters, a run that did not fully apply, a change to the source's courses) must
send the run down the item path.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.runs import Outcome, RunReport, RunStatus
from course_catalogue.catalogue.schema import changes, courses
from course_catalogue.catalogue.sources import Source, SourceParameters, set_parameters
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.base import Gathered, NonEmpty
from course_catalogue.harvesters.http import Fetcher
from course_catalogue.services import feed_skip, intake, pipeline
from course_catalogue.services.pipeline import HarvestSettings, remap_source, run_harvest

FIXTURES = Path(__file__).parents[1] / "fixtures"
SPECS = Path(pipeline.__file__).parents[1] / "mappings" / "specs"
FEEDS = {
    "csv": ("edx-csv", "csv_edx_courses.csv"),
    "xcri-cap": ("xcri-cap", "xcri-cap12_open_university_2011.xml"),
    "qdr-loq": ("qdr-loq", "elm3.1_qdr_loq_learning_opportunities.xml"),
    "elm-rdf": ("elm-rdf", "lo_example_loq.ttl"),
}
PER_ITEM = HarvestSettings(skip_unchanged_feeds=False)
ROWS = 80
"""CSV data rows of the edX sample used (enough for the withdrawal guard to hold a cut feed)."""


class Parsed:
    """Counts the feeds the readers are asked to read (over `NonEmpty.gather`) and the
    items the engine maps (over `intake.apply`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.feeds = 0
        self.items = 0
        real_gather, real_apply = NonEmpty.gather, intake.apply

        def gather(harvester: NonEmpty, *args: Any, **kwargs: Any) -> Iterator[Gathered]:
            self.feeds += 1
            return real_gather(harvester, *args, **kwargs)

        def apply(*args: Any, **kwargs: Any) -> Any:
            self.items += 1
            return real_apply(*args, **kwargs)

        monkeypatch.setattr(NonEmpty, "gather", gather)
        monkeypatch.setattr(intake, "apply", apply)


class RecordingSink:
    def __init__(self) -> None:
        self.batches: list[list[StoredCourse]] = []

    def apply(self, changed: Sequence[StoredCourse]) -> None:
        self.batches.append(list(changed))


def _seen(report: RunReport) -> tuple[object, ...]:
    """What a user sees of a run's records: counts, issues in order (but the skip's own note),
    issue totals, coverage."""
    issues = [i.to_dict() for i in report.issues if i.code != feed_skip.CODE]
    return ({o: n for o, n in report.counts.items() if n}, issues, dict(report.dropped), report.coverage)


def _skipped(report: RunReport) -> bool:
    return any(i.code == feed_skip.CODE for i in report.issues)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _source(store: CatalogueStore, fmt: str, mapping: str | None = None) -> tuple[Source, bytes]:
    default, fixture = FEEDS[fmt]
    source = Source(id=f"skip-{fmt}", format=fmt, name=fmt, mapping=mapping or default)
    store.save_source(source)
    return source, (FIXTURES / fixture).read_bytes()


def _edx(store: CatalogueStore, mapping: str | None = None) -> tuple[Source, list[list[str]]]:
    source, data = _source(store, "csv", mapping)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    return source, rows[: ROWS + 1]


def _last_seq(store: CatalogueStore) -> int:
    with store.reading() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0))).scalar_one())


@pytest.mark.parametrize("fmt", sorted(FEEDS))
def test_a_byte_identical_feed_is_not_read_and_reports_what_reading_it_would(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    source, data = _source(store, fmt)
    first = run_harvest(store, source, data=data)
    assert first.status is RunStatus.SUCCEEDED and first.counts[Outcome.ADDED] > 0
    seq = _last_seq(store)
    parsed, sink = Parsed(monkeypatch), RecordingSink()
    skipped = run_harvest(store, source, data=data, sinks=[sink])
    assert parsed.feeds == parsed.items == 0
    assert skipped.status is RunStatus.SUCCEEDED and _skipped(skipped)
    assert skipped.counts[Outcome.UNCHANGED] == first.counts[Outcome.ADDED]
    assert skipped.counts[Outcome.FAILED] == first.counts[Outcome.FAILED]
    assert skipped.counts[Outcome.ADDED] == skipped.counts[Outcome.UPDATED] == 0
    assert skipped.counts[Outcome.WITHDRAWN] == 0
    assert [i.to_dict() for i in skipped.issues[1:]] == [i.to_dict() for i in first.issues]
    assert skipped.coverage == first.coverage
    assert _last_seq(store) == seq  # nothing written: the changes feed (and OAI-PMH) is as it was
    assert sink.batches == [[]]  # the sinks are told nothing changed
    stored = store.get_run(skipped.run_id or 0)
    assert _seen(stored) == _seen(skipped)
    assert skipped.issues[0].value == str(first.run_id)
    # reading the feed item by item gives the same report
    read = run_harvest(store, source, data=data, settings=PER_ITEM)
    assert parsed.feeds == 1 and not _skipped(read)
    assert _seen(read) == _seen(skipped)
    # a skipped run can be skipped again, with the same report (its issues are not nested)
    again = run_harvest(store, source, data=data)
    assert _skipped(again) and _seen(again) == _seen(skipped)


def test_one_byte_changed_reads_the_feed_and_lands_exactly(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, rows = _edx(store)
    first = run_harvest(store, source, data=_csv(rows))
    changed = [list(row) for row in rows]
    changed[7][0] += "!"
    parsed = Parsed(monkeypatch)
    report = run_harvest(store, source, data=_csv(changed))
    assert parsed.feeds == 1 and not _skipped(report)
    assert report.counts[Outcome.UPDATED] == 1 and report.counts[Outcome.ADDED] == 0
    assert report.counts[Outcome.UNCHANGED] == first.counts[Outcome.ADDED] - 1
    titles = {next(iter(s.course.title.values())) for s in store.iter_courses(source_id=source.id)}
    assert changed[7][0] in titles and rows[7][0] not in titles
    # the new feed is the one recognised next; the old one is not any more
    assert _skipped(run_harvest(store, source, data=_csv(changed)))
    assert not _skipped(run_harvest(store, source, data=_csv(rows)))


def test_a_changed_spec_file_reads_the_feed(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = tmp_path / "edx-copy.toml"
    shutil.copyfile(SPECS / "edx-csv.toml", spec)
    source, rows = _edx(store, mapping=str(spec))
    run_harvest(store, source, data=_csv(rows))
    assert _skipped(run_harvest(store, source, data=_csv(rows)))
    spec.write_text(spec.read_text() + "\n# edited\n")
    parsed = Parsed(monkeypatch)
    report = run_harvest(store, source, data=_csv(rows))
    assert parsed.feeds == 1 and parsed.items > 0 and not _skipped(report)


def test_changed_source_parameters_read_the_feed(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    reparametrised = set_parameters(source, SourceParameters(country="IRL"))
    store.save_source(reparametrised)
    parsed = Parsed(monkeypatch)
    report = run_harvest(store, reparametrised, data=_csv(rows))
    assert parsed.feeds == 1 and parsed.items > 0 and not _skipped(report)


def test_a_partial_feed_is_not_the_complete_one(store: CatalogueStore) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    assert not _skipped(run_harvest(store, source, data=_csv(rows), complete=False))


def test_after_a_held_run_the_feed_is_read(store: CatalogueStore, monkeypatch: pytest.MonkeyPatch) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    cut = _csv(rows[: ROWS // 2])
    held = run_harvest(store, source, data=cut)
    assert held.status is RunStatus.HELD
    parsed = Parsed(monkeypatch)
    again = run_harvest(store, source, data=cut)
    assert parsed.feeds == 1 and not _skipped(again) and again.status is RunStatus.HELD
    # the complete feed again: read (the held run came after it), and the held withdrawals dropped
    full = run_harvest(store, source, data=_csv(rows))
    assert not _skipped(full) and full.status is RunStatus.SUCCEEDED
    assert store.get_run(held.run_id or 0).status is RunStatus.HELD


def test_a_confirmed_withdrawal_since_reads_the_feed(store: CatalogueStore) -> None:
    source, rows = _edx(store)
    first = run_harvest(store, source, data=_csv(rows))
    held = run_harvest(store, source, data=_csv(rows[: ROWS // 2]))
    store.confirm_withdrawals(held.run_id or 0)
    report = run_harvest(store, source, data=_csv(rows))
    assert not _skipped(report)
    assert report.counts[Outcome.UPDATED] + report.counts[Outcome.ADDED] > 0  # the withdrawn came back
    active = [s for s in store.iter_courses(source_id=source.id) if s.status is CourseStatus.ACTIVE]
    assert len(active) == first.counts[Outcome.ADDED]


def test_a_course_changed_since_reads_the_feed_and_restores_it(store: CatalogueStore) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    with store.writing() as conn:  # a hand edit: no change row, no run
        victim = conn.execute(
            sa.select(courses.c.id).where(courses.c.source_id == source.id).order_by(courses.c.id).limit(1)
        ).scalar_one()
        conn.execute(
            courses.update().where(courses.c.id == victim).values(status=CourseStatus.WITHDRAWN.value)
        )
    report = run_harvest(store, source, data=_csv(rows))
    assert not _skipped(report)
    assert store.get_course(victim).status is CourseStatus.ACTIVE


def test_a_remap_since_reads_the_feed(store: CatalogueStore) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    remap_source(store, source)
    assert not _skipped(run_harvest(store, source, data=_csv(rows)))
    assert _skipped(run_harvest(store, source, data=_csv(rows)))  # recorded again by that run


def test_dry_and_failed_runs_are_never_carried_forward(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, rows = _edx(store)
    dry = run_harvest(store, source, data=_csv(rows), dry_run=True)
    real = run_harvest(store, source, data=_csv(rows))
    assert not _skipped(dry) and not _skipped(real) and real.counts[Outcome.ADDED] > 0
    # a dry run after a real one reads the feed (and records nothing)
    assert not _skipped(run_harvest(store, source, data=_csv(rows), dry_run=True))
    assert _skipped(run_harvest(store, source, data=_csv(rows)))
    # a feed whose every record is rejected fails, each time it is read
    bad = _csv([rows[0], *([""] * len(rows[0]) for _ in range(3))])
    assert run_harvest(store, source, data=bad).status is RunStatus.FAILED
    parsed = Parsed(monkeypatch)
    assert run_harvest(store, source, data=bad).status is RunStatus.FAILED
    assert parsed.feeds == 1
    # the failed runs changed nothing, so the last applied feed is still recognised
    assert _skipped(run_harvest(store, source, data=_csv(rows)))


def test_force_reads_the_feed_and_records_it(store: CatalogueStore, monkeypatch: pytest.MonkeyPatch) -> None:
    source, rows = _edx(store)
    run_harvest(store, source, data=_csv(rows))
    parsed = Parsed(monkeypatch)
    forced = run_harvest(store, source, data=_csv(rows), settings=PER_ITEM)
    assert parsed.feeds == 1 and not _skipped(forced)
    assert _skipped(run_harvest(store, source, data=_csv(rows)))


def test_a_pulled_feed_without_validators_is_recognised(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, rows = _edx(store)
    source = Source(
        id=source.id, format="csv", name="edX", url="https://feeds.example.org/edx.csv", mapping="edx-csv"
    )
    store.save_source(source)
    body = _csv(rows)
    fetcher = Fetcher(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)),
        resolver=lambda host, port: ["93.184.216.34"],
        sleep=lambda s: None,
    )
    first = run_harvest(store, source, fetcher=fetcher)
    parsed = Parsed(monkeypatch)
    second = run_harvest(store, source, fetcher=fetcher)
    assert parsed.feeds == 0 and _skipped(second)
    assert _seen(second)[1:] == _seen(first)[1:]
