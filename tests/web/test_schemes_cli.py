"""`catalogue schemes create | change | list | decide | eligibility`: the scheme service from the CLI
(the operator), evaluation run here unless --queue."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.model import course_id
from course_catalogue.services.runtime import get_services
from course_catalogue.web.cli import main
from tests.registries import SOURCE, publish
from tests.sinks import EligibilitySink


def _rules(tmp_path: Path, low: int) -> str:
    path = tmp_path / f"rules-{low}.json"
    path.write_text(json.dumps([{"id": "eqf", "field": "eqf_level", "op": "between", "value": [low, 8]}]))
    return str(path)


def test_the_operator_defines_changes_and_decides_from_the_cli(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    store = get_services(app).store
    publish(
        store, {f"c{i}": {"eqf_level": i} for i in range(1, 9)}, [EligibilitySink(EligibilityStore(store))]
    )
    schemes = get_services(app).schemes

    made = runner.invoke(
        main, ["schemes", "create", "fund", "--name", "Fund", "--rules", _rules(tmp_path, 4)]
    )
    assert made.exit_code == 0, made.output
    assert "Scheme 'fund' defined." in made.output and "succeeded" in made.output
    assert len(schemes.courses("fund", eligible=True)) == 5
    listed = runner.invoke(main, ["schemes", "list"])
    assert listed.exit_code == 0 and listed.output.startswith("fund ") and "Fund" in listed.output

    queued = runner.invoke(main, ["schemes", "change", "fund", "--rules", _rules(tmp_path, 7), "--queue"])
    assert queued.exit_code == 0 and "queued for a worker" in queued.output
    assert len(schemes.courses("fund", eligible=True)) == 5  # the old evaluation until the job runs
    job = schemes.latest_job("fund")
    assert job is not None and runner.invoke(main, ["schemes", "run", str(job.id)]).exit_code == 0
    assert len(schemes.courses("fund", eligible=True)) == 2

    low = course_id(SOURCE, "c1")
    decided = runner.invoke(main, ["schemes", "decide", "fund", low, "--eligible", "--note", "board"])
    assert decided.exit_code == 0 and f"{low}: eligible (manual decision)" in decided.output
    standing = runner.invoke(main, ["schemes", "eligibility", low])
    assert standing.exit_code == 0 and "fund" in standing.output and "manual decision" in standing.output
    cleared = runner.invoke(main, ["schemes", "decide", "fund", low, "--clear"])
    assert cleared.exit_code == 0 and f"{low}: not eligible" in cleared.output


def test_bad_cli_input_is_a_usage_error_and_unknown_ids_an_error(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "a", "field": "nope", "op": "present"}]))
    result = runner.invoke(main, ["schemes", "create", "fund", "--name", "F", "--rules", str(bad)])
    assert result.exit_code == 2 and "not a course field" in result.output
    result = runner.invoke(
        main, ["schemes", "create", "fund", "--name", "F", "--rules", str(tmp_path / "none")]
    )
    assert result.exit_code == 2 and "cannot read the rules" in result.output
    result = runner.invoke(main, ["schemes", "decide", "nope", "c1", "--eligible"])
    assert result.exit_code == 1 and "no scheme 'nope'" in result.output
    result = runner.invoke(main, ["schemes", "decide", "nope", "c1"])
    assert result.exit_code == 2 and "--clear" in result.output
    assert get_services(app).schemes.schemes() == []
