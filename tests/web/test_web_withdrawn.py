"""A course that leaves its feed: hidden from search, still readable as a withdrawn tombstone."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from course_catalogue.web.cli import main

EDX_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "csv_edx_courses.csv"
EDX_TITLE = "How to Learn Online"


def _without_title(title: str, target: Path) -> Path:
    """The edX CSV minus the row with `title`, written with the csv module (cells span lines)."""
    rows = list(csv.reader(io.StringIO(EDX_CSV.read_text(encoding="utf-8"), newline="")))
    kept = [row for row in rows if row[0] != title]
    assert len(kept) == len(rows) - 1
    out = io.StringIO()
    csv.writer(out).writerows(kept)
    target.write_text(out.getvalue(), encoding="utf-8")
    return target


def _harvest(runner: FlaskCliRunner, feed: Path) -> None:
    args = ["harvest", "--file", str(feed), "--mapping", "edx-csv", "--source", "edx"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output


def test_withdrawn_course_leaves_search_but_keeps_its_page(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    _harvest(runner, EDX_CSV)
    client = app.test_client()
    course_id = client.get("/api/v1/search?q=How+to+Learn+Online").get_json()["hits"][0]["id"]

    _harvest(runner, _without_title(EDX_TITLE, tmp_path / "smaller.csv"))

    titles = [h["title"] for h in client.get("/api/v1/search?q=How+to+Learn+Online").get_json()["hits"]]
    assert EDX_TITLE not in titles
    body = client.get(f"/api/v1/courses/{course_id}").get_json()
    assert body["status"] == "withdrawn"
    assert body["provenance"]["withdrawn_at"]
    page = client.get(f"/courses/{course_id}").get_data(as_text=True)
    assert "no longer in its provider&#39;s feed" in page or "no longer in its provider's feed" in page


def test_raw_payload_is_served_as_harvested(app: Flask, runner: FlaskCliRunner) -> None:
    _harvest(runner, EDX_CSV)
    client = app.test_client()
    hit = client.get("/api/v1/search?q=How+to+Learn+Online").get_json()["hits"][0]
    detail = client.get(hit["links"]["self"]).get_json()
    response = client.get(detail["links"]["raw"])
    assert response.status_code == 200
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert EDX_TITLE.encode() in response.data
    assert client.get("/api/v1/courses/nope/raw").status_code == 404
