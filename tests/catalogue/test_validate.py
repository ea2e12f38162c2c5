"""Record-level validation: contract violations reject, doubtful values warn, gaps inform."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from course_catalogue.catalogue.model import (
    Course,
    LearningOutcome,
    Location,
    Organisation,
    Price,
    Provenance,
    Workload,
    lang_text,
)
from course_catalogue.catalogue.runs import Severity
from course_catalogue.catalogue.validate import validate


def complete_course(**changes: Any) -> Course:
    """A course with every standard element present, so only the change under test shows."""
    course = Course(
        id="c1",
        title=lang_text("Data Science", "en"),
        provider=Organisation(lang_text("Uni Zed", "en"), country="IRL"),
        provenance=Provenance("demo", "ref-1", pointer="line 2"),
        description=lang_text("About data.", "en"),
        awarding_bodies=(Organisation(lang_text("Uni Zed", "en"), country="IRL"),),
        learning_outcomes=(LearningOutcome(lang_text("Clean data", "en")),),
        workload=Workload(ects=Decimal(5), hours=Decimal(125), ects_basis="stated"),
        eqf_level=6,
        assessment=lang_text("Project", "en"),
        modes=("online",),
        schedule="part-time",
        quality_assurance=lang_text("Accredited by QQI", "en"),
        prerequisites=lang_text("None", "en"),
        identity_verification="http://data.europa.eu/snb/supervision-verification/c598449d64",
        grade=lang_text("Pass/fail", "en"),
        stackability=lang_text("Stackable", "en"),
        further_information=lang_text("See the website", "en"),
        languages=("en", "ga"),
        isced_f=("0613",),
        start_date=date(2025, 3, 3),
        end_date=date(2025, 6, 3),
        duration="P3M",
        price=Price(Decimal(450), "EUR"),
        locations=(Location(country="IRL", city="Dublin"),),
    )
    return replace(course, **changes)


def codes(course: Course) -> set[tuple[Severity, str | None, str]]:
    return {(i.severity, i.field, i.code) for i in validate(course)}


def test_a_complete_course_has_no_issues() -> None:
    assert validate(complete_course()) == []


def test_issues_carry_record_ref_and_pointer() -> None:
    (issue,) = validate(complete_course(eqf_level=9))
    assert (issue.record_ref, issue.pointer, issue.value) == ("ref-1", "line 2", "9")


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"title": lang_text()}, "title", "missing-title"),
        ({"title": lang_text("   ", "en")}, "title", "missing-title"),
        ({"provider": Organisation(lang_text(), country="IRL")}, "provider.name", "missing-provider"),
        ({"eqf_level": 0}, "eqf_level", "invalid-level"),
        ({"eqf_level": 9}, "eqf_level", "invalid-level"),
        ({"workload": Workload(ects=Decimal(-1))}, "workload.ects", "invalid-ects"),
        ({"workload": Workload(ects=Decimal(5), hours=Decimal(-3))}, "workload.hours", "invalid-hours"),
        ({"start_date": date(2025, 7, 1)}, "end_date", "invalid-dates"),
        (
            {"provider": Organisation(lang_text("Uni", "en"), country="XXX")},
            "provider.country",
            "unknown-country",
        ),
        (
            {"provider": Organisation(lang_text("Uni", "en"), country="IE")},
            "provider.country",
            "unknown-country",
        ),
        ({"locations": (Location(country="Ireland"),)}, "locations", "unknown-country"),
        ({"languages": ("english",)}, "languages", "unknown-language"),
        ({"languages": ("eng",)}, "languages", "unknown-language"),
        ({"isced_f": ("Computer Science",)}, "isced_f", "unknown-isced"),
        ({"modes": ("zoom",)}, "modes", "unknown-mode"),
        ({"schedule": "weekends"}, "schedule", "unknown-schedule"),
        ({"price": Price(Decimal(-5), "EUR")}, "price", "invalid-price"),
        ({"price": Price(Decimal(5))}, "price", "missing-currency"),
        ({"price": Price(Decimal(5), "XYZ")}, "price", "unknown-currency"),
        ({"duration": "7 weeks"}, "duration", "invalid-duration"),
    ],
)
def test_errors_reject_the_record(changes: dict[str, Any], field: str, code: str) -> None:
    assert (Severity.ERROR, field, code) in codes(complete_course(**changes))


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"workload": Workload(ects=Decimal(240), ects_basis="stated")}, "workload.ects", "implausible-ects"),
        ({"workload": Workload(ects=Decimal(5), hours=Decimal(5000))}, "workload.hours", "implausible-hours"),
        (
            {"workload": Workload(ects=Decimal(5), hours=Decimal(10), ects_basis="stated")},
            "workload",
            "inconsistent-workload",
        ),
        ({"duration": "P3Y"}, "duration", "implausible-duration"),
        ({"duration": "P60M"}, "duration", "implausible-duration"),  # formats.md §6.10: the sample's P60M
        ({"duration": "P110W"}, "duration", "implausible-duration"),
        ({"duration": "P2.5Y"}, "duration", "implausible-duration"),  # fractional: no calendar arithmetic
        ({"title": lang_text({"en": "T", "xx-YY": "?"})}, "title", "unknown-language"),
    ],
)
def test_doubtful_values_warn(changes: dict[str, Any], field: str, code: str) -> None:
    found = codes(complete_course(**changes))
    assert (Severity.WARNING, field, code) in found
    assert not any(severity is Severity.ERROR for severity, _, _ in found)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"provider": Organisation(lang_text("Uni", "en"))}, "provider.country"),
        ({"awarding_bodies": ()}, "awarding_bodies"),
        ({"learning_outcomes": ()}, "learning_outcomes"),
        ({"workload": Workload(hours=Decimal(25))}, "workload"),
        ({"eqf_level": None}, "eqf_level"),
        ({"assessment": lang_text()}, "assessment"),
        ({"modes": ()}, "modes"),
        ({"quality_assurance": lang_text()}, "quality_assurance"),
    ],
)
def test_missing_mandatory_elements_warn(changes: dict[str, Any], field: str) -> None:
    assert codes(complete_course(**changes)) == {(Severity.WARNING, field, "missing-element")}


def test_assessment_types_count_as_assessment() -> None:
    course = complete_course(
        assessment=lang_text(), assessment_types=("http://data.europa.eu/snb/assessment/795dac4096",)
    )
    assert validate(course) == []


def test_missing_optional_elements_are_one_info() -> None:
    course = complete_course(prerequisites=lang_text(), grade=lang_text(), identity_verification=None)
    (issue,) = validate(course)
    assert (issue.severity, issue.code) == (Severity.INFO, "missing-optional")
    assert (
        "prerequisites" in issue.message
        and "grade" in issue.message
        and "identity_verification" in issue.message
    )


def test_free_course_needs_no_currency_and_estimates_are_fine() -> None:
    course = complete_course(
        price=Price(Decimal(0)),
        workload=Workload(ects=Decimal("0.7"), hours=Decimal("17.5"), ects_basis="estimated-from-hours"),
    )
    assert validate(course) == []


def test_missing_description_is_info() -> None:
    assert codes(complete_course(description=lang_text())) == {
        (Severity.INFO, "description", "missing-description")
    }


@pytest.mark.parametrize("duration", ["P4.5M", "P0.5Y", "P1.5M2W"])
def test_fractional_calendar_durations_are_plausible_not_a_crash(duration: str) -> None:
    """A range's midpoint ("3 - 6 Months" -> P4.5M) is a valid ISO 8601 duration that calendar
    arithmetic refuses; validation must judge it, not raise (one such row cost a whole feed)."""
    found = codes(complete_course(duration=duration))
    assert not any(field == "duration" for _, field, _ in found)
