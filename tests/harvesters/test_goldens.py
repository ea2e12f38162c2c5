"""Golden files for whole feeds: harvester -> mapping -> validation, as the harvest pipeline does it.

Each record is stored as the mapped course (or None when rejected) plus every issue the reader,
the mapping and `catalogue.validate` raised, so a golden file shows what a feed gives and what
is wrong with it. Repeated provider ids keep their first occurrence, as the pipeline does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.validate import validate
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.spec import load_spec
from tests.golden import assert_golden

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _issue(issue: Issue) -> list[Any]:
    # The message is left out: code and value identify an issue, and the edX file stays smaller.
    return [str(issue.severity), issue.field, issue.code, issue.value]


def pipeline(fixture: str, spec_name: str) -> list[dict[str, Any]]:
    """Snapshots of every record of `fixture` read with `spec_name`, first occurrence per id."""
    spec = load_spec(spec_name)
    snapshots: dict[str, dict[str, Any]] = {}
    for gathered in harvester_for(spec.format).gather((FIXTURES / fixture).read_bytes(), spec):
        assert gathered.readable, gathered.issues
        record = apply(spec, gathered.item, "golden")
        assert record.provider_ref is not None, record.issues
        if record.provider_ref in snapshots:
            continue
        issues = [*gathered.issues, *record.issues]
        data: dict[str, Any] = {"provenance": {"provider_ref": record.provider_ref}, "id": None}
        if record.course is not None:
            issues += validate(record.course)
            data = dict(course_to_dict(record.course))
        data["issues"] = [_issue(i) for i in issues]
        snapshots[record.provider_ref] = data
    return list(snapshots.values())


def _errors(snapshot: dict[str, Any]) -> set[str]:
    return {code for severity, _, code, _ in snapshot["issues"] if severity == str(Severity.ERROR)}


def test_ooapi_course() -> None:
    (course,) = pipeline("ooapi_course_example.json", "ooapi")
    assert course["title"] == {"en": "Course Example", "es": "Ejemplo de Curso"}
    assert course["workload"]["ects"] == "6" and course["workload"]["ects_basis"] == "stated"
    assert course["eqf_level"] == 6 and course["originals"]["eqf_level"] == "bachelor"
    assert course["modes"] == ["onsite", "online"] and course["languages"] == ["es"]
    assert [loc["city"] for loc in course["locations"]] == ["Pamplona"]  # the teaching address only
    # The sample names its organization by id only: no provider name, so validation rejects it.
    assert course["provider"]["identifier"] == "333e4567-e89b-12d3-a456-123514174eee"
    assert _errors(course) == {"missing-provider"}
    assert_golden("ooapi_course_example", [course])


def test_ooapi_offering() -> None:
    (offering,) = pipeline("ooapi_offering_example.json", "ooapi")
    assert (offering["start_date"], offering["end_date"]) == ("2019-08-21", "2019-10-23")
    assert offering["modes"] == ["onsite"] and offering["originals"]["modes"] == "situated"
    assert offering["languages"] == ["nl"] and offering["locations"][0]["country"] == "NLD"
    assert_golden("ooapi_offering_example", [offering])


def test_lheo_handmade() -> None:
    actions = pipeline("lheo_handmade.xml", "lheo")
    assert [a["provenance"]["provider_ref"] for a in actions] == [
        "F-DWWM-01/A-DWWM-DIST",
        "F-DWWM-01/A-DWWM-NANTES",
        "F-CAP-CUISINE/A-CAP-LYON",
    ]
    remote, nantes, cap = actions
    assert not any(_errors(a) for a in actions)
    assert remote["modes"] == ["online"] and remote["locations"] == []  # no place for a remote action
    assert (remote["start_date"], remote["end_date"]) == ("2025-09-15", "2026-09-25")  # over both sessions
    assert nantes["modes"] == ["blended"] and nantes["locations"][0]["region"] == "Pays de la Loire"
    assert (remote["eqf_level"], cap["eqf_level"]) == (5, 3)  # niveau III, niveau V (1969 nomenclature)
    assert cap["price"] == {"amount": "0", "currency": None, "note": None}  # free: no currency
    assert cap["provider"]["name"] == {"fr": "CFA des Métiers de Bouche du Rhône"}
    assert_golden("lheo_handmade", actions)


@pytest.fixture(scope="module")
def edx() -> list[dict[str, Any]]:
    return pipeline("csv_edx_courses.csv", "edx-csv")


def test_edx_csv(edx: list[dict[str, Any]]) -> None:
    assert len(edx) == 974  # 975 rows, one course listed twice
    assert not any(_errors(c) for c in edx)
    assert_golden("edx_courses", edx, jsonl=True)
