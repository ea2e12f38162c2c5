"""Modes of participation and learning schedules -> vocabulary codes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from catalogue.runs import Severity
from catalogue.vocabularies import MODES, SCHEDULES
from mappings.transforms.participation import mode, schedule
from mappings.transforms.result import Result


@pytest.mark.parametrize(
    ("published", "code"),
    [
        ("online", "online"),
        ("Online", "online"),
        ("e-learning", "online"),
        ("distance", "online"),
        ("à distance", "online"),
        ("on-site", "onsite"),
        ("presential", "onsite"),
        ("Presential", "onsite"),
        ("face-to-face", "onsite"),
        ("in person", "onsite"),
        ("présentiel", "onsite"),
        ("blended", "blended"),
        ("hybrid", "blended"),
        ("Work-based", "workbased"),
        (MODES["online"].uri or "", "online"),
        (MODES["onsite"].uri or "", "onsite"),
        (MODES["blended"].uri or "", "blended"),
    ],
)
def test_mode(published: str, code: str) -> None:
    assert mode(published) == (code, ())


@pytest.mark.parametrize(
    ("published", "code"),
    [
        ("Self-paced on your time", "self-paced"),
        ("Instructor-led on a course schedule", "scheduled"),
        ("self paced", "self-paced"),
        ("Full time", "full-time"),
        ("full-time", "full-time"),
        ("part time", "part-time"),
        ("Teilzeit", "part-time"),
        ("Part time (light)", "part-time-light"),
        (SCHEDULES["full-time"].uri or "", "full-time"),
    ],
)
def test_schedule(published: str, code: str) -> None:
    assert schedule(published) == (code, ())


@pytest.mark.parametrize(("transform", "published"), [(mode, "by carrier pigeon"), (schedule, "whenever")])
def test_unknown_values_are_warned(transform: Callable[[str], Result[str]], published: str) -> None:
    result = transform(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING
