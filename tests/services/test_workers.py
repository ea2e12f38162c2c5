"""Mapping in worker processes changes nothing: a parallel run's outcome, report and stored
courses are those of a serial run, first load and re-harvest alike, in every format."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from course_catalogue.catalogue import schema
from course_catalogue.catalogue.harvest_apply import HarvestSession
from course_catalogue.catalogue.runs import Outcome, RunReport, RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.mappings.items import RawItem
from course_catalogue.services import pipeline
from course_catalogue.services.intake import MappingWork
from course_catalogue.services.pipeline import HarvestSettings, run_harvest
from course_catalogue.services.runtime import Services
from course_catalogue.services.workers import MappingPool, default_workers
from course_catalogue.web import settings as web_settings

pytestmark = pytest.mark.skipif(default_workers() < 2, reason="workers need two cores at least")

FIXTURES = Path(__file__).parents[1] / "fixtures"
FEEDS = {
    "csv": ("edx-csv", "csv_edx_courses.csv"),
    "xcri-cap": ("xcri-cap", "xcri-cap12_open_university_2011.xml"),
    "qdr-loq": ("qdr-loq", "elm3.1_qdr_loq_learning_opportunities.xml"),
    "elm-rdf": ("elm-rdf", "lo_example_loq.ttl"),
}
SERIAL = HarvestSettings(workers=1)
PARALLEL = HarvestSettings(workers=2, parallel_from=1)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[MappingPool | None]:
    """The pools runs started (None: could not fork), with small batches so several are in flight."""
    pools: list[MappingPool | None] = []
    real = MappingPool.start

    def spy(*args: Any, **kwargs: Any) -> MappingPool | None:
        pool = real(*args, **kwargs)
        pools.append(pool)
        return pool

    monkeypatch.setattr(MappingPool, "start", spy)
    monkeypatch.setattr(pipeline, "RECALL_BATCH", 7)
    return pools


@pytest.fixture
def other_store(tmp_path: Path) -> Iterator[CatalogueStore]:
    store = CatalogueStore(f"sqlite:///{tmp_path}/parallel.db")
    store.migrate()
    yield store
    store.close()


def _seen(report: RunReport) -> tuple[object, ...]:
    return (
        report.status,
        dict(report.counts),
        [i.to_dict() for i in report.issues],
        dict(report.dropped),
        report.coverage,
        report.error,
    )


def _courses(store: CatalogueStore) -> list[tuple[object, ...]]:
    rows = []
    for stored in store.iter_courses(include_withdrawn=True):
        record = stored.course
        rows.append((record.id, stored.status, stored.content_hash, record.title, record.provenance.pointer))
    return rows


def _stored(store: CatalogueStore) -> dict[str, list[tuple[object, ...]]]:
    """What a run leaves in the tables a worker's results reach: records (decoded, as backends
    differ in JSON text) with their provider columns, item fingerprints, item reports and raw
    payloads (built by the workers for the XML readers' items)."""
    tables = {
        "courses": (schema.courses, ("id", "record", "provider_key", "provider_name", "content_hash")),
        "fingerprints": (schema.item_fingerprints, ("course_id", "digest", "content_hash", "report")),
        "reports": (schema.item_reports, ("digest", "issues", "paths")),
        "raw": (schema.raw_items, ("course_id", "media_type", "content", "digest")),
    }

    def same_run(row: sa.Row[Any]) -> tuple[object, ...]:  # the run's id and time left out
        values = tuple(row)
        if isinstance(values[1], dict) and "provenance" in values[1]:
            provenance = {
                k: v for k, v in values[1]["provenance"].items() if k not in ("run_id", "harvested_at")
            }
            values = (values[0], values[1] | {"provenance": provenance}, *values[2:])
        return values

    with store._engine.connect() as conn:
        return {
            name: sorted(
                same_run(row)
                for row in conn.execute(
                    sa.select(*(table.c[c] for c in columns)).order_by(*table.primary_key)
                )
            )
            for name, (table, columns) in tables.items()
        }


def _harvest(store: CatalogueStore, fmt: str, data: bytes, settings: HarvestSettings) -> RunReport:
    mapping, _ = FEEDS[fmt]
    source = Source(id=f"workers-{fmt}", format=fmt, name=fmt, mapping=mapping)
    store.save_source(source)
    return run_harvest(store, source, data=data, settings=settings)


@pytest.mark.parametrize("fmt", sorted(FEEDS))
def test_parallel_runs_match_serial_runs(
    store: CatalogueStore, other_store: CatalogueStore, started: list[MappingPool | None], fmt: str
) -> None:
    """The parallel run writes into `store` (each backend: the workers' encoded records bound
    as they are), the serial one into SQLite."""
    data = (FIXTURES / FEEDS[fmt][1]).read_bytes()
    serial = _harvest(other_store, fmt, data, SERIAL)
    assert started == []  # one process asked for: no pool
    parallel = _harvest(store, fmt, data, PARALLEL)
    assert len(started) == 1 and started[0] is not None
    assert _seen(parallel) == _seen(serial)
    assert _courses(other_store) == _courses(store)
    assert _stored(other_store) == _stored(store)


def test_parallel_reharvest_with_changes_matches_serial(
    store: CatalogueStore, other_store: CatalogueStore, started: list[MappingPool | None]
) -> None:
    """Recalled (unchanged) and mapped items interleave in the pool's batches."""
    rows = list(csv.reader(io.StringIO((FIXTURES / FEEDS["csv"][1]).read_text(encoding="utf-8"))))

    def feed(rows: list[list[str]]) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue().encode()

    changed = [list(row) for row in rows[:-3]]  # three courses gone
    for i in (3, 40, 41, 500):
        changed[i][0] += " (new edition)"
    changed.insert(200, changed.pop(100))  # one moved
    for settings, target in ((SERIAL, store), (PARALLEL, other_store)):
        _harvest(target, "csv", feed(rows), settings)
    serial = _harvest(store, "csv", feed(changed), SERIAL)
    parallel = _harvest(other_store, "csv", feed(changed), PARALLEL)
    assert all(pool is not None for pool in started) and len(started) == 2
    assert _seen(parallel) == _seen(serial)
    assert _courses(other_store) == _courses(store)
    assert _stored(other_store) == _stored(store)


def _sequence(store: CatalogueStore) -> list[tuple[str, object]]:
    """The store's changes feed in order: (course id, status) by ascending seq."""
    changed = store.changes_since(0, limit=100_000)
    assert [c.seq for c in changed] == sorted(c.seq for c in changed)
    return [(c.id, c.status) for c in changed]


def _mixed_feed(rows: list[list[str]]) -> bytes:
    """The edX fixture spoiled in every way a record can fail: titles missing (rejected), an id
    repeated with other content (ERROR) and identically (WARNING), an id missing
    (unidentified, so nothing is withdrawn), a value the store cannot hold."""
    header, body = rows[0], [list(row) for row in rows[1:]]
    title, url = header.index("title"), header.index("course_url")
    for i in range(5, len(body), 97):
        body[i][title] = ""
    body[300][url] = body[10][url]  # other content under an earlier id
    body.insert(400, list(body[20]))  # an identical copy
    body[600][url] = ""
    body[700][title] = "A title with a NUL \x00 inside"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    return out.getvalue().encode()


def test_mixed_feed_with_invalid_items_matches_serial(
    store: CatalogueStore, other_store: CatalogueStore, started: list[MappingPool | None]
) -> None:
    """Rejected, repeated, unidentified and unstorable items spread over the pool's batches: the
    same report, courses and changes feed (order included) as one process, first load and a
    re-harvest that updates some courses."""
    rows = list(csv.reader(io.StringIO((FIXTURES / FEEDS["csv"][1]).read_text(encoding="utf-8"))))
    mixed = _mixed_feed(rows)
    edited = [list(row) for row in rows]
    url = rows[0].index("course_url")
    for i in range(len(edited) - 1, 3, -50):
        edited[i][0] += " (new edition)"
        edited.insert(i, [*edited[i][:url], edited[i][url] + "?new", *edited[i][url + 1 :]])
    serial = _harvest(store, "csv", mixed, SERIAL)
    parallel = _harvest(other_store, "csv", mixed, PARALLEL)
    assert serial.counts[Outcome.FAILED] > 10 and serial.counts[Outcome.ADDED] > 900
    assert _seen(parallel) == _seen(serial)
    assert _courses(other_store) == _courses(store)
    assert _stored(other_store) == _stored(store)
    assert _sequence(other_store) == _sequence(store)
    again = _mixed_feed(edited)
    serial = _harvest(store, "csv", again, SERIAL)
    parallel = _harvest(other_store, "csv", again, PARALLEL)
    assert serial.counts[Outcome.UPDATED] > 10 and serial.counts[Outcome.ADDED] > 10
    assert _seen(parallel) == _seen(serial)
    assert _courses(other_store) == _courses(store)
    assert _stored(other_store) == _stored(store)
    assert _sequence(other_store) == _sequence(store)
    assert len(started) == 2 and all(pool is not None for pool in started)


def test_a_dying_worker_fails_the_run_and_changes_nothing(
    store: CatalogueStore, started: list[MappingPool | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed mid-run (here: it exits while mapping one record, as the kernel's OOM
    killer would end it) fails the run with a clear error; the transaction the workers' run had
    open since they started, with batches written, is rolled back."""
    data = (FIXTURES / FEEDS["csv"][1]).read_bytes()
    first = _harvest(store, "csv", data, SERIAL)
    before = (_courses(store), _sequence(store))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    for row in rows[1:]:
        row[0] += " (new edition)"  # every course would be updated
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    real, fatal = MappingWork.process, rows[len(rows) * 2 // 3][rows[0].index("course_url")].encode()

    def dies(self: MappingWork, item: RawItem, *args: Any) -> Any:
        if fatal in item.content:
            os._exit(3)  # (in the forked worker: the harvesting process never maps here)
        return real(self, item, *args)

    monkeypatch.setattr(MappingWork, "process", dies)
    monkeypatch.setattr(pipeline, "BATCH", 50)  # batches written before the worker dies
    offered: list[int] = []
    offer = HarvestSession.offer

    def counted(self: HarvestSession, candidates: Any) -> None:
        offered.append(len(candidates))
        offer(self, candidates)

    monkeypatch.setattr(HarvestSession, "offer", counted)
    report = _harvest(store, "csv", out.getvalue().encode(), PARALLEL)
    assert started and started[0] is not None
    assert sum(offered) > 200  # written into the transaction, then rolled back
    assert report.status is RunStatus.FAILED
    assert report.error is not None and "mapping worker process died" in report.error
    assert (_courses(store), _sequence(store)) == before
    assert store.get_run(first.run_id or 0) is not None


def test_small_feeds_and_single_cores_stay_serial(
    store: CatalogueStore, started: list[MappingPool | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers start only once `parallel_from` items are to be mapped, and not beyond the cores
    the process may use (on one core they would only add their overhead)."""
    data = (FIXTURES / FEEDS["csv"][1]).read_bytes()
    small = _harvest(store, "csv", data, HarvestSettings(workers=2, parallel_from=5_000))
    assert started == [] and small.status is RunStatus.SUCCEEDED
    monkeypatch.setattr(pipeline, "default_workers", lambda: 1)
    edited = data.replace(b"Learn", b"Study")  # (mapped again, not recalled)
    one_core = _harvest(store, "csv", edited, PARALLEL)
    assert started == [None] and one_core.status is RunStatus.SUCCEEDED


def test_workers_are_on_by_default_for_large_feeds(
    store: CatalogueStore,
    started: list[MappingPool | None],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The default settings fork one worker per core once `parallel_from` items are to be
    mapped; `HARVEST_WORKERS=1` keeps a deployment's runs serial."""
    assert HarvestSettings().workers is None
    data = (FIXTURES / FEEDS["csv"][1]).read_bytes()
    report = _harvest(store, "csv", data, HarvestSettings(parallel_from=100))
    assert len(started) == 1 and started[0] is not None and report.status is RunStatus.SUCCEEDED
    forked: list[int] = []
    real = MappingPool.start

    def count(work: MappingWork, tracker: Any, when: Any, processes: int) -> MappingPool | None:
        forked.append(processes)
        return real(work, tracker, when, processes)

    monkeypatch.setattr(MappingPool, "start", count)
    _harvest(store, "csv", data.replace(b"Learn", b"Study"), HarvestSettings(parallel_from=100))
    assert forked == [default_workers()]
    for value, workers in (("1", 1), ("0", None)):
        config = web_settings.defaults() | {"HARVEST_WORKERS": value}
        web_settings.resolve(config, str(tmp_path))
        assert Services(config).harvest_settings.workers == workers
