"""The edX CSV mapping (mappings/specs/edx-csv.toml) over the real 975-row export."""

from __future__ import annotations

import csv
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from course_catalogue.catalogue.model import Course, Price, Workload
from course_catalogue.catalogue.runs import Severity
from course_catalogue.catalogue.validate import validate
from course_catalogue.mappings.engine import MappedRecord, apply
from course_catalogue.mappings.items import CSV_ROW, RawItem
from course_catalogue.mappings.spec import load_spec

FIXTURE = Path(__file__).parents[1] / "fixtures" / "csv_edx_courses.csv"
MOOC = "http://data.europa.eu/snb/learning-opportunity/17744a2647"


@pytest.fixture(scope="module")
def mapped() -> list[MappedRecord]:
    spec = load_spec("edx-csv")
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    items = [RawItem(json.dumps(row).encode(), CSV_ROW, pointer=f"line {n}") for n, row in enumerate(rows, 2)]
    return [apply(spec, raw, "edx") for raw in items]


def course(mapped: list[MappedRecord], index: int) -> Course:
    found = mapped[index].course
    assert found is not None
    return found


def test_every_row_maps_and_validates_without_error(mapped: list[MappedRecord]) -> None:
    assert len(mapped) == 975
    for record in mapped:
        assert record.course is not None, record.issues
        issues = record.issues + validate(record.course)
        assert not [i for i in issues if i.severity is Severity.ERROR], issues


def test_every_row_has_the_mapped_elements(mapped: list[MappedRecord]) -> None:
    for record in mapped:
        c = record.course
        assert c is not None
        assert c.title and c.provider.name and c.awarding_bodies
        assert c.provider.country is None  # the CSV has no country; none is invented
        assert c.languages and c.duration and c.isced_f and c.url and c.keywords
        assert c.workload.hours and c.workload.ects and c.workload.ects_basis == "estimated-from-hours"
        assert c.price is not None and c.price.is_free and c.price.note
        assert c.modes == ("online",) and c.schedule in ("self-paced", "scheduled")
        assert c.eqf_level is None and c.originals["eqf_level"] in (
            "Introductory",
            "Intermediate",
            "Advanced",
        )
        assert c.opportunity_type == MOOC


def test_rows_without_any_description_stay_without_one(mapped: list[MappedRecord]) -> None:
    empty = [c for r in mapped if (c := r.course) and not c.description]
    assert len(empty) == 26  # summary "NA" and no course_description in the export
    assert all("missing-description" in {i.code for i in validate(c)} for c in empty)


def test_only_expected_issues(mapped: list[MappedRecord]) -> None:
    kinds = Counter((i.severity, i.field, i.code) for record in mapped for i in record.issues)
    assert kinds == {
        (Severity.WARNING, "eqf_level", "unknown-level"): 975,  # edX levels are not EQF levels
        (Severity.INFO, "workload", "ects-estimated"): 975,
    }


def test_first_row_how_to_learn_online(mapped: list[MappedRecord]) -> None:
    c = course(mapped, 0)
    assert dict(c.title) == {"en": "How to Learn Online"}
    assert c.provenance.provider_ref == "https://www.edx.org/course/how-to-learn-online"
    assert c.provenance.pointer == "line 2"
    assert c.description["en"].startswith(
        "Learn essential strategies for successful online learning\n\nDesigned"
    )
    assert c.further_information["en"].startswith("Syllabus: Welcome - We start")
    assert c.further_information["en"].endswith("\n\nSubtitles: English")
    assert dict(c.provider.name) == {"en": "edX"}
    assert c.languages == ("en",)
    assert c.duration == "P2W"
    # 2–3 h/week (midpoint 2.5) x 2 weeks = 5 h; 5 h / 25 h per ECTS = 0.2 ECTS
    assert c.workload == Workload(
        ects=Decimal("0.2"), hours=Decimal(5), ects_basis="estimated-from-hours", hours_per_ects=Decimal(25)
    )
    assert c.price == Price(Decimal(0), None, "optional verified certificate 49 USD")
    assert c.schedule == "self-paced"
    assert c.isced_f == ("011",)
    assert c.keywords == (
        "Education & Teacher Training",
        "Introductory",
        "Nina Huntemann",
        "Robyn Belair",
        "Ben Piscopo",
    )
    assert c.originals["workload"] == "2–3 hours per week | 2 Weeks"
    assert c.originals["price"] == "FREE-Add a Verified Certificate for $49 USD"
    assert c.originals["languages"] == "English"
    estimate = next(i for i in mapped[0].issues if i.code == "ects-estimated")
    assert estimate.message == "ECTS estimated from 5 notional hours at 25 h/ECTS"


def test_python_for_everybody(mapped: list[MappedRecord]) -> None:
    c = course(mapped, 1)
    assert dict(c.provider.name) == {"en": "The University of Michigan"}
    assert c.workload.hours == Decimal(21) and c.workload.ects == Decimal("0.84")  # 3 h/week x 7 weeks
    assert c.duration == "P7W" and c.isced_f == ("0613",)
    assert c.keywords[-1] == "Charles Severance"


def test_instructor_led_course(mapped: list[MappedRecord]) -> None:
    c = course(mapped, 3)
    assert dict(c.title) == {"en": "The Analytics Edge"}
    assert c.schedule == "scheduled"
    assert c.workload.hours == Decimal("162.5")  # 12.5 h/week x 13 weeks
    assert c.price == Price(Decimal(0), None, "optional verified certificate 199 USD")
    assert c.isced_f == ("0542",)


def test_spanish_course_text_is_tagged_spanish(mapped: list[MappedRecord]) -> None:
    c = course(mapped, 37)
    assert c.languages == ("es",)
    assert dict(c.title) == {"es": "Inglés básico: conversacional y networking"}
    assert set(c.description) == {"es"}


def test_joint_course_names_each_institution(mapped: list[MappedRecord]) -> None:
    c = course(mapped, 713)
    assert dict(c.provider.name) == {"en": "Delft University of Technology"}
    assert [dict(body.name) for body in c.awarding_bodies] == [
        {"en": "Delft University of Technology"},
        {"en": "RWTH Aachen University"},
    ]
    assert c.isced_f == ("051",)


def test_subjects_with_two_fields(mapped: list[MappedRecord]) -> None:
    codes = {c.isced_f for r in mapped if (c := r.course) and "Economics & Finance" in c.keywords}
    assert codes == {("0311", "0412")}
