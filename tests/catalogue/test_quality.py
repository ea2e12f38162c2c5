"""Quality scores (completeness of the standard elements) and the record-level diff preview."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from course_catalogue.catalogue.changes import Candidate, CourseStatus, HarvestDiff, StoredCourse
from course_catalogue.catalogue.codec import content_hash
from course_catalogue.catalogue.model import (
    Course,
    LearningOutcome,
    Organisation,
    Provenance,
    Workload,
    course_id,
    lang_text,
)
from course_catalogue.catalogue.preview import changed_fields, preview
from course_catalogue.catalogue.quality import ELEMENTS, quality
from course_catalogue.catalogue.runs import RunReport
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from tests.store_writes import apply_harvest

NOW = datetime(2025, 11, 30, tzinfo=UTC)


def _course(ref: str, **fields: object) -> Course:
    base = Course(
        id=course_id("src", ref),
        title=lang_text(f"Course {ref}", "en"),
        provider=Organisation(lang_text("Uni Zed", "en")),
        provenance=Provenance("src", ref),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def _stored(course: Course, status: CourseStatus = CourseStatus.ACTIVE) -> StoredCourse:
    return StoredCourse(course, status, content_hash(course), 1, NOW, NOW)


def test_the_score_counts_mandatory_elements_of_active_courses_only() -> None:
    complete = _course(
        "a",
        provider=Organisation(lang_text("Uni Zed", "en"), country="FRA"),
        awarding_bodies=(Organisation(lang_text("Uni Zed", "en")),),
        learning_outcomes=(LearningOutcome(lang_text("Can do X", "en")),),
        workload=Workload(ects=Decimal(5)),
        eqf_level=6,
        assessment=lang_text("Exam", "en"),
        modes=("online",),
        quality_assurance=lang_text("Accredited", "en"),
        grade=lang_text("Pass/fail", "en"),
    )
    bare = _course("b")
    gone = _stored(_course("c"), CourseStatus.WITHDRAWN)
    result = quality([_stored(complete), _stored(bare), gone])
    mandatory = [e for e in ELEMENTS if e.mandatory]
    assert result.courses == 2
    # the complete course fills every mandatory element; the bare one only title and provider
    assert result.score == (len(mandatory) + 2) / (2 * len(mandatory))
    assert result.percent == int(result.score * 100)
    by_name = {e.element.name: e for e in result.elements}
    assert (by_name["title"].filled, by_name["eqf_level"].filled, by_name["grade"].filled) == (2, 1, 1)
    assert by_name["eqf_level"].share == 0.5
    assert by_name["prerequisites"].share == 0.0


def test_no_courses_no_score() -> None:
    result = quality([])
    assert result.score is None and result.percent is None
    assert all(e.share == 0.0 for e in result.elements)


def test_changed_fields_ignore_provenance() -> None:
    old = _course("a", eqf_level=5)
    new = replace(
        old,
        eqf_level=6,
        description=lang_text("New", "en"),
        provenance=Provenance("src", "a", run_id=9, pointer="line 3"),
    )
    assert changed_fields(old, new) == ("description", "eqf_level")
    assert changed_fields(old, replace(old, provenance=new.provenance)) == ()


def test_preview_lists_refs_titles_and_changed_fields(sqlite_store: CatalogueStore) -> None:
    store = sqlite_store
    store.save_source(Source("src", "csv"))
    kept, changing, leaving = _course("a"), _course("b", eqf_level=4), _course("c")
    report = store.start_run("src")
    apply_harvest(
        store,
        report,
        [_candidate(c) for c in (kept, changing, leaving)],
        seen_refs={"a", "b", "c"},
        complete=True,
    )
    new = [_candidate(kept), _candidate(replace(changing, eqf_level=5)), _candidate(_course("d"))]
    dry = store.start_run("src", dry_run=True)
    diff = apply_harvest(store, dry, new, seen_refs={"a", "b", "d"}, complete=True, dry_run=True)
    shown = preview(store, diff, new).to_dict()
    assert shown["totals"] == {
        "added": 1,
        "updated": 1,
        "unchanged": 1,
        "withdrawn": 1,
        "held_withdrawals": 0,
    }
    assert shown["added"] == [{"id": course_id("src", "d"), "provider_ref": "d", "title": "Course d"}]
    assert shown["updated"][0]["provider_ref"] == "b"
    assert shown["updated"][0]["changed_fields"] == ["eqf_level"]
    assert [w["provider_ref"] for w in shown["withdrawn"]] == ["c"]
    assert isinstance(diff, HarvestDiff) and isinstance(report, RunReport)


def _candidate(course: Course) -> Candidate:
    return Candidate(course, content_hash(course), b"raw", "text/csv")


def test_validation_and_the_score_read_one_table_of_elements() -> None:
    """Blank text is missing for both (validation used to count it as given): the record's
    missing-element warnings and the unfilled mandatory elements of the score agree."""
    from course_catalogue.catalogue.validate import validate

    blank = _course("b", quality_assurance={"en": "   "}, assessment={"en": " "}, prerequisites={"en": ""})
    warned = {issue.field for issue in validate(blank) if issue.code == "missing-element"}
    scored = quality([_stored(blank)])
    unfilled = {e.element.name for e in scored.elements if e.element.mandatory and not e.filled}
    assert {"quality_assurance", "assessment"} <= warned
    assert warned == unfilled  # title and provider name are given here
    (optional,) = [issue for issue in validate(blank) if issue.code == "missing-optional"]
    assert "prerequisites" in optional.message
