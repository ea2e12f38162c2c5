"""The benchmark harness still runs end to end at a tiny size (no timing is asserted, ever)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from bench import harvest_bench, search_bench
from bench.generate import CSV_COLUMNS, Generator, courses, stored_courses, write_csv
from catalogue.validate import validate

SIZE = 200


def test_generator_is_reproducible_and_valid() -> None:
    first = list(Generator(SIZE, seed=3).records())
    again = list(Generator(SIZE, seed=3).records())
    assert first == again and len(first) == SIZE
    assert any(record.bad for record in Generator(2000, seed=3).records())
    made = list(courses(SIZE, seed=3))
    assert made and all(not any(i.severity == "error" for i in validate(c)) for c in made)
    assert len(list(stored_courses(SIZE, seed=3, hashed=False))) == len(made)


def test_csv_has_the_declared_columns() -> None:
    out = io.StringIO()
    rows = write_csv(out, SIZE, seed=3)
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(parsed) == rows and tuple(parsed[0]) == CSV_COLUMNS


def test_search_bench_reports_every_query_type(tmp_path: Path) -> None:
    report = search_bench.main(["--docs", str(SIZE), "--queries", "3", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / f"search-{SIZE}.json").read_text())
    assert saved["results"].keys() == report["results"].keys() == search_bench.QUERY_TYPES.keys()
    for row in saved["results"].values():
        for engine in ("embedded", "fts5"):
            assert set(row[engine]["wall_ms"]) == {"p50", "p95", "p99"}
            assert row[engine]["queries"] == 3
    assert saved["machine"]["nproc"] >= 1


def test_harvest_bench_reports_each_pass(tmp_path: Path) -> None:
    report = harvest_bench.main(["--docs", str(SIZE), "--repeats", "1", "--out", str(tmp_path)])
    size = report["sizes"][str(SIZE)]
    assert size["rows"] > 0 and size["csv_ceiling"]["records_per_cpu_s"]
    assert set(size["passes"]) == {"first load", "unchanged re-harvest", "dry run"}
    first = size["passes"]["first load"]["counts"]
    assert first.get("added", 0) + first.get("failed", 0) == size["rows"]
    assert (tmp_path / f"harvest-{SIZE}.json").exists()
