"""EQF normaliser: EQF forms, national crosswalks, and honest refusal of non-EQF labels."""

from __future__ import annotations

import pytest

from catalogue.runs import Severity
from mappings.transforms.levels import eqf, frameworks


@pytest.mark.parametrize(
    ("published", "level"),
    [
        ("5", 5),
        (" 8 ", 8),
        ("V", 5),
        ("iv", 4),
        ("Level 5", 5),
        ("level 6 (Bachelor)", 6),
        ("EQF 5", 5),
        ("EQF level 7", 7),
        ("EQR-Niveau 4", 4),
        ("niveau 5", 5),  # French 2019 framework == EQF
        ("Niveau 3", 3),
        ("http://data.europa.eu/snb/eqf/5", 5),
        ("http://data.europa.eu/snb/eqf/8/", 8),
    ],
)
def test_eqf_forms(published: str, level: int) -> None:
    result = eqf(published)
    assert result.value == level
    assert all(i.severity is not Severity.WARNING for i in result.issues)


@pytest.mark.parametrize(
    ("published", "level", "framework"),
    [
        ("niveau V", 3, "FR-1969"),
        ("niveau IV", 4, "FR-1969"),
        ("niveau III", 5, "FR-1969"),
        ("niveau II", 6, "FR-1969"),
        ("niveau I", 7, "FR-1969"),
        ("RQF level 4", 5, "RQF"),
        ("RQF 3", 4, "RQF"),
        ("Entry Level 3", 1, "RQF"),
        ("CQFW level 6", 6, "CQFW"),
        ("SCQF level 7", 5, "SCQF"),
        ("SCQF 11", 7, "SCQF"),
        ("NFQ Level 8", 6, "NFQ-IE"),
        ("NFQ 6", 5, "NFQ-IE"),
    ],
)
def test_national_levels_use_the_crosswalk_and_say_so(published: str, level: int, framework: str) -> None:
    result = eqf(published)
    assert result.value == level
    (note,) = result.issues
    assert note.severity is Severity.INFO and framework in note.message


@pytest.mark.parametrize(
    ("published", "framework", "level"), [("4", "RQF", 5), ("7", "SCQF", 5), ("5", "EQF", 5)]
)
def test_framework_arg_says_what_bare_numbers_mean(published: str, framework: str, level: int) -> None:
    assert eqf(published, framework=framework).value == level


@pytest.mark.parametrize(
    "published",
    [
        "Introductory",
        "Intermediate",
        "Advanced",
        "Level 9",
        "0",
        "SCQF 1",
        "Entry Level 1",
        "XYZ level 3",
        "",
    ],
)
def test_unknown_levels_are_warned_never_guessed(published: str) -> None:
    result = eqf(published)
    assert result.value is None
    assert [i.severity for i in result.issues] == [Severity.WARNING]


def test_crosswalk_file_names_its_frameworks() -> None:
    keys = {f.key for f in frameworks().values()}
    assert {"FR", "FR-1969", "RQF", "CQFW", "SCQF", "NFQ-IE"} <= keys
    assert all(1 <= level <= 8 for f in frameworks().values() for level in f.levels.values())
