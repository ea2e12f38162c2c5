"""The qdr-loq mapping: exact values from the hand-made feed, the EC sample as a golden file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from course_catalogue.catalogue.model import Course, LearningOutcome, Location, Price, Workload
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.validate import validate
from course_catalogue.harvesters.qdr import LOQ_NS, QdrHarvester
from course_catalogue.mappings.engine import MappedRecord, apply
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.spec import MappingSpec, load_spec
from tests.golden import assert_golden

FIXTURES = Path(__file__).parent.parent / "fixtures"
LO = "https://opintopolku.example.fi/toteutus/1.2.246.562.17.0000000000"
ORG = "https://opintopolku.example.fi/organisaatio/1.2.246.562.10.0000000000"


@pytest.fixture(scope="module")
def spec() -> MappingSpec:
    return load_spec("qdr-loq")


def mapped(spec: MappingSpec, data: bytes) -> list[MappedRecord]:
    return [apply(spec, g.item, "qdr") for g in QdrHarvester().gather(data, spec)]


@pytest.fixture(scope="module")
def handmade(spec: MappingSpec) -> list[MappedRecord]:
    return mapped(spec, (FIXTURES / "qdr_loq_handmade.xml").read_bytes())


def course(record: MappedRecord) -> Course:
    assert record.course is not None, record.issues
    return record.course


def test_qualification_course_maps_every_element(handmade: list[MappedRecord]) -> None:
    c = course(handmade[0])
    assert handmade[0].provider_ref == LO + "1"
    assert [i for i in handmade[0].issues if i.severity is not Severity.INFO] == []
    assert dict(c.title) == {
        "fi": "Johdatus data-analytiikkaan (syksy 2025)",
        "en": "Introduction to data analytics (autumn 2025)",
        "sv": "Introduktion till dataanalys (hösten 2025)",
    }
    assert set(c.description) == {"fi", "en"}
    assert dict(c.provider.name) == {
        "fi": "Helsingin yliopisto",
        "en": "University of Helsinki",
        "sv": "Helsingfors universitet",
    }
    assert (c.provider.country, c.provider.homepage, c.provider.identifier) == (
        "FIN",
        "https://www.helsinki.fi/",
        ORG + "1",
    )
    assert [dict(b.name)["en"] for b in c.awarding_bodies] == ["University of Helsinki"]
    assert c.learning_outcomes == (
        LearningOutcome(
            text={
                "fi": "Osaa siivota ja visualisoida taulukkodataa Pythonilla.",
                "en": "Clean and visualise tabular data with Python.",
            },
            esco_uri="http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d",
            skill_type="skill",
        ),
        LearningOutcome(
            text={"en": "Explain the basic concepts of descriptive statistics."}, skill_type="knowledge"
        ),
    )
    assert c.workload == Workload(ects=Decimal(5), hours=Decimal(135), ects_basis="stated")
    assert c.eqf_level == 6
    assert c.isced_f == ("0688",)
    assert dict(c.assessment) == {"en": "Online exam and project work", "fi": "Verkkotentti ja harjoitustyö"}
    assert c.assessment_types == ("http://data.europa.eu/snb/assessment/6e6cb2cc78",)
    assert (c.modes, c.schedule) == (("online",), "part-time-light")
    assert c.quality_assurance["en"] == "FINEEC audit of the University of Helsinki (2023)"
    assert dict(c.prerequisites) == {
        "fi": "Taulukkolaskennan perustaidot.",
        "en": "Basic spreadsheet skills.",
    }
    assert c.grade["en"] == "Grades 0-5 (0 = fail, 5 = excellent)"
    assert dict(c.stackability) == {"en": "Partial qualification: it counts towards a larger qualification."}
    assert dict(c.further_information) == {"en": "Recorded lectures are available for the whole course."}
    assert c.languages == ("fi", "en")
    assert (c.start_date, c.end_date, c.duration) == (date(2025, 9, 1), date(2025, 12, 19), "P3M")
    assert c.price == Price(Decimal(450), "EUR")
    assert c.locations == ()
    assert c.url == "https://opintopolku.example.fi/konfo/fi/toteutus/1.2.246.562.17.00000000001"
    assert c.opportunity_type == "http://data.europa.eu/snb/learning-opportunity/05053c1cbe"
    assert c.keywords == ("non-formal learning",)
    assert c.originals["eqf_level"] == "http://data.europa.eu/snb/eqf/6"
    assert c.provenance.pointer == "/loq:Courses/loq:learningOpportunityReferences/loq:learningOpportunity[1]"
    assert [i for i in validate(c) if i.severity is not Severity.INFO] == []


def test_course_without_credit_points_gets_an_ects_estimate(handmade: list[MappedRecord]) -> None:
    c = course(handmade[1])
    assert dict(c.title)["sv"] == "Sommarkurs i svenska"
    assert (dict(c.provider.name), c.provider.country) == ({"sv": "Åbo Akademi", "fi": "Åbo Akademi"}, "FIN")
    assert c.workload == Workload(
        ects=Decimal(2), hours=Decimal(50), ects_basis="estimated-from-hours", hours_per_ects=Decimal(25)
    )
    assert [i.code for i in handmade[1].issues] == ["ects-estimated"]
    assert c.eqf_level == 4  # from educationLevel: a specification, not a qualification
    assert c.learning_outcomes == (
        LearningOutcome(text={"sv": "Kan delta i vardagliga samtal på svenska."}, skill_type="skill"),
    )
    assert (c.modes, c.schedule, c.languages, c.isced_f) == (("onsite",), "full-time", ("sv",), ("0231",))
    assert c.price == Price(Decimal(0))
    assert c.locations == (Location(country="FIN", city="Åbo", address="Fabriksgatan 2, 20500 Åbo"),)
    assert (c.start_date, c.end_date, c.duration) == (date(2026, 6, 8), date(2026, 6, 26), "P19D")
    assert c.awarding_bodies == () and c.stackability == {}


def test_specification_only_record_takes_title_and_provider_from_the_specification(spec: MappingSpec) -> None:
    data = (FIXTURES / "qdr_loq_handmade.xml").read_bytes()
    start, end = (
        data.index(b"<learningOpportunityReferences>"),
        data.index(b"</learningOpportunityReferences>"),
    )
    [first, second] = mapped(spec, data[:start] + data[end + len(b"</learningOpportunityReferences>") :])
    q = course(first)
    assert first.provider_ref == "https://opintopolku.example.fi/koulutus/1.2.246.562.13.00000000001"
    assert dict(q.title)["en"] == "Data analytics fundamentals (micro-credential)"
    assert (dict(q.provider.name)["en"], q.provider.country) == ("University of Helsinki", "FIN")
    assert (q.eqf_level, q.workload.ects, q.start_date, q.price) == (6, Decimal(5), None, None)
    assert second.course is not None and second.course.provider.name == {}  # no awarding body given


def test_replayed_item_maps_the_same_without_the_harvester_cache(spec: MappingSpec) -> None:
    gathered = next(QdrHarvester().gather((FIXTURES / "qdr_loq_handmade.xml").read_bytes(), spec))
    replay = RawItem(gathered.item.content, gathered.item.media_type, pointer=gathered.item.pointer)
    assert apply(spec, replay, "qdr") == apply(spec, gathered.item, "qdr")


def _snapshot(record: MappedRecord) -> dict[str, Any]:
    issues = list(record.issues)
    data: dict[str, Any] = {"provenance": {"provider_ref": record.provider_ref}, "id": None}
    if record.course is not None:
        issues += validate(record.course)
        data = course_to_plain(record.course)
    data["issues"] = [_issue(i) for i in issues]
    return data


def course_to_plain(c: Course) -> dict[str, Any]:
    from course_catalogue.catalogue.codec import course_to_dict

    return dict(course_to_dict(c))


def _issue(issue: Issue) -> list[Any]:
    return [str(issue.severity), issue.field, issue.code, issue.message, issue.value]


def test_ec_sample_golden(spec: MappingSpec) -> None:
    """The EC reference instance holds random strings: the golden file shows what the normalisers
    refuse (credit point "S91ZbAwnQrf", hours "P7Y8M2DT1H10M0S", currency XXX, coordinates) and what
    the mapping leaves out (LOP-01 ends before it starts: both dates dropped, the rest kept), with
    every issue."""
    records = mapped(spec, (FIXTURES / "elm3.1_qdr_loq_learning_opportunities.xml").read_bytes())
    assert_golden("qdr_loq_ec_sample", [_snapshot(r) for r in records])
    codes = {i.code for r in records for i in r.issues}
    assert {"invalid-credits", "invalid-hours", "unknown-currency", "invalid-coordinate"} <= codes
    lop1 = records[0].course
    assert lop1 is not None and lop1.workload.ects is None and lop1.price is None
    assert lop1.start_date is None and lop1.end_date is None
    assert lop1.originals["end_date"].startswith("2023-11-01")  # the published text stays
    assert lop1.originals["start_date"].startswith("2024-10-17")
    assert "invalid-dates" in {i.code for i in records[0].issues}
    assert not any(i.severity is Severity.ERROR for i in validate(lop1))


def test_namespace_constant_matches_the_spec(spec: MappingSpec) -> None:
    assert spec.namespaces["loq"] == LOQ_NS
