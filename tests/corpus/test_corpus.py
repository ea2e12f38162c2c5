"""The real-feed conformance corpus: each feed's field accuracy must stay at or above its floor.

Every feed of tests/fixtures/corpus/corpus.toml is harvested once (one throwaway SQLite store) with
its spec through the real pipeline and compared with its hand-checked expectation file (see
tests/corpus/fidelity.py). A feed that falls below its floor fails with the list of what is wrong.
The comparison itself is tested below on hand-built courses, so a broken checker cannot pass feeds.
"""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal

import pytest

from course_catalogue.catalogue.model import (
    Course,
    Location,
    Organisation,
    Price,
    Provenance,
    Workload,
    lang_text,
)
from course_catalogue.catalogue.runs import Issue, RunReport, RunStatus, Severity
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.mappings.coverage import counter_for
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.spec import load_spec
from tests.corpus import fidelity
from tests.corpus.fidelity import Check, FeedResult, Harvest, compare_field, compare_record

FEEDS = fidelity.load_manifest()


@pytest.fixture(scope="module")
def results() -> dict[str, FeedResult]:
    return {result.feed.name: result for result in fidelity.evaluate(FEEDS)}


@pytest.mark.parametrize("feed", FEEDS, ids=[feed.name for feed in FEEDS])
def test_feed_accuracy_at_least_its_floor(feed: fidelity.Feed, results: dict[str, FeedResult]) -> None:
    result = results[feed.name]
    assert result.checks, f"{feed.name}: nothing was checked"
    wrong = "\n".join(
        f"  {c.ref} {c.field}: expected {c.expected}; produced {c.produced}" for c in result.failures[:40]
    )
    assert result.accuracy >= feed.floor, (
        f"{feed.name}: {result.accuracy:.1f}% of stated fields right, below its floor {feed.floor:.1f}% "
        f"(run {result.status}{': ' + result.error if result.error else ''}); wrong or missing:\n{wrong}"
    )


def test_manifest_and_expectations_are_consistent() -> None:
    names = [feed.name for feed in FEEDS]
    assert len(names) == len(set(names)), "feed names must be unique (they are source ids)"
    assert len(FEEDS) >= 12
    assert len({feed.standard.split(" (")[0] for feed in FEEDS}) >= 6
    for feed in FEEDS:
        assert feed.path.is_file(), feed.path
        assert 0 <= feed.floor <= 100
        data = tomllib.loads(feed.expectations.read_text(encoding="utf-8"))
        refs = [record["ref"] for record in data["record"]]
        assert refs and len(refs) == len(set(refs)), f"{feed.expectations}: refs must be unique"
        for record in data["record"]:
            assert set(record) - {"ref", "causes"}, f"{feed.expectations}: {record['ref']} states no field"


# -- the comparison, on hand-built courses ------------------------------------------------------


def _course(**fields: object) -> Course:
    base: dict[str, object] = {
        "id": "c1",
        "title": lang_text({"en": "Riverine Ecology", "fr": "Écologie fluviale"}),
        "provider": Organisation(name=lang_text("Uni Zed"), country="IRL"),
        "provenance": Provenance(source_id="s", provider_ref="r1"),
    }
    base.update(fields)
    return Course(**base)  # type: ignore[arg-type]


def _ok(name: str, expected: object, course: Course, issues: list[Issue] | None = None) -> bool:
    return compare_field(name, expected, course, issues or [])[0]


def test_text_checks() -> None:
    course = _course(description=lang_text({"en": "First paragraph ends.\nSecond one starts here."}))
    assert _ok("title", "Riverine Ecology", course)
    assert _ok("title", {"en": "Riverine Ecology", "fr": "Écologie fluviale"}, course)
    assert not _ok("title", {"en": "Riverine Ecology", "de": "Flussökologie"}, course)
    assert not _ok("title", "Riverine ecology!", course)
    assert _ok("description", {"starts_with": "First paragraph", "contains": ["ends. Second one"]}, course)
    glued = _course(description=lang_text("First paragraph ends.Second one starts here."))
    assert not _ok("description", {"contains": ["ends. Second one"]}, glued)
    assert not _ok("description", {"lang": "fr", "starts_with": "First"}, course)
    assert not _ok("description", [{"starts_with": "First"}, {"contains": ["missing"]}], course)


def test_ambiguous_needs_an_empty_field_and_a_warning_about_the_published_value() -> None:
    course = _course()
    warned = [Issue(Severity.WARNING, "unknown level", "eqf_level", "r1", code="unknown-level", value="Unit")]
    missing = [Issue(Severity.WARNING, "no EQF level", "eqf_level", "r1", code="missing-element")]
    assert _ok("eqf_level", "ambiguous", course, warned)
    assert not _ok("eqf_level", "ambiguous", course, missing)  # a missing-element note is no report
    assert not _ok("eqf_level", "ambiguous", _course(eqf_level=2), warned)  # a guess is wrong
    assert _ok("eqf_level", "none", course) and not _ok("eqf_level", "none", _course(eqf_level=3))
    dates = [Issue(Severity.WARNING, "end before start", "end_date", "r1", code="invalid-dates", value="x")]
    assert _ok("start_date", "ambiguous", course, dates) and _ok("end_date", "ambiguous", course, dates)
    assert not _ok("duration", "ambiguous", course, dates)


def test_value_checks() -> None:
    course = _course(
        eqf_level=5,
        workload=Workload(ects=Decimal("5"), hours=Decimal("0.57")),
        modes=("onsite", "online"),
        start_date=date(2013, 5, 11),
        duration="P4M",
        price=Price(Decimal("84"), "GBP"),
        url="https://lyceedekerneuzec.fr/",
        keywords=("ASD", "Autism", "OCD"),
    )
    assert _ok("eqf_level", 5, course) and not _ok("eqf_level", 4, course)
    assert _ok("workload.ects", 5, course) and _ok("workload.hours", 0.5666666666666667, course)
    assert not _ok("workload.hours", 0.6, course)
    assert _ok("modes", ["online", "onsite"], course) and not _ok("modes", ["onsite"], course)
    assert _ok("start_date", date(2013, 5, 11), course) and not _ok("start_date", "2013-05-12", course)
    assert _ok("duration", "P4M", course) and not _ok("duration", "P1M", course)
    assert _ok("price", {"amount": "84", "currency": "GBP"}, course)
    assert not _ok("price", {"amount": "84", "currency": "EUR"}, course)
    assert _ok("url", "lyceedekerneuzec.fr", course) and not _ok("url", "http://other.example", course)
    assert _ok("keywords", ["autism", "ASD"], course) and not _ok("keywords", ["Aspberger"], course)
    assert _ok("provider.country", "IRL", course) and not _ok("provider.country", "GBR", course)


def _harvest(course: Course | None) -> Harvest:
    report = RunReport("s", status=RunStatus.SUCCEEDED)
    return Harvest(report, {"r1": course} if course else {}, {})


def test_records_and_locations() -> None:
    course = _course(
        locations=(Location(city="Kirkcaldy", postcode="KY1 1EX", address="St Brycedale Avenue"),)
    )
    expectation = {
        "ref": "r1",
        "title": "Riverine Ecology",
        "locations": [{"city": "KIRKCALDY", "postcode": "KY1 1EX", "address": "Victoria Road"}],
        "causes": {"locations.address": "reader: why"},
    }
    checks = compare_record(expectation, _harvest(course), {})
    assert [(c.field, c.ok) for c in checks] == [
        ("title", True),
        ("locations.city", True),
        ("locations.postcode", True),
        ("locations.address", False),
    ]
    assert checks[-1].cause_kind == "reader gap" and checks[-1].cause_text == "why"
    lost = compare_record(expectation, _harvest(None), {"record": "model: rejected"})
    assert len(lost) == 4 and not any(c.ok for c in lost) and lost[0].cause_kind == "model gap"
    no_place = compare_record({"ref": "r1", "locations": "none"}, _harvest(course), {})
    assert [(c.field, c.ok) for c in no_place] == [("locations", False)]


def test_accuracy_and_floor() -> None:
    feed = FEEDS[0]
    checks = [Check("r", "title", "a", "a", True), Check("r", "url", "a", "b", False)]
    result = FeedResult(feed, checks, 1, "succeeded")
    assert result.accuracy == 50.0 and result.failures == checks[1:]
    assert fidelity.floor_of(63.66) == 63.6 and fidelity.floor_of(100.0) == 100.0


@pytest.mark.parametrize(
    ("feed_file", "spec_name"),
    [("csv/udemy_courses_2017.csv", "udemy-csv"), ("csv/coursera_courses_2023.csv", "coursera-csv")],
)
def test_platform_csv_specs_map_or_ignore_every_column(feed_file: str, spec_name: str) -> None:
    spec = load_spec(spec_name)
    counter = counter_for(spec)
    assert counter is not None
    data = (fidelity.CORPUS / feed_file).read_bytes()
    for gathered in harvester_for(spec.format).gather(data, spec):
        apply(spec, gathered.item, "src", coverage=counter)
    result = counter.result()
    assert [p.path for p in result.unmapped] == [] and counter.issues() == []
    assert {p.ignore for p in result.ignored} == set(spec.ignore)
