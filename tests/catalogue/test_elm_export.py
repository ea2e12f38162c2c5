"""ELM export: complete courses conform to the official LOQ SHACL shapes; gaps are named in the report."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyoxigraph
import pytest
import rdflib
from pyshacl import validate

from course_catalogue.catalogue.elm import shapes_turtle, to_jsonld, to_turtle
from course_catalogue.catalogue.elm.graph import hours_duration, xsd_duration
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

BASE = "https://catalogue.example.org/courses/"


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    """The official shapes as published (specification shape deactivated)."""
    return rdflib.Graph().parse(data=shapes_turtle(), format="turtle")


@pytest.fixture(scope="module")
def strict_shapes() -> rdflib.Graph:
    """The official shapes with the specification shape switched on."""
    return rdflib.Graph().parse(data=shapes_turtle(strict=True), format="turtle")


def conformance(turtle: bytes, shapes: rdflib.Graph) -> tuple[bool, str]:
    """(conforms, report text) of a Turtle document against both LOQ shape files."""
    data = rdflib.Graph().parse(data=turtle, format="turtle")
    conforms, _, text = validate(data, shacl_graph=shapes)
    return bool(conforms), str(text)


def full_course() -> Course:
    """Every standard element filled in, two languages, a priced on-site offer."""
    return Course(
        id="c-full",
        title=lang_text({"en": "Data Analytics Fundamentals", "de": "Grundlagen der Datenanalyse"}),
        provider=Organisation(
            lang_text("University of Zed", "en"), "IRL", "https://uniz.example.edu", "PIC-123"
        ),
        provenance=Provenance("src", "da-101", 1, datetime(2025, 1, 2, tzinfo=UTC)),
        description=lang_text("Clean, explore and visualise data.", "en"),
        awarding_bodies=(Organisation(lang_text("Zed Awards", "en"), "IRL"),),
        learning_outcomes=(
            LearningOutcome(
                lang_text("Clean tabular data", "en"), "http://data.europa.eu/esco/skill/1a2b", "skill"
            ),
            LearningOutcome(lang_text("Explain sampling bias", "en"), skill_type="knowledge"),
        ),
        workload=Workload(Decimal("5"), Decimal("125"), "stated"),
        eqf_level=5,
        assessment=lang_text("Written exam and a project.", "en"),
        assessment_types=("http://data.europa.eu/snb/assessment/6e6cb2cc78",),
        modes=("onsite", "blended"),
        schedule="part-time-light",
        quality_assurance=lang_text("Accredited by QQI.", "en"),
        prerequisites=lang_text("Spreadsheet skills.", "en"),
        identity_verification="Supervised with ID verification",
        grade=lang_text("Pass/fail", "en"),
        stackability=lang_text("Counts towards the MSc.", "en"),
        further_information=lang_text("Evening classes.", "en"),
        languages=("en", "de"),
        isced_f=("0688",),
        start_date=date(2025, 3, 3),
        end_date=date(2025, 5, 9),
        duration="P10W",
        price=Price(Decimal("450.00"), "EUR", "VAT included"),
        locations=(Location("IRL", "Leinster", "Dublin", "D02", "1 College Green", 53.34, -6.26),),
        url="https://uniz.example.edu/courses/da-101",
        opportunity_type="http://data.europa.eu/snb/learning-opportunity/05053c1cbe",
    )


def free_online_course() -> Course:
    """Only what the shapes require: a free French MOOC with one outcome and text of unknown language."""
    return Course(
        id="c-mooc",
        title=lang_text("Initiation à Python"),  # "und": takes the course's only language
        provider=Organisation(lang_text("Université Exemple", "fr"), "FRA"),
        provenance=Provenance("src", "py-1"),
        learning_outcomes=(LearningOutcome(lang_text("Écrire un script", "fr")),),
        modes=("online",),
        languages=("fr",),
        isced_f=("0613", "06"),
        price=Price(Decimal("0")),
        url="https://mooc.example.fr/python",
        duration="PT40H",
    )


@pytest.mark.parametrize("course", [full_course(), free_online_course()], ids=["full", "mooc"])
def test_complete_courses_conform_to_the_loq_shapes(
    course: Course, shapes: rdflib.Graph, strict_shapes: rdflib.Graph
) -> None:
    for variant in (shapes, strict_shapes):
        conforms, report = conformance(to_turtle(course, BASE), variant)
        assert conforms, report


def test_turtle_carries_the_standard_elements() -> None:
    turtle = to_turtle(full_course(), BASE).decode()
    graph = rdflib.Graph().parse(data=turtle, format="turtle")
    elm = rdflib.Namespace("http://data.europa.eu/snb/model/elm/")
    lo = rdflib.URIRef(BASE + "c-full")
    las = graph.value(lo, elm.learningAchievementSpecification)
    assert graph.value(las, elm.educationLevel) == rdflib.URIRef("http://data.europa.eu/snb/eqf/5")
    assert graph.value(las, elm.ISCEDFCode) == rdflib.URIRef("http://data.europa.eu/snb/isced-f/0688")
    assert str(graph.value(graph.value(las, elm.creditPoint), elm.point)) == "5"
    # lexical forms as written (rdflib would normalise PT125H to P5DT5H)
    assert 'elm:volumeOfLearning "PT125H"^^xsd:duration' in turtle
    assert 'elm:duration "P70D"^^xsd:duration' in turtle  # xsd:duration has no weeks
    assert len(list(graph.objects(las, elm.learningOutcome))) == 2
    assert graph.value(graph.value(las, elm.awardingOpportunity), elm.awardingBody) is not None
    skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
    eqf5 = rdflib.URIRef("http://data.europa.eu/snb/eqf/5")
    assert graph.value(eqf5, skos.inScheme) == rdflib.URIRef("http://data.europa.eu/snb/eqf/25831c2")


def test_output_is_deterministic() -> None:
    assert to_turtle(full_course(), BASE) == to_turtle(full_course(), BASE)
    assert to_jsonld(full_course(), BASE) == to_jsonld(full_course(), BASE)


def test_jsonld_holds_the_same_graph_as_the_turtle() -> None:
    document = to_jsonld(full_course(), BASE)
    assert document["@graph"][0]["@id"] == BASE + "c-full"
    assert document["@graph"][0]["@type"] == ["elm:LearningOpportunity"]
    assert "dc:title" in document["@graph"][0]
    from_jsonld = set(pyoxigraph.parse(json.dumps(document).encode(), format=pyoxigraph.RdfFormat.JSON_LD))
    from_turtle = set(pyoxigraph.parse(to_turtle(full_course(), BASE), format=pyoxigraph.RdfFormat.TURTLE))
    assert from_jsonld == from_turtle  # no blank nodes: plain set equality is graph equality


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"url": None}, "foaf:homepage"),
        ({"languages": ()}, "elm:defaultLanguage"),
        ({"isced_f": ()}, "elm:ISCEDFCode"),
        ({"learning_outcomes": ()}, "elm:learningOutcome"),
    ],
)
def test_a_course_missing_a_required_element_gets_a_report_naming_it(
    change: dict[str, Any], missing: str, strict_shapes: rdflib.Graph
) -> None:
    conforms, report = conformance(to_turtle(replace(full_course(), **change), BASE), strict_shapes)
    assert not conforms
    assert "MinCountConstraintComponent" in report
    assert f"Path: {missing}" in report


def test_official_shapes_leave_the_specification_unchecked(shapes: rdflib.Graph) -> None:
    """ELM 3.1 deactivates the specification shape: why `strict` exists."""
    conforms, _ = conformance(to_turtle(replace(full_course(), isced_f=()), BASE), shapes)
    assert conforms


def test_provider_without_country_is_reported_as_missing_location(shapes: rdflib.Graph) -> None:
    course = replace(full_course(), provider=Organisation(lang_text("Nowhere Ltd", "en")))
    conforms, report = conformance(to_turtle(course, BASE), shapes)
    assert not conforms
    assert "Path: elm:location" in report and "#provider>" in report


@pytest.mark.parametrize(
    ("value", "expected"),
    [("P7W", "P49D"), ("PT40H", "PT40H"), ("P3Y6M", "P3Y6M"), ("p2d", "P2D"), ("3 weeks", None), ("P", None)],
)
def test_durations_become_xsd_durations(value: str, expected: str | None) -> None:
    assert xsd_duration(value) == expected


def test_hours_become_durations_without_fractional_hours() -> None:
    assert hours_duration(Decimal("2.5")) == "PT2H30M"
    assert hours_duration(Decimal("40")) == "PT40H"
    assert hours_duration(Decimal("0.25")) == "PT15M"
