"""Visibility follows the words: only an end date in the past hides a course; a course that has
started (or states a start and no end, such as a self-paced one) stays visible and says so."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from course_catalogue.web.cli import main
from course_catalogue.web.labels import course_timing

SPEC = """
format = "csv"
default_language = "en"
[id]
column = "id"
[fields.title]
column = "title"
[fields."provider.name"]
column = "provider"
[fields.start_date]
column = "start"
[fields.end_date]
column = "end"
"""


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, None),
        ("2025-01-01", None, "started"),
        ("2025-06-01", None, "started"),  # starts today
        ("2025-06-02", None, "upcoming"),
        ("2025-01-01", "2025-05-31", "ended"),
        ("2025-01-01", "2025-06-01", "started"),  # ends today: still current
        (None, "2025-05-31", "ended"),
        (date(2025, 1, 1), date(2025, 12, 1), "started"),
        ("not a date", None, None),
    ],
)
def test_course_timing(start: str | date | None, end: str | date | None, expected: str | None) -> None:
    assert course_timing(start, end, today=date(2025, 6, 1)) == expected


def test_started_course_without_end_stays_visible_and_says_so(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    today = date.today()
    past, future = today - timedelta(days=400), today + timedelta(days=30)
    (tmp_path / "spec.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "feed.csv").write_text(
        "id,title,provider,start,end\n"
        f"a,Selfpaced kestrel course,Uni A,{past},\n"
        f"b,Finished kestrel course,Uni A,{past},{past + timedelta(days=60)}\n"
        f"c,Upcoming kestrel course,Uni A,{future},\n",
        encoding="utf-8",
    )
    args = ["harvest", "--file", str(tmp_path / "feed.csv"), "--format", "csv"]
    result = runner.invoke(main, [*args, "--mapping", str(tmp_path / "spec.toml"), "--source", "t"])
    assert result.exit_code == 0, result.output
    client = app.test_client()

    hits = client.get("/api/v1/search?q=kestrel").get_json()["hits"]
    assert sorted(h["title"] for h in hits) == ["Selfpaced kestrel course", "Upcoming kestrel course"]
    everything = client.get("/api/v1/search?q=kestrel&include_past=true").get_json()["hits"]
    assert len(everything) == 3

    page = client.get("/?q=kestrel&include_past=true").get_data(as_text=True)
    assert page.count('class="badge badge-muted">started<') == 1
    assert page.count('class="badge">ended<') == 1
    ids = {h["title"]: h["id"] for h in everything}
    started = client.get(f"/courses/{ids['Selfpaced kestrel course']}").get_data(as_text=True)
    assert "This course started on" in started and "states no end date" in started
    ended = client.get(f"/courses/{ids['Finished kestrel course']}").get_data(as_text=True)
    assert "This course ended on" in ended
    upcoming = client.get(f"/courses/{ids['Upcoming kestrel course']}").get_data(as_text=True)
    assert "This course started" not in upcoming and "This course ended" not in upcoming
