"""The benchmark harness still runs end to end at a tiny size (no timing is asserted, ever)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from lxml import etree

from bench import harvest_bench, hybrid_parts, index_bench, search_bench
from bench.generate import (
    CSV_COLUMNS,
    Generator,
    courses,
    feed_records,
    stored_courses,
    write_csv,
    write_feed,
)
from course_catalogue.catalogue.validate import validate

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
    assert saved["results"].keys() == report["results"].keys() == {*search_bench.QUERY_TYPES, "mix"}
    mix = saved["results"].pop("mix")["embedded"]
    assert set(mix["wall_ms"]) == set(mix["cpu_ms"]) == {"p50", "p95", "p99"}
    for row in saved["results"].values():
        for engine in ("embedded", "fts5"):
            assert set(row[engine]["wall_ms"]) == {"p50", "p95", "p99"}
            assert row[engine]["queries"] == 3
    assert saved["machine"]["nproc"] >= 1


def test_search_bench_without_baseline_runs_the_browse_types_alone(tmp_path: Path) -> None:
    types = list(search_bench.BROWSE_TYPES)
    argv = ["--docs", str(SIZE), "--queries", "3", "--out", str(tmp_path), "--no-baseline"]
    report = search_bench.main([*argv, *(arg for name in types for arg in ("--type", name))])
    assert not (tmp_path / f"search-corpus-{SIZE}-1" / "fts.db").exists()
    assert report["results"].keys() == {*types, "mix"}
    for name in types:
        assert report["results"][name]["embedded"]["queries"] == 3
        assert report["results"][name]["fts5"]["queries"] == 0


def test_hybrid_parts_times_each_part_on_a_cached_index(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        hybrid_parts.main(["--docs", str(SIZE), "--queries", "2", "--out", str(tmp_path)])
    search_bench.main(["--docs", str(SIZE), "--queries", "1", "--out", str(tmp_path), "--no-baseline"])
    report = hybrid_parts.main(["--docs", str(SIZE), "--queries", "2", "--out", str(tmp_path)])
    assert report["indexed"] > 0 and report["neighbours_probed"] <= report["indexed"]
    assert "probe: the neighbours by id hash under the filters" in report["cpu_ms"]
    assert "probe of those the table left, under the filters" in report["cpu_ms"]
    assert report["filter_table"]["built_now"]  # from the index, the first time
    assert 0 < report["neighbours_left_by_the_table"]["p50"] <= report["neighbours_probed"]
    assert all(set(times) == {"p50", "mean"} for times in report["cpu_ms"].values())


@pytest.mark.parametrize("fmt", ["xcri-cap", "qdr-loq", "elm-rdf"])
def test_xml_and_rdf_feeds_are_well_formed(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"feed.{fmt}"
    written = write_feed(fmt, path, SIZE, seed=3)
    assert written == sum(1 for _ in feed_records(SIZE, seed=3))
    again = tmp_path / "again"
    write_feed(fmt, again, SIZE, seed=3)
    assert again.read_bytes() == path.read_bytes()  # seeded: the same bytes
    if fmt == "elm-rdf":
        triples = list(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE))
        lo = "http://data.europa.eu/snb/model/elm/LearningOpportunity"
        assert sum(1 for t in triples if t.object.value == lo) == written
    else:
        root = etree.parse(str(path)).getroot()
        record = "presentation" if fmt == "xcri-cap" else "learningOpportunity"
        assert sum(1 for e in root.iter() if etree.QName(e).localname == record) == written


def test_harvest_bench_reports_each_format_and_pass(tmp_path: Path) -> None:
    report = harvest_bench.main(["--docs", str(SIZE), "--repeats", "1", "--out", str(tmp_path)])
    assert set(report["results"]) == {"csv", "xcri-cap", "qdr-loq", "elm-rdf", "elm-jsonld"}
    for fmt, sizes in report["results"].items():
        size = sizes[str(SIZE)]
        assert size["records"] > 0 and size["ceiling"]["records_per_cpu_s"], fmt
        passes = {"first load", "unchanged re-harvest", "unchanged, item by item", "one-record change"}
        assert set(size["passes"]) == passes
        assert size["passes"]["unchanged re-harvest"]["counts"].get("updated", 0) == 0, fmt
        item_by_item = size["passes"]["unchanged, item by item"]["counts"]
        assert item_by_item == size["passes"]["unchanged re-harvest"]["counts"], fmt
        assert size["passes"]["one-record change"]["counts"].get("updated", 0) >= 1, fmt
        first = size["passes"]["first load"]["counts"]
        assert first.get("added", 0) + first.get("failed", 0) == size["records"], fmt
        assert size["passes"]["first load"]["peak_mb"] > 0
    assert (tmp_path / f"harvest-{SIZE}.json").exists()


def test_harvest_bench_without_ceiling_counts_the_records_of_the_first_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_SKIP_CHANGE", "1")  # main sets it for its children; undone after
    argv = ["--formats", "xcri-cap", "--docs", str(SIZE), "--repeats", "1", "--out", str(tmp_path)]
    report = harvest_bench.main([*argv, "--skip-ceiling", "--skip-change"])
    size = report["results"]["xcri-cap"][str(SIZE)]
    assert size["ceiling"] is None
    assert set(size["passes"]) == {"first load", "unchanged re-harvest", "unchanged, item by item"}
    root = etree.parse(str(tmp_path / f"feed-{SIZE}-1.xcri.xml")).getroot()
    assert size["records"] == sum(1 for e in root.iter() if etree.QName(e).localname == "presentation")
    assert size["passes"]["unchanged re-harvest"]["counts"].get("unchanged", 0) > 0


def test_index_bench_reports_reindex_and_parts(tmp_path: Path) -> None:
    report = index_bench.main(["--docs", str(SIZE), "--out", str(tmp_path)])
    result = report["results"][str(SIZE)]
    assert result["documents"] > 0
    for part in ("full_reindex", "read_store", "to_document", "to_tantivy_records", "engine_rebuild"):
        assert result[part]["docs_per_s"], part
    assert result["parts_docs"] == result["documents"]  # every course went through the parts
    assert result["full_reindex"]["peak_mb"] > 0
    assert json.loads((tmp_path / f"index-{SIZE}.json").read_text())["results"]
