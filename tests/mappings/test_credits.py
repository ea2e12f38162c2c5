"""ECTS normalisers: stated ECTS, hours-based estimates and other credit schemes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from course_catalogue.catalogue.model import Workload
from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.credits import ects, estimate_ects, hours


@pytest.mark.parametrize(
    ("published", "value"),
    [
        ("5", "5"),
        ("7,5 ECTS", "7.5"),
        ("5 credits (ECTS)", "5"),
        ("7.5 ects", "7.5"),
        ("6 EC", "6"),
        ("30", "30"),
    ],
)
def test_stated_ects(published: str, value: str) -> None:
    result = ects(published)
    assert result.value == Workload(ects=Decimal(value), ects_basis="stated")
    assert result.issues == ()


@pytest.mark.parametrize(
    ("published", "kwargs", "value", "hours_value", "rate"),
    [
        ("40 hours", {}, "1.6", "40", "25"),
        ("PT50H", {}, "2", "50", "25"),
        ("55 h", {"hours_per_ects": 27.5}, "2", "55", "27.5"),
        ("60 heures", {"hours_per_ects": 30}, "2", "60", "30"),
    ],
)
def test_ects_estimated_from_hours(
    published: str, kwargs: dict[str, object], value: str, hours_value: str, rate: str
) -> None:
    result = ects(published, **kwargs)  # type: ignore[arg-type]
    assert result.value == Workload(
        ects=Decimal(value),
        hours=Decimal(hours_value),
        ects_basis="estimated-from-hours",
        hours_per_ects=Decimal(rate),
    )
    (note,) = result.issues
    assert note.severity is Severity.INFO and note.code == "ects-estimated"
    assert f"{hours_value} notional hours at {rate} h/ECTS" in note.message


@pytest.mark.parametrize(
    ("published", "kwargs", "value", "basis"),
    [
        ("20 SCQF credits", {}, "10", "converted:SCQF"),
        ("15 SCQF credit points", {}, "7.5", "converted:SCQF"),
        ("15 CATS", {}, "7.5", "converted:CATS"),
        ("30 credits", {"scheme": "CATS"}, "15", "converted:CATS"),
        ("40", {"scheme": "SCQF"}, "20", "converted:SCQF"),
        ("3 semester credit hours", {"ects_per_us_credit": 2}, "6", "converted:US"),
    ],
)
def test_other_credit_schemes_are_converted_with_their_basis(
    published: str, kwargs: dict[str, object], value: str, basis: str
) -> None:
    result = ects(published, **kwargs)  # type: ignore[arg-type]
    assert result.value == Workload(ects=Decimal(value), ects_basis=basis)
    assert [i.severity for i in result.issues] == [Severity.INFO]


@pytest.mark.parametrize(
    "published",
    [
        "3 semester credit hours",
        "2 ECVET points",
        "5-10 ECTS",
        "many",
        "",
        "ECTS",
        "S91ZbAwnQrf",
        "ABC123",
        "v2x",
    ],
)
def test_unconvertible_credits_are_warned(published: str) -> None:
    result = ects(published)
    assert result.value is None
    assert [i.severity for i in result.issues] == [Severity.WARNING]


@pytest.mark.parametrize(("published", "value"), [("5ECTS", "5"), ("7,5ects", "7.5"), (" 30 ", "30")])
def test_stated_ects_with_glued_unit_or_padding(published: str, value: str) -> None:
    assert ects(published).value == Workload(ects=Decimal(value), ects_basis="stated")


@pytest.mark.parametrize(
    ("published", "value"),
    [("40", "40"), ("40 hours", "40"), ("12,5 h", "12.5"), ("PT40H", "40"), ("PT90M", "1.5")],
)
def test_hours(published: str, value: str) -> None:
    assert hours(published).value == Workload(hours=Decimal(value))


@pytest.mark.parametrize("published", ["5 days", "P2W", "10-20 hours", "lots"])
def test_hours_refuses_what_is_not_hours(published: str) -> None:
    result = hours(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING


def test_estimate_ects_only_fills_a_missing_figure() -> None:
    estimated = estimate_ects(Workload(hours=Decimal("17.5")))
    assert estimated.value == Workload(
        ects=Decimal("0.7"),
        hours=Decimal("17.5"),
        ects_basis="estimated-from-hours",
        hours_per_ects=Decimal(25),
    )
    assert estimated.issues[0].message == "ECTS estimated from 17.5 notional hours at 25 h/ECTS"
    stated = Workload(ects=Decimal(5), hours=Decimal(100), ects_basis="stated")
    assert estimate_ects(stated).value == stated


@pytest.mark.parametrize("published", ["-5", "−5 ECTS", "-7,5 ects", "ECTS: -2"])
def test_negative_credits_are_reported_not_unsigned(published: str) -> None:
    result = ects(published)
    assert result.value is None and [i.code for i in result.issues] == ["invalid-credits"]
