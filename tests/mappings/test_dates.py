"""Date normaliser: ISO, LHEO YYYYMMDD, numeric with day_first, written dates; no silent guesses."""

from __future__ import annotations

from datetime import date

import pytest

from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.dates import date_value

MARCH_3 = date(2025, 3, 3)


@pytest.mark.parametrize(
    ("published", "kwargs", "expected"),
    [
        ("2025-03-03", {}, MARCH_3),
        ("2025-03-03T00:00:00Z", {}, MARCH_3),
        ("2025-03-03T23:30:00+02:00", {}, MARCH_3),
        ("20250303", {}, MARCH_3),
        ("3 March 2025", {}, MARCH_3),
        ("March 3, 2025", {}, MARCH_3),
        ("Monday, 3 March 2025", {}, MARCH_3),
        ("3 mars 2025", {}, MARCH_3),
        ("1er mars 2025", {}, date(2025, 3, 1)),
        ("3. März 2025", {}, MARCH_3),
        ("3 de marzo de 2025", {}, MARCH_3),
        ("03/03/2025", {}, MARCH_3),
        ("13/03/2025", {}, date(2025, 3, 13)),
        ("03/13/2025", {}, date(2025, 3, 13)),
        ("03/04/2025", {"day_first": True}, date(2025, 4, 3)),
        ("03/04/2025", {"day_first": False}, date(2025, 3, 4)),
        ("03.04.2025", {"day_first": True}, date(2025, 4, 3)),
        ("2025/03/03", {}, MARCH_3),
    ],
)
def test_date(published: str, kwargs: dict[str, bool], expected: date) -> None:
    assert date_value(published, **kwargs) == (expected, ())


@pytest.mark.parametrize(
    "published", ["03/04/2025", "soon", "2025-02-30", "31/02/2025", "20251340", "3 Foo 2025", ""]
)
def test_ambiguous_or_bad_dates_are_warned(published: str) -> None:
    result = date_value(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING


def test_ambiguous_date_names_the_fix() -> None:
    assert "day_first" in date_value("03/04/2025").issues[0].message
