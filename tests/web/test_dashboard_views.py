"""The dashboard's words and charts: elements in words, issue grouping, per-run quality, SVG charts."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from course_catalogue.catalogue.quality import quality
from course_catalogue.web.charts import Series, nice_ceiling, stacked_bars
from course_catalogue.web.dashboard_views import (
    element_label,
    issues_by_element,
    pointer_text,
    run_history,
    run_quality,
    value_text,
)
from tests.web.publishing import SOURCE, World, world

__all__ = ["world"]


def test_fields_read_as_standard_elements_in_words() -> None:
    assert element_label("provider.country") == "Country of the provider"
    assert element_label("workload.ects") == "Notional workload (ECTS)"  # its labelled prefix
    assert element_label(None) == "The record as a whole"
    assert element_label("brand_new.thing") == "brand new: thing"  # unknown: no code punctuation


def test_issues_are_grouped_by_element_most_errors_first() -> None:
    rows = [
        {"field": "workload", "error": 0, "warning": 3, "info": 1},
        {"field": "workload.ects", "error": 1, "warning": 0, "info": 0},
        {"field": "(record)", "error": 2, "warning": 0, "info": 0},
        {"field": "eqf_level", "error": 0, "warning": 5, "info": 0},
    ]
    grouped = issues_by_element(rows)
    assert [(g.label, g.error, g.warning, g.info) for g in grouped] == [
        ("The record as a whole", 2, 0, 0),
        ("Notional workload (ECTS)", 1, 3, 1),
        ("EQF level", 0, 5, 0),
    ]


def test_values_and_pointers_read_well(app: Flask) -> None:
    assert value_text({"en": "Intro", "fr": "Intro FR"}) == "Intro [en] / Intro FR [fr]"
    assert value_text(None) == "–" and value_text(["a", "b"]) == "a; b"
    long = value_text("word " * 100)
    assert len(long) <= 160 and long.endswith("…")
    with app.test_request_context("/?lang=de"):
        app.preprocess_request()
        assert pointer_text("/catalog/course[2] (line 45)") == "/catalog/course[2] (Zeile 45)"


def test_nice_axis_maxima() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 12, 99, 101, 4500)] == [1, 1, 5, 10, 20, 100, 200, 5000]
    assert nice_ceiling(0.3) == 0.5


def test_stacked_bars_draw_one_rect_per_nonzero_value_with_a_title() -> None:
    svg = stacked_bars(
        ["1", "2"],
        [Series("added", "chart-added", [3, 0]), Series("<b>x</b>", "chart-x", [1, 2])],
        title="Records per run",
        description="by run",
    )
    assert svg.count("<rect") == 3 and 'role="img"' in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg and "<b>" not in svg
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"', svg)]
    assert max(heights) > 0
    with pytest.raises(ValueError):
        stacked_bars(["1"], [Series("a", "c", [1, 2])], title="t", description="d")


def test_a_runs_quality_score_matches_the_stored_courses(world: World) -> None:
    with world.app.test_request_context("/"):
        (point,) = run_history(SOURCE)
    stored = quality(world.store.iter_courses(source_id=SOURCE))
    assert point.quality == stored.percent is not None
    report = world.store.list_runs(SOURCE, limit=1)[0]
    assert run_quality(report) == stored.percent
