"""run_harvest and remap_source end to end: the real store (SQLite and PostgreSQL), the real edX mapping."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.model import course_id
from course_catalogue.catalogue.runs import Outcome, RunReport, RunStatus, Severity
from course_catalogue.catalogue.sources import FetchState, Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.http import Fetcher
from course_catalogue.mappings.items import CSV_ROW
from course_catalogue.services import pipeline
from course_catalogue.services import seen as seen_refs
from course_catalogue.services.pipeline import SINK_FAILED, HarvestSettings, remap_source, run_harvest

FIXTURE = Path(__file__).parents[1] / "fixtures" / "csv_edx_courses.csv"
URL = "https://feeds.example.org/edx.csv"
N = 974  # 975 rows, one of them an identical copy of another (same course_url, same cells)


def edx_rows() -> list[list[str]]:
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def feed(rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


class RecordingSink:
    def __init__(self) -> None:
        self.batches: list[list[StoredCourse]] = []

    def apply(self, changed: Sequence[StoredCourse]) -> None:
        self.batches.append(list(changed))


class BrokenSink:
    def apply(self, changed: Sequence[StoredCourse]) -> None:
        raise ConnectionError("index is down")


@pytest.fixture
def source(store: CatalogueStore) -> Source:
    registered = Source(id="edx", format="csv", name="edX", url=URL, mapping="edx-csv")
    store.save_source(registered)
    return registered


@pytest.fixture
def rows() -> list[list[str]]:
    return edx_rows()


@pytest.fixture
def harvested(store: CatalogueStore, source: Source) -> RunReport:
    """The full edX feed, harvested once."""
    report = run_harvest(store, source, data=FIXTURE.read_bytes())
    assert report.status is RunStatus.SUCCEEDED, report.error
    return report


def ref_of(row: list[str], header: list[str]) -> str:
    return row[header.index("course_url")]


def unique(rows: list[list[str]]) -> int:
    """How many distinct courses the data rows (after the header) hold."""
    return len({ref_of(row, rows[0]) for row in rows[1:]})


def counts(report: RunReport) -> dict[str, int]:
    return {outcome.value: n for outcome, n in report.counts.items() if n}


def codes(report: RunReport, severity: Severity | None = None) -> list[str]:
    return [i.code for i in report.issues if severity is None or i.severity is severity]


def test_first_harvest_adds_every_course(store: CatalogueStore, source: Source) -> None:
    sink = RecordingSink()
    report = run_harvest(store, source, data=FIXTURE.read_bytes(), sinks=[sink])
    assert report.status is RunStatus.SUCCEEDED and report.error is None
    assert counts(report) == {"added": N}
    assert codes(report, Severity.ERROR) == []
    (repeat,) = [i for i in report.issues if i.code == "duplicate-record"]  # the feed repeats a row
    assert repeat.severity is Severity.WARNING and repeat.pointer == "line 317"
    assert store.count_courses(source_id="edx") == N
    assert len(sink.batches) == 1 and len(sink.batches[0]) == N
    saved = store.get_run(report.run_id)  # type: ignore[arg-type]
    assert saved.status is RunStatus.SUCCEEDED and saved.counts[Outcome.ADDED] == N
    stored = sink.batches[0][0]
    assert stored.course.provenance.run_id == report.run_id
    assert stored.course.provenance.harvested_at is not None
    assert stored.course.provenance.pointer == "line 2"
    raw = store.get_raw(stored.id)
    assert raw is not None and raw[1] == CSV_ROW
    assert json.loads(raw[0])["title"] == "How to Learn Online"


def test_second_harvest_of_the_same_feed_changes_nothing(
    store: CatalogueStore, source: Source, harvested: RunReport
) -> None:
    before = {s.id: (s.content_hash, s.seq) for s in store.iter_courses(source_id="edx")}
    sink = RecordingSink()
    report = run_harvest(store, source, data=FIXTURE.read_bytes(), sinks=[sink])
    assert counts(report) == {"unchanged": N}
    assert sink.batches == [[]]  # nothing changed: one empty batch (the outbox sink delivers leftovers)
    after = {s.id: (s.content_hash, s.seq) for s in store.iter_courses(source_id="edx")}
    assert after == before


def test_seen_refs_on_disk_report_repeats_and_withdraw_as_in_memory(
    store: CatalogueStore, source: Source, rows: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose seen refs outgrow memory (`services.seen`, here past 10 of the 975 rows)
    notes a repeated row against its first occurrence and withdraws exactly the missing one."""
    monkeypatch.setattr(seen_refs, "IN_MEMORY", 10)
    report = run_harvest(store, source, data=FIXTURE.read_bytes())
    assert counts(report) == {"added": N}
    (repeat,) = [i for i in report.issues if i.code == "duplicate-record"]
    assert repeat.pointer == "line 317" and "(first at line " in repeat.message
    header, removed = rows[0], rows.pop(500)
    report = run_harvest(store, source, data=feed(rows))
    assert counts(report) == {"withdrawn": 1, "unchanged": N - 1}
    gone = store.get_course(course_id("edx", ref_of(removed, header)))
    assert gone.status is CourseStatus.WITHDRAWN


def test_an_edited_row_updates_one_course(
    store: CatalogueStore, source: Source, harvested: RunReport, rows: list[list[str]]
) -> None:
    header = rows[0]
    rows[10][header.index("title")] = "A brand new title"
    sink = RecordingSink()
    report = run_harvest(store, source, data=feed(rows), sinks=[sink])
    assert counts(report) == {"updated": 1, "unchanged": N - 1}
    edited = store.get_course(course_id("edx", ref_of(rows[10], header)))
    assert edited.course.title == {"en": "A brand new title"}
    assert edited.course.provenance.run_id == report.run_id
    assert [s.id for s in sink.batches[0]] == [edited.id]


def test_a_removed_row_withdraws_one_course(
    store: CatalogueStore, source: Source, harvested: RunReport, rows: list[list[str]]
) -> None:
    header = rows[0]
    removed = rows.pop(20)
    sink = RecordingSink()
    report = run_harvest(store, source, data=feed(rows), sinks=[sink])
    assert report.status is RunStatus.SUCCEEDED
    assert counts(report) == {"withdrawn": 1, "unchanged": N - 1}
    gone = store.get_course(course_id("edx", ref_of(removed, header)))
    assert gone.status is CourseStatus.WITHDRAWN
    assert [(s.id, s.status) for s in sink.batches[0]] == [(gone.id, CourseStatus.WITHDRAWN)]


def test_incomplete_feed_withdraws_nothing(
    store: CatalogueStore, source: Source, harvested: RunReport, rows: list[list[str]]
) -> None:
    report = run_harvest(store, source, data=feed(rows[:101]), complete=False)
    assert counts(report) == {"unchanged": unique(rows[:101])}
    assert store.count_courses(source_id="edx") == N


def test_a_broken_row_fails_alone_and_suspends_withdrawals(
    store: CatalogueStore, source: Source, harvested: RunReport, rows: list[list[str]]
) -> None:
    header = rows[0]
    single = [i for i, row in enumerate(rows) if i and not any("\n" in cell for cell in row)]
    broken, removed = single[5], single[30]
    lines = [feed([row]) for row in rows]
    lines[broken] = lines[broken].rstrip(b"\n") + b",surplus\n"  # one unquoted cell too many
    lines[removed] = b""  # and a course left the feed
    report = run_harvest(store, source, data=b"".join(lines))
    assert report.status is RunStatus.SUCCEEDED
    assert counts(report) == {"failed": 1, "unchanged": N - 2}
    (error,) = [i for i in report.issues if i.severity is Severity.ERROR]
    line = b"".join(lines[:broken]).count(b"\n") + 1
    assert error.code == "ragged-row" and error.pointer == f"line {line}"
    assert "withdrawals-skipped" in codes(report, Severity.WARNING)
    # neither the broken row's course nor the removed one was withdrawn this time
    for row in (rows[broken], rows[removed]):
        assert store.get_course(course_id("edx", ref_of(row, header))).status is CourseStatus.ACTIVE


def test_a_record_the_mapping_rejects_keeps_its_stored_version(
    store: CatalogueStore, source: Source, harvested: RunReport, rows: list[list[str]]
) -> None:
    header = rows[0]
    rows[3][header.index("title")] = ""  # title is required by the edX mapping
    report = run_harvest(store, source, data=feed(rows))
    assert counts(report) == {"failed": 1, "unchanged": N - 1}
    (error,) = [i for i in report.issues if i.severity is Severity.ERROR]
    assert error.record_ref == ref_of(rows[3], header) and error.pointer is not None
    kept = store.get_course(course_id("edx", ref_of(rows[3], header)))
    assert kept.status is CourseStatus.ACTIVE and kept.course.title


def test_a_different_record_under_a_known_id_is_an_error(
    store: CatalogueStore, source: Source, rows: list[list[str]]
) -> None:
    header = rows[0]
    copy = list(rows[7])
    copy[header.index("title")] = "Same id, other course"
    rows.append(copy)
    report = run_harvest(store, source, data=feed(rows))
    assert counts(report) == {"added": N, "failed": 1}
    (error,) = [i for i in report.issues if i.severity is Severity.ERROR]
    assert error.code == "duplicate-ref" and error.record_ref == ref_of(rows[7], header)
    line = feed(rows[:-1]).count(b"\n") + 1
    assert error.pointer == f"line {line}"
    kept = store.get_course(course_id("edx", ref_of(rows[7], header)))
    assert kept.course.title != {"en": "Same id, other course"}  # the first occurrence wins


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(range(256)) * 50, "encoding"),
        (b"", "empty"),
        (b"title,title\nx,y\n", "more than once"),
    ],
)
def test_an_unusable_feed_fails_the_run_and_changes_nothing(
    store: CatalogueStore, source: Source, harvested: RunReport, data: bytes, message: str
) -> None:
    sink = RecordingSink()
    report = run_harvest(store, source, data=data, sinks=[sink])
    assert report.status is RunStatus.FAILED and message in (report.error or "")
    assert counts(report) == {} and sink.batches == []
    assert store.count_courses(source_id="edx") == N
    saved = store.get_run(report.run_id)  # type: ignore[arg-type]
    assert saved.status is RunStatus.FAILED and saved.error == report.error
    assert saved.finished_at is not None


def test_a_dry_run_reports_the_diff_and_changes_nothing(
    store: CatalogueStore, source: Source, harvested: RunReport, rows: list[list[str]]
) -> None:
    header = rows[0]
    rows[10][header.index("title")] = "A brand new title"
    removed = rows.pop(20)
    sink = RecordingSink()
    report = run_harvest(store, source, data=feed(rows), sinks=[sink], dry_run=True)
    assert report.dry_run and report.status is RunStatus.SUCCEEDED
    assert counts(report) == {"updated": 1, "withdrawn": 1, "unchanged": N - 2}
    assert sink.batches == []
    assert store.get_course(course_id("edx", ref_of(rows[10], header))).course.title != {
        "en": "A brand new title"
    }
    assert store.get_course(course_id("edx", ref_of(removed, header))).status is CourseStatus.ACTIVE


def test_a_failing_sink_warns_but_the_run_succeeds(store: CatalogueStore, source: Source) -> None:
    after = RecordingSink()
    report = run_harvest(store, source, data=FIXTURE.read_bytes(), sinks=[BrokenSink(), after])
    assert report.status is RunStatus.SUCCEEDED and counts(report) == {"added": N}
    (warning,) = [i for i in report.issues if i.code == "sink-failed"]
    assert warning.severity is Severity.WARNING and SINK_FAILED in warning.message
    assert "index is down" in warning.message
    assert len(after.batches[0]) == N  # later sinks still get the changes
    saved = store.get_run(report.run_id)  # type: ignore[arg-type]
    assert [i.code for i in saved.issues if i.code == "sink-failed"] == ["sink-failed"]
    assert store.count_courses(source_id="edx") == N


def test_mass_drop_is_held(
    store: CatalogueStore, source: Source, harvested: RunReport, rows: list[list[str]]
) -> None:
    report = run_harvest(store, source, data=feed(rows[:101]))
    assert report.status is RunStatus.HELD
    assert counts(report) == {"unchanged": unique(rows[:101])}
    assert store.count_courses(source_id="edx") == N
    assert store.get_run(report.run_id).status is RunStatus.HELD  # type: ignore[arg-type]


def test_oversized_upload_fails(store: CatalogueStore, source: Source) -> None:
    report = run_harvest(
        store, source, data=FIXTURE.read_bytes(), settings=HarvestSettings(max_feed_bytes=1000)
    )
    assert report.status is RunStatus.FAILED and "more than the limit of 1000" in (report.error or "")


def test_source_without_url_or_data_fails(store: CatalogueStore) -> None:
    source = Source(id="upload-only", format="csv", mapping="edx-csv")
    store.save_source(source)
    report = run_harvest(store, source)
    assert report.status is RunStatus.FAILED and "has no URL" in (report.error or "")


def test_source_without_a_usable_mapping_fails(store: CatalogueStore) -> None:
    source = Source(id="nomap", format="csv")
    store.save_source(source)
    report = run_harvest(store, source, data=b"id\n1\n")
    assert report.status is RunStatus.FAILED
    assert "names no mapping and there is no default mapping for format 'csv'" in (report.error or "")


def test_an_unexpected_error_is_recorded_then_raised(
    store: CatalogueStore, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(fmt: str, **options: object) -> object:
        raise RuntimeError("bug")

    monkeypatch.setattr(pipeline, "harvester_for", boom)
    with pytest.raises(RuntimeError, match="bug"):
        run_harvest(store, source, data=b"x")
    (run,) = store.list_runs("edx")
    assert run.status is RunStatus.FAILED and run.error == "internal error: RuntimeError: bug"


# --- fetching -------------------------------------------------------------------------------


def mock_fetcher(*responses: httpx.Response, seen: list[httpx.Request]) -> Fetcher:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return Fetcher(
        transport=httpx.MockTransport(handler),
        resolver=lambda host, port: ["93.184.216.34"],
        sleep=lambda s: None,
    )


def test_an_unchanged_feed_costs_one_304_and_no_parse(
    store: CatalogueStore, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    validators = {"ETag": '"v1"', "Last-Modified": "Wed, 01 May 2024 10:00:00 GMT"}
    requests: list[httpx.Request] = []
    fetcher = mock_fetcher(
        httpx.Response(200, content=FIXTURE.read_bytes(), headers=validators),
        httpx.Response(304),
        seen=requests,
    )
    first = run_harvest(store, source, fetcher=fetcher)
    assert counts(first) == {"added": N}
    assert store.get_fetch_state("edx") == FetchState('"v1"', "Wed, 01 May 2024 10:00:00 GMT")

    def no_parse(fmt: str, **options: object) -> object:
        raise AssertionError("an unchanged feed must not be parsed")

    monkeypatch.setattr(pipeline, "harvester_for", no_parse)
    second = run_harvest(store, source, fetcher=fetcher)
    assert second.status is RunStatus.SUCCEEDED and counts(second) == {}
    assert codes(second) == ["not-modified"]
    assert requests[1].headers["if-none-match"] == '"v1"'
    assert requests[1].headers["if-modified-since"] == "Wed, 01 May 2024 10:00:00 GMT"
    assert str(requests[1].url) == URL


def test_fetch_failure_fails_the_run_and_keeps_the_fetch_state(
    store: CatalogueStore, source: Source, harvested: RunReport
) -> None:
    store.set_fetch_state("edx", FetchState('"v1"', None))
    fetcher = mock_fetcher(httpx.Response(404), seen=[])
    report = run_harvest(store, source, fetcher=fetcher)
    assert report.status is RunStatus.FAILED
    assert report.error == f"{URL}: HTTP 404 Not Found"
    assert store.get_fetch_state("edx") == FetchState('"v1"', None)
    assert store.count_courses(source_id="edx") == N


def test_a_feed_with_failed_records_clears_the_fetch_state(
    store: CatalogueStore, source: Source, rows: list[list[str]]
) -> None:
    rows[3][rows[0].index("title")] = ""
    store.set_fetch_state("edx", FetchState('"old"', None))
    fetcher = mock_fetcher(httpx.Response(200, content=feed(rows), headers={"ETag": '"v2"'}), seen=[])
    report = run_harvest(store, source, fetcher=fetcher)
    assert counts(report) == {"added": N - 1, "failed": 1}
    # the next run must re-read the feed (a fixed mapping can then land the failed record)
    assert store.get_fetch_state("edx") == FetchState(None, None)


def test_a_dry_run_fetches_unconditionally_and_saves_no_state(store: CatalogueStore, source: Source) -> None:
    store.set_fetch_state("edx", FetchState('"v1"', None))
    requests: list[httpx.Request] = []
    fetcher = mock_fetcher(
        httpx.Response(200, content=FIXTURE.read_bytes(), headers={"ETag": '"v2"'}), seen=requests
    )
    report = run_harvest(store, source, fetcher=fetcher, dry_run=True)
    assert counts(report) == {"added": N}
    assert "if-none-match" not in requests[0].headers
    assert store.get_fetch_state("edx") == FetchState('"v1"', None)
    assert store.count_courses(source_id="edx") == 0


# --- remap ----------------------------------------------------------------------------------


def test_remap_replays_stored_payloads(store: CatalogueStore, source: Source, harvested: RunReport) -> None:
    sink = RecordingSink()
    report = remap_source(store, source, sinks=[sink])
    assert report.status is RunStatus.SUCCEEDED
    assert counts(report) == {"unchanged": N}
    assert sink.batches == [[]]  # told of the run, with nothing to deliver


def test_remap_with_a_changed_mapping_updates_and_never_withdraws(
    store: CatalogueStore, source: Source, harvested: RunReport, tmp_path: Path
) -> None:
    times = {s.id: s.course.provenance.harvested_at for s in store.iter_courses(source_id="edx")}
    spec = Path(pipeline.load_spec("edx-csv").path).read_text(encoding="utf-8")
    title_rule = '[fields.title]\ncolumn = "title"'
    assert title_rule in spec
    changed = tmp_path / "edx-csv-v2.toml"
    changed.write_text(spec.replace(title_rule, '[fields.title]\ncolumn = "summary"'), encoding="utf-8")
    remapped_source = Source(id="edx", format="csv", url=URL, mapping=str(changed))
    sink = RecordingSink()
    report = remap_source(store, remapped_source, sinks=[sink])
    assert report.status is RunStatus.SUCCEEDED
    assert report.counts[Outcome.UPDATED] > 0 and report.counts[Outcome.WITHDRAWN] == 0
    assert store.count_courses(source_id="edx") == N
    for stored in sink.batches[0]:
        assert stored.course.provenance.run_id == report.run_id
        # the payload is as old as the harvest that fetched it
        assert stored.course.provenance.harvested_at == times[stored.id]


def test_remap_dry_run_changes_nothing(store: CatalogueStore, source: Source, harvested: RunReport) -> None:
    report = remap_source(store, source, dry_run=True)
    assert report.dry_run and counts(report) == {"unchanged": N}


def test_issue_totals_are_exact_beyond_the_kept_sample(
    store: CatalogueStore, source: Source, rows: list[list[str]]
) -> None:
    settings = HarvestSettings(max_issues=50, max_issues_per_kind=25)
    report = run_harvest(store, source, data=feed(rows), settings=settings)
    totals = report.totals()
    assert report.truncated and len(report.issues) < sum(totals.values())
    kept = {kind: sum(1 for i in report.issues if (i.severity, i.code, i.field) == kind) for kind in totals}
    assert all(n <= max(25, 20) for n in kept.values())
    assert all(kept[kind] >= min(n, 20) for kind, n in totals.items())  # every kind keeps its first ones
    stored = store.get_run(report.run_id or 0)
    assert stored.totals() == totals and stored.truncated
    assert store.list_runs("edx")[0].totals() == totals  # listings count without their issues
    assert report.coverage is not None and stored.coverage == report.coverage
    assert [p.path for p in stored.coverage.unmapped] == []


@pytest.mark.parametrize("stage", ["apply", "validate"])
def test_a_fault_on_one_record_rejects_that_record_only(
    store: CatalogueStore, source: Source, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """A programming fault met on one record's content (a transform or validation bug) rejects
    that record with an internal-error issue; the rest of the feed lands and nothing is withdrawn."""
    from course_catalogue.services import intake

    rows = edx_rows()
    first = run_harvest(store, source, data=feed(rows))
    assert first.counts[Outcome.ADDED] == N
    victim = rows[5][0]  # the title of one row
    real = getattr(intake, stage)

    def faulty(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)
        course = result.course if stage == "apply" else args[0]
        if course is not None and victim in course.title.values():
            raise ValueError("fractional months not supported")
        return result

    monkeypatch.setattr(intake, stage, faulty)
    # The victim's bytes change (a trailing space the mapping trims), so it is mapped again
    # rather than recalled unchanged (services.recall).
    changed = [
        rows[0],
        *(
            [row[0] + " (new edition)", *row[1:]] if i == 9 else [*row[:-1], row[-1] + " "] if i == 5 else row
            for i, row in enumerate(rows[1:], 1)
        ),
    ]
    report = run_harvest(store, source, data=feed(changed))
    assert report.status is RunStatus.SUCCEEDED
    assert report.counts[Outcome.FAILED] == 1 and report.counts[Outcome.UPDATED] == 1
    assert report.counts[Outcome.WITHDRAWN] == 0
    faults = [i for i in report.issues if i.code == "internal-error"]
    assert len(faults) == 1 and faults[0].severity is Severity.ERROR
    assert store.count_courses() == N  # the faulty record keeps its stored version
