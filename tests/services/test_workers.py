"""Mapping in worker processes changes nothing: a parallel run's outcome, report and stored
courses are those of a serial run, first load and re-harvest alike, in every format."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from course_catalogue.catalogue.runs import RunReport
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services import pipeline
from course_catalogue.services.pipeline import HarvestSettings, run_harvest
from course_catalogue.services.workers import MappingPool

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


def _harvest(store: CatalogueStore, fmt: str, data: bytes, settings: HarvestSettings) -> RunReport:
    mapping, _ = FEEDS[fmt]
    source = Source(id=f"workers-{fmt}", format=fmt, name=fmt, mapping=mapping)
    store.save_source(source)
    return run_harvest(store, source, data=data, settings=settings)


@pytest.mark.parametrize("fmt", sorted(FEEDS))
def test_parallel_runs_match_serial_runs(
    store: CatalogueStore, other_store: CatalogueStore, started: list[MappingPool | None], fmt: str
) -> None:
    data = (FIXTURES / FEEDS[fmt][1]).read_bytes()
    serial = _harvest(store, fmt, data, SERIAL)
    assert started == []  # one process asked for: no pool
    parallel = _harvest(other_store, fmt, data, PARALLEL)
    assert len(started) == 1 and started[0] is not None
    assert _seen(parallel) == _seen(serial)
    assert _courses(other_store) == _courses(store)


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
