"""Duration normalisers: ISO 8601 and text durations, effort x length -> notional hours."""

from __future__ import annotations

from decimal import Decimal

import pytest

from course_catalogue.catalogue.model import Workload
from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.durations import duration, effort_hours, iso_hours


@pytest.mark.parametrize(
    ("published", "iso"),
    [
        ("P7W", "P7W"),
        ("PT40H", "PT40H"),
        ("P3Y6M", "P3Y6M"),
        ("p7w", "P7W"),
        ("7 Weeks", "P7W"),
        ("1 Weeks", "P1W"),
        ("3 months", "P3M"),
        ("2 days", "P2D"),
        ("40 hours", "PT40H"),
        ("1.5 hours", "PT1.5H"),
        ("90 minutes", "PT90M"),
        ("1 year 6 months", "P1Y6M"),
        ("2 weeks 3 days", "P17D"),
        ("3 mois", "P3M"),
        ("6 Wochen", "P6W"),
        ("10 semanas", "P10W"),
    ],
)
def test_duration(published: str, iso: str) -> None:
    result = duration(published)
    assert (result.value, result.issues) == (iso, ())


def test_duration_range_is_its_midpoint_with_a_note() -> None:
    result = duration("2-4 weeks")
    assert result.value == "P3W"
    assert result.issues[0].severity is Severity.INFO


@pytest.mark.parametrize("published", ["3 hours per week", "soon", "P", "PT", "P1X", "weeks"])
def test_not_a_duration(published: str) -> None:
    result = duration(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING


@pytest.mark.parametrize(
    ("effort", "length", "total"),
    [
        ("2–3 hours per week", "7 Weeks", "17.5"),  # en dash, as edX writes it
        ("2–3 hours per week", "2 Weeks", "5"),
        ("2-3 hours per week", "P7W", "17.5"),
        ("4 hrs/week", "10 weeks", "40"),
        ("5 hours a week", "3 months", "65.22"),
        ("2 hours per day", "2 weeks", "28"),
        ("3 heures par semaine", "6 semaines", "18"),
        ("40 hours", None, "40"),
    ],
)
def test_effort_times_length(effort: str, length: str | None, total: str) -> None:
    result = effort_hours((effort, length))
    assert result.value == Workload(hours=Decimal(total))
    assert result.issues == ()


@pytest.mark.parametrize(
    ("effort", "length"), [("3 hours per week", None), ("3 hours per week", "soon"), ("a lot", "7 Weeks")]
)
def test_effort_without_usable_length_is_warned(effort: str, length: str | None) -> None:
    result = effort_hours((effort, length))
    assert result.value is None and result.issues[0].severity is Severity.WARNING


def test_no_effort_is_no_workload() -> None:
    assert effort_hours((None, "7 Weeks")).value is None


@pytest.mark.parametrize(("iso", "hours"), [("PT40H", "40"), ("PT90M", "1.5"), ("P2D", None), ("40", None)])
def test_iso_hours(iso: str, hours: str | None) -> None:
    assert iso_hours(iso) == (Decimal(hours) if hours else None)
