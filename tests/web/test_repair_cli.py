"""`catalogue repair`: a dry run lists what it would do (stuck runs, pending index updates, drift);
a real one does it and says what it fixed (issue 22 class 4)."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.services.pipeline import run_harvest
from course_catalogue.services.runtime import get_services
from course_catalogue.web.cli import main
from tests.reliability.crashfeeds import write_feed


def _repair(runner: FlaskCliRunner, *args: str) -> dict[str, object]:
    result = runner.invoke(main, ["repair", "--json", *args])
    assert result.exit_code == 0, result.output
    found: dict[str, object] = json.loads(result.output)
    return found


def test_repair_lists_then_fixes_stuck_runs_and_pending_index_updates(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    services = get_services(app)
    store = services.store
    source = Source("gen", "csv", mapping="edx-csv")
    store.save_source(source)
    feed = write_feed(tmp_path / "feed.csv", 25, "v0")
    run_harvest(store, source, data=feed.read_bytes())  # committed, never delivered (no sinks)
    stuck = store.start_run("gen")  # a run its dead process left RUNNING (nobody holds the lock)

    dry = _repair(runner, "--dry-run")
    assert (
        dry["stale_runs"] == [stuck.run_id]
        and dry["reaped_runs"] == []
        and store.get_run(stuck.run_id).status is RunStatus.RUNNING
    )  # type: ignore[arg-type]
    outbox = dry["outbox"]
    assert isinstance(outbox, dict) and outbox["pending_courses"] == 25 and outbox["delivered"] == 0
    assert dry["missing"] == 25 and services.backend.count() == 0  # a dry run changes nothing

    text = runner.invoke(main, ["repair", "--dry-run"]).output
    assert (
        f"Would mark interrupted run(s) {stuck.run_id} FAILED" in text
        and "Would deliver 25 pending index update(s)" in text
    )

    done = _repair(runner)
    assert done["reaped_runs"] == [stuck.run_id] and store.get_run(stuck.run_id).status is RunStatus.FAILED  # type: ignore[arg-type]
    assert done["outbox"]["delivered"] == 25 and done["drift"] == 0  # type: ignore[index]
    assert services.backend.count() == 25
    again = _repair(runner)
    assert again["reaped_runs"] == [] and again["outbox"]["delivered"] == 0 and again["drift"] == 0  # type: ignore[index]
