"""ISCED-F normaliser: codes, IRIs and labels (subject names are mapped in specs, not here)."""

from __future__ import annotations

import pytest

from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.fields import isced_f


@pytest.mark.parametrize(
    ("published", "code"),
    [
        ("0613", "0613"),
        ("061", "061"),
        ("06", "06"),
        ("0613 Software and applications development and analysis", "0613"),
        ("http://data.europa.eu/snb/isced-f/0613", "0613"),
        ("Software and applications development and analysis", "0613"),
        ("mathematics", "0541"),
        ("Arts", "021"),
    ],
)
def test_isced_f(published: str, code: str) -> None:
    assert isced_f(published) == (code, ())


@pytest.mark.parametrize("published", ["0000000", "0617", "Computer Science", "613", ""])
def test_unknown_isced_is_warned(published: str) -> None:
    result = isced_f(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING
