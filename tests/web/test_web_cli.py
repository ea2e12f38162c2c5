"""The `catalogue` command line against a real SQLite store and tantivy index in tmp_path."""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from course_catalogue.catalogue.sources import is_synthetic
from course_catalogue.mappings.spec import load_spec
from course_catalogue.services.runtime import get_services
from course_catalogue.web.cli import main

EDX_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "csv_edx_courses.csv"
# 975 rows, one of them a second copy of another course's URL (the provider id): 974 courses
EDX_COURSES = 974
EDX_ARGS = ["--file", str(EDX_CSV), "--format", "csv", "--mapping", "edx-csv", "--source", "edx"]


def run(runner: FlaskCliRunner, *args: str, code: int = 0) -> Result:
    result = runner.invoke(main, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def harvest_json(runner: FlaskCliRunner, *extra: str, code: int = 0) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(run(runner, "harvest", *EDX_ARGS, *extra, "--json", code=code).output)
    return report


def test_init_creates_database_and_index_and_is_repeatable(app_factory: Callable[..., Flask]) -> None:
    app = app_factory()
    runner = app.test_cli_runner()
    first = run(runner, "init")
    assert "Database ready" in first.output
    assert Path(app.config["INDEX_DIR"]).is_dir()
    assert Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).is_file()
    run(runner, "init")
    assert get_services(app).store.list_sources() == []


def test_init_rebuilds_an_index_built_by_an_older_schema(app: Flask, runner: FlaskCliRunner) -> None:
    harvest_json(runner)
    root = Path(app.config["INDEX_DIR"])
    current = (root / "CURRENT").read_text(encoding="utf-8").strip()
    (root / current / "SCHEMA").write_text("0\n", encoding="utf-8")  # as if built by older code
    (root / "CURRENT.new").write_text(current + "\n", encoding="utf-8")
    (root / "CURRENT.new").replace(root / "CURRENT")  # a new inode: every process reopens the index
    assert app.test_client().get("/api/v1/search?q=data").status_code == 503
    result = run(runner, "init")
    assert f"Search index rebuilt for this version ({EDX_COURSES} courses)" in result.output
    assert app.test_client().get("/api/v1/search?q=data").get_json()["total"] > 0
    assert "rebuilt" not in run(runner, "init").output  # only once


def test_harvest_adds_then_reports_unchanged(app: Flask, runner: FlaskCliRunner) -> None:
    first = harvest_json(runner)
    assert first["status"] == "succeeded"
    assert first["counts"]["added"] == EDX_COURSES
    assert first["dry_run"] is False
    services = get_services(app)
    assert services.store.count_courses(source_id="edx") == EDX_COURSES
    assert services.backend.count() == EDX_COURSES
    second = harvest_json(runner)
    assert second["counts"]["unchanged"] == EDX_COURSES
    assert second["counts"]["added"] == second["counts"]["updated"] == second["counts"]["withdrawn"] == 0


def test_an_identical_feed_is_not_read_again_unless_forced(runner: FlaskCliRunner) -> None:
    first = harvest_json(runner)
    second = harvest_json(runner)
    notes = [i for i in second["issues"] if i["code"] == "feed-unchanged"]
    assert len(notes) == 1 and notes[0]["severity"] == "info"
    assert second["counts"]["unchanged"] == EDX_COURSES
    assert [i for i in second["issues"] if i["code"] != "feed-unchanged"] == first["issues"]
    forced = harvest_json(runner, "--force")
    assert not any(i["code"] == "feed-unchanged" for i in forced["issues"])
    assert forced["counts"] == second["counts"]


def test_harvest_text_output_summarises_counts_and_issues(runner: FlaskCliRunner) -> None:
    output = run(runner, "harvest", *EDX_ARGS).output
    assert "of source 'edx': succeeded" in output
    assert f"added {EDX_COURSES}" in output
    assert "Issues:" in output


def test_dry_run_changes_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    report = harvest_json(runner, "--dry-run")
    assert report["dry_run"] is True
    assert report["counts"]["added"] == EDX_COURSES
    services = get_services(app)
    assert services.store.count_courses() == 0
    assert services.backend.count() == 0
    assert "dry run" in run(runner, "harvest", *EDX_ARGS, "--dry-run").output


def test_failed_feed_exits_non_zero_and_changes_nothing(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"")
    result = runner.invoke(
        main, ["harvest", "--file", str(broken), "--mapping", "edx-csv", "--source", "edx", "--json"]
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    assert report["error"]
    assert get_services(app).store.count_courses() == 0


def test_harvest_needs_a_mapping_for_a_new_source(runner: FlaskCliRunner) -> None:
    result = run(runner, "harvest", "--file", str(EDX_CSV), code=2)
    assert "--mapping" in result.output


def test_reindex_rebuilds_the_index_from_the_store(app: Flask, runner: FlaskCliRunner) -> None:
    harvest_json(runner)
    services = get_services(app)
    services.backend.rebuild([])
    assert services.backend.count() == 0
    assert f"Indexed {EDX_COURSES} courses" in run(runner, "reindex").output
    assert services.backend.count() == EDX_COURSES


def test_remap_replays_stored_raw_records(runner: FlaskCliRunner) -> None:
    harvest_json(runner)
    report = json.loads(run(runner, "remap", "edx", "--json").output)
    assert report["status"] == "succeeded"
    assert report["counts"]["unchanged"] == EDX_COURSES


def test_load_samples_harvests_the_bundled_registry(app: Flask, runner: FlaskCliRunner) -> None:
    output = run(runner, "load-samples").output
    registry = tomllib.loads(Path(app.config["SAMPLE_FEEDS"]).read_text(encoding="utf-8"))["feeds"]
    services = get_services(app)
    sources = {source.id: source for source in services.store.list_sources()}
    assert set(sources) == {entry["id"] for entry in registry}
    for entry in registry:
        assert entry["format"] == load_spec(entry["mapping"]).format, f"{entry['id']}: format of its mapping"
        assert f"of source '{entry['id']}': succeeded" in output
        source = sources[entry["id"]]
        assert (source.mapping, source.name) == (entry["mapping"], entry["name"])
        if entry.get("synthetic"):  # made up, so no origin to cite: labelled instead
            assert is_synthetic(source) and "commit" not in entry and "synthetic" in entry["licence"]
        else:
            assert source.settings["provenance"]["commit"] == entry["commit"]
            assert not is_synthetic(source)
        assert services.store.count_courses(source_id=entry["id"]) >= 1
    assert services.store.count_courses(source_id="edx") == EDX_COURSES
    # several countries, formats and languages: the first run fills the place and level facets
    assert len({entry["format"] for entry in registry}) >= 4
    body = app.test_client().get("/api/v1/search?include_past=true&page_size=1").get_json()
    facets = {facet["name"]: {value["value"] for value in facet["values"]} for facet in body["facets"]}
    assert {"GBR", "FRA", "USA"} <= facets["country"]
    assert len(facets["city"]) >= 3 and len(facets["eqf"]) >= 3 and facets["region"]
    assert {"en", "fr", "es"} <= facets["language"]


def test_first_run_default_search_has_current_places_and_labels_synthetic_courses(
    app: Flask, runner: FlaskCliRunner
) -> None:
    """Without `include_past` (the default page), the first run still fills the place and level
    facets; each course of a synthetic source, and only those, says so in hits and records."""
    run(runner, "load-samples")
    client = app.test_client()
    body = client.get("/api/v1/search?page_size=100").get_json()
    facets = {facet["name"]: {value["value"] for value in facet["values"]} for facet in body["facets"]}
    assert len(facets["country"]) >= 8 and len(facets["city"]) >= 10 and len(facets["eqf"]) >= 4
    store = get_services(app).store
    synthetic_sources = {s.id for s in store.list_sources() if is_synthetic(s)}
    assert synthetic_sources == {"synthetic-europe"}
    found = client.get("/api/v1/search?country=POL&page_size=5").get_json()["hits"]
    assert found and all(hit["synthetic"] for hit in found)  # only the synthetic feed has Poland
    real = client.get(
        "/api/v1/search?q=calculus%20linear%20algebra&include_past=true&page_size=5"
    ).get_json()["hits"]
    assert real and not any(hit["synthetic"] for hit in real)
    for hit in found + real:
        record = client.get(hit["links"]["self"]).get_json()
        source_id = record["provenance"]["source"]["id"]
        assert record["synthetic"] is (source_id in synthetic_sources) is hit["synthetic"]


def test_sources_add_list_and_runs_show(runner: FlaskCliRunner) -> None:
    run(
        runner,
        "sources",
        "add",
        "uni-x",
        "--url",
        "https://uni-x.example/feed.csv",
        "--mapping",
        "edx-csv",
        "--schedule",
        "60",
    )
    report = harvest_json(runner)
    listing = run(runner, "sources").output
    assert "uni-x" in listing and "https://uni-x.example/feed.csv" in listing
    assert "edx" in listing and f"{EDX_COURSES} courses" in listing
    shown = run(runner, "runs", "show", str(report["run_id"])).output
    assert f"Run {report['run_id']} of source 'edx': succeeded" in shown
    assert "edx" in run(runner, "runs", "list").output


def test_unknown_run_is_a_clean_error(runner: FlaskCliRunner) -> None:
    result = run(runner, "runs", "show", "4242", code=1)
    assert "no run 4242" in result.output
    assert "Traceback" not in result.output


def test_end_to_end_cli_harvest_then_api_search(app: Flask, runner: FlaskCliRunner) -> None:
    harvest_json(runner)
    body = app.test_client().get("/api/v1/search?q=How+to+Learn+Online").get_json()
    assert body["total"] >= 1
    assert body["hits"][0]["title"] == "How to Learn Online"
    detail = app.test_client().get(body["hits"][0]["links"]["self"]).get_json()
    assert detail["provenance"]["source"]["id"] == "edx"


def test_load_samples_reports_a_failed_feed(app_factory: Callable[..., Flask], tmp_path: Path) -> None:
    registry = tmp_path / "feeds.toml"
    (tmp_path / "empty.csv").write_bytes(b"")
    feed = '[[feeds]]\nid = "broken"\nformat = "csv"\nmapping = "edx-csv"\nfile = "empty.csv"\n'
    registry.write_text(feed, encoding="utf-8")
    app = app_factory(SAMPLE_FEEDS=str(registry))
    runner = app.test_cli_runner()
    run(runner, "init")
    result = run(runner, "load-samples", "--json", code=1)
    (report,) = json.loads(result.stdout)
    assert (report["source_id"], report["status"]) == ("broken", "failed")
    assert "Failed: broken" in result.stderr


def test_url_harvest_is_guarded_against_private_addresses(app: Flask, runner: FlaskCliRunner) -> None:
    # the SSRF guard refuses before connecting, so this needs no network
    args = ["harvest", "--url", "http://127.0.0.1:9/feed.csv", "--mapping", "edx-csv", "--source", "local"]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    assert "loopback" in report["error"]
    assert get_services(app).store.get_source("local").url == "http://127.0.0.1:9/feed.csv"


def test_settings_reach_the_harvester(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(
        ALLOW_PRIVATE_URLS=True, MAX_FEED_BYTES=1234, WITHDRAW_GUARD_SHARE=0.25, WITHDRAW_GUARD_COUNT=7
    )
    given = get_services(app).harvest_settings
    assert (given.allow_private, given.max_feed_bytes) == (True, 1234)
    assert (given.max_withdraw_share, given.max_withdraw_count) == (0.25, 7)


def test_a_dry_run_registers_and_records_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    output = run(runner, "harvest", *EDX_ARGS, "--dry-run").output
    assert f"would add {EDX_COURSES}" in output and "nothing was changed or recorded" in output
    assert "Coverage:" in output and "n_enrolled" in output  # the ignored column is listed
    store = get_services(app).store
    assert store.list_sources() == [] and store.list_runs() == []


def test_a_feed_whose_every_record_is_rejected_fails_and_changes_nothing(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    harvest_json(runner)
    no_titles = tmp_path / "no-titles.csv"
    with EDX_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    title = rows[0].index("title")
    with no_titles.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([rows[0], *([*r[:title], "", *r[title + 1 :]] for r in rows[1:4])])
    result = runner.invoke(main, ["harvest", "--file", str(no_titles), "--source", "edx", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (
        report["status"] == "failed" and "every one of the feed's 3 record(s) was rejected" in report["error"]
    )
    assert report["counts"]["failed"] == 3
    assert get_services(app).store.count_courses() == EDX_COURSES  # nothing withdrawn


UDEMY_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "csv" / "udemy_courses_2017.csv"


def test_issue_counts_are_exact_where_the_kept_issues_are_capped(runner: FlaskCliRunner) -> None:
    # 3,678 rows: some warnings recur on more records than a run keeps of one kind (1,000), so the
    # kept list is a sample and only the summary's counts are true.
    args = ["harvest", "--file", str(UDEMY_CSV), "--mapping", "udemy-csv", "--source", "udemy", "--dry-run"]
    report = json.loads(run(runner, *args, "--json").output)
    summary = report["issue_summary"]
    assert summary["truncated"] is True
    capped = [kind for kind in summary["by_kind"] if kind["count"] > kind["kept"]]
    assert capped, summary["by_kind"]
    for kind in summary["by_kind"]:
        kept = sum(
            1
            for i in report["issues"]
            if (i["severity"], i.get("code"), i.get("field"))
            == (kind["severity"], kind["code"], kind["field"])
        )
        assert kept == kind["kept"]
    by_severity = {
        s: sum(k["count"] for k in summary["by_kind"] if k["severity"] == s) for s in summary["by_severity"]
    }
    assert by_severity == summary["by_severity"]
    text = run(runner, *args).output
    top = capped[0]
    assert f"{top['count']:7} x {top['severity']} {top['code']} ({top['field'] or '-'})" in text
    assert "a sample of each kind is kept; the counts above are exact" in text
