"""The ELM RDF harvester + elm-rdf mapping: syntaxes, offline JSON-LD, items, blank nodes, real samples."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyoxigraph as ox
import pytest

from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.model import Course
from course_catalogue.catalogue.runs import Severity
from course_catalogue.harvesters.base import Gathered, harvester_for
from course_catalogue.harvesters.elm import ElmRdfHarvester
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.spec import load_spec
from tests.golden import assert_golden

FIXTURES = Path(__file__).parents[1] / "fixtures"
LO = "https://catalogue.example.org/id/lo-123"
PREFIXES = """@prefix elm: <http://data.europa.eu/snb/model/elm/> .
@prefix dc: <http://purl.org/dc/terms/> .
@prefix ex: <https://catalogue.example.org/id/> .
"""


def gather(data: bytes, **reader: Any) -> list[Gathered]:
    return list(ElmRdfHarvester().gather(data, SimpleNamespace(reader=reader)))  # type: ignore[arg-type]


def mapped(data: bytes, **reader: Any) -> list[Course]:
    spec = load_spec("elm-rdf")
    courses = []
    for gathered in ElmRdfHarvester().gather(data, spec):
        record = apply(spec, gathered.item, "elm")
        assert record.course is not None, record.issues
        courses.append(record.course)
    return courses


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def as_rdf_xml(turtle: bytes) -> bytes:
    quads = ox.parse(turtle, ox.RdfFormat.TURTLE)
    serialised = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.RDF_XML)
    assert serialised is not None
    return serialised


# -- syntaxes ------------------------------------------------------------------------------


def test_every_syntax_of_the_same_opportunity_gives_the_same_item_and_record() -> None:
    turtle = fixture("lo_example_loq.ttl")
    feeds = {
        "turtle": turtle,
        "rdf-xml": as_rdf_xml(turtle),
        "json-ld": fixture("lo_example_loq.edc-context.jsonld"),
    }
    items = {name: gather(data) for name, data in feeds.items()}
    assert {name: [g.item.guid for g in found] for name, found in items.items()} == {
        name: [LO] for name in feeds
    }
    contents = {g[0].item.content for g in items.values()}
    assert len(contents) == 1, "the three syntaxes must give identical N-Triples"
    courses = {name: course_to_dict(mapped(data)[0]) for name, data in feeds.items()}
    assert courses["turtle"] == courses["rdf-xml"] == courses["json-ld"]


def test_the_reader_option_overrides_sniffing() -> None:
    turtle = fixture("lo_example_loq.ttl")
    assert len(gather(turtle, syntax="turtle")) == 1
    with pytest.raises(ParseError, match="RDF-XML"):
        gather(turtle, syntax="rdf-xml")
    with pytest.raises(ConfigurationError, match=r"reader\.syntax"):
        gather(turtle, syntax="n3")


def test_harvester_is_registered_for_elm_rdf() -> None:
    assert isinstance(harvester_for("elm-rdf").harvester, ElmRdfHarvester)


# -- JSON-LD offline -------------------------------------------------------------------------


def test_an_unknown_remote_context_is_a_parse_error_naming_it() -> None:
    document = {"@context": ["https://example.org/remote-context.jsonld"], "@id": LO}
    with pytest.raises(ParseError, match=re.escape("https://example.org/remote-context.jsonld")):
        gather(json.dumps(document).encode())


def test_known_contexts_are_local_and_define_default_language() -> None:
    document = {
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "http://data.europa.eu/snb/model/context/edc-ap",
        ],
        "id": LO,
        "type": "LearningOpportunity",
        "title": {"en": "Offline"},
        "defaultLanguage": "http://publications.europa.eu/resource/authority/language/FRA",
    }
    (course,) = mapped(json.dumps(document).encode())
    assert course.title == {"en": "Offline"}
    assert course.languages == ("fr",)


def test_invalid_json_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="JSON-LD"):
        gather(b'{"@context": ')


# -- parse errors ----------------------------------------------------------------------------


def test_malformed_turtle_is_a_parse_error_with_its_line() -> None:
    feed = PREFIXES + 'ex:lo a elm:LearningOpportunity ;\n  dc:title "x"@en\nex:other dc:title "y" .\n'
    with pytest.raises(ParseError, match="line 6"):
        gather(feed.encode())


def test_a_graph_without_opportunity_or_specification_is_refused() -> None:
    with pytest.raises(ParseError, match="has no subject typed elm:LearningOpportunity"):
        gather(fixture("elm3.1_credential_sample.ttl"))


@pytest.mark.parametrize(
    "feed",
    [b"", PREFIXES.encode(), b"[]", b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'],
)
def test_an_empty_graph_is_refused(feed: bytes) -> None:
    # it once yielded nothing, which a complete run took as "every course gone"
    with pytest.raises(ParseError, match=r"is empty.*an empty feed is refused"):
        gather(feed)


# -- items -----------------------------------------------------------------------------------


def test_blank_node_opportunity_gets_a_stable_id_and_a_warning() -> None:
    feed = PREFIXES + (
        '[ a elm:LearningOpportunity ; dc:title "Anonymous"@en ; elm:duration "P3D" ;\n'
        "  elm:priceDetail [ elm:amount [ elm:unit <http://example.org/currency/EUR> ] ] ] .\n"
    )
    first, second = gather(feed.encode()), gather(feed.encode())
    guid = first[0].item.guid
    assert guid is not None and guid == second[0].item.guid
    assert guid.startswith("urn:catalogue:elm:blank:")
    assert first[0].item.content == second[0].item.content, "blank labels must be canonical"
    assert [i.code for i in first[0].issues] == ["blank-node-id"]
    assert first[0].issues[0].severity is Severity.WARNING
    (course,) = mapped(feed.encode())
    assert course.title == {"en": "Anonymous"}
    assert course.provenance.provider_ref == first[0].item.guid


def test_other_opportunities_appear_only_as_links() -> None:
    feed = PREFIXES + (
        'ex:module a elm:LearningOpportunity ; dc:title "Module"@en ; elm:isPartOf ex:programme .\n'
        'ex:programme a elm:LearningOpportunity ; dc:title "Programme"@en ; elm:hasPart ex:module .\n'
    )
    module, programme = gather(feed.encode())
    assert (module.item.guid, programme.item.guid) == (
        "https://catalogue.example.org/id/module",
        "https://catalogue.example.org/id/programme",
    )
    assert b"Programme" not in module.item.content
    assert b"<https://catalogue.example.org/id/programme>" in module.item.content
    course = mapped(feed.encode())[0]
    assert course.stackability == {"und": "Part of: https://catalogue.example.org/id/programme"}


def test_a_stored_item_maps_the_same_without_the_harvesters_cache() -> None:
    spec = load_spec("elm-rdf")
    for name in ("lo_example_loq.ttl", "elm3_microcredential_annex1_unsigned.jsonld"):
        (gathered,) = gather(fixture(name))
        item = gathered.item
        replayed = RawItem(item.content, item.media_type, item.pointer, item.guid)
        assert apply(spec, item, "elm") == apply(spec, replayed, "elm")


def test_embedded_files_are_dropped() -> None:
    (gathered,) = gather(fixture("elm3_microcredential_annex1_unsigned.jsonld"))
    assert b"/9j/4AAQ" not in gathered.item.content and b"iVBORw0KGgo" not in gathered.item.content
    assert b"http://data.europa.eu/snb/model/elm/content>" not in gathered.item.content
    assert b"/elm/Person>" not in gathered.item.content and b"ana.andromeda" not in gathered.item.content


def test_lexical_forms_are_kept() -> None:
    (gathered,) = gather(fixture("lo_example_loq.ttl"))
    assert b'"PT125H"^^<http://www.w3.org/2001/XMLSchema#duration>' in gathered.item.content
    assert b'"2025-03-03T00:00:00Z"' in gathered.item.content


# -- the mapping on real samples -------------------------------------------------------------


def test_the_loq_example_maps_every_element() -> None:
    (course,) = mapped(fixture("lo_example_loq.ttl"))
    assert course.title == {
        "en": "Introduction to Data Analytics (spring intake)",
        "de": "Einführung in Data Analytics",
    }
    assert course.provider.name == {"en": "University of Zed"} and course.provider.country == "IRL"
    assert (course.workload.ects, course.workload.hours, course.workload.ects_basis) == (
        Decimal("5"),
        Decimal("125"),
        "stated",
    )
    assert course.eqf_level == 5 and course.isced_f == ("0688",)
    assert course.modes == ("online",) and course.schedule == "part-time-light"
    assert (
        course.learning_outcomes[0].esco_uri
        == "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
    )
    assert course.price is not None and (course.price.amount, course.price.currency) == (
        Decimal("450"),
        "EUR",
    )
    assert str(course.start_date) == "2025-03-03" and course.duration == "P70D"
    assert course.url == "https://uniz.example.edu/courses/da-101"
    assert course.locations[0].country == "IRL"


def test_the_official_micro_credential_sample_yields_its_qualification() -> None:
    (course,) = mapped(fixture("elm3_microcredential_annex1_unsigned.jsonld"))
    assert course.provenance.provider_ref == "urn:epass:qualification:1"
    assert course.title == {"en": "Digital micro-credential creation"}
    assert (course.workload.ects, course.workload.ects_basis, course.workload.hours) == (
        Decimal("2"),
        "stated",
        Decimal("60"),
    )
    assert course.eqf_level == 6
    assert course.isced_f == ("003", "0688")
    assert [o.esco_uri for o in course.learning_outcomes] == [
        "http://data.europa.eu/esco/skill/326809fc-238d-40c2-881e-40042f7f2f0d",
        "http://data.europa.eu/esco/skill/5fd5c985-eaaa-47aa-8314-62359c54505a",
    ]
    assert course.learning_outcomes[1].text == {"en": "Developing digital content", "es": "Contento digital"}
    assert course.modes == ("blended",)
    assert course.prerequisites["en"].startswith("The learner needs to have an EDC Online Credential Builder")
    assert "Standard grading" in course.grade["en"]
    assert course.identity_verification == "Unsupervised without ID Verification"
    assert course.assessment == {"en": "Digital artefact assessment"}
    assert course.assessment_types == ("http://data.europa.eu/snb/assessment/de4d165a6c",)
    assert course.provider.name == {"en": "University of Zed"} and course.provider.country == "IRL"
    assert [b.name for b in course.awarding_bodies] == [{"en": "University of Zed"}]
    assert course.opportunity_type == "http://data.europa.eu/snb/learning-opportunity/74a4a268e8"
    assert course.stackability == {"en": "Stand-alone qualification (not a partial qualification)."}


def test_doubtful_workloads_are_reported_not_guessed() -> None:
    feed = PREFIXES + (
        'ex:lo a elm:LearningOpportunity ; dc:title "Odd"@en ;\n'
        "  elm:learningAchievementSpecification ex:las .\n"
        'ex:las a elm:LearningAchievementSpecification ; elm:volumeOfLearning "P60M" ;\n'
        "  elm:creditPoint [ elm:framework <http://data.europa.eu/snb/education-credit/6fcec5c5af> ;"
        ' elm:point "several" ] .\n'
    )
    spec = load_spec("elm-rdf")
    (gathered,) = gather(feed.encode())
    record = apply(spec, gathered.item, "elm")
    assert record.course is not None
    assert record.course.workload.ects is None and record.course.workload.hours is None
    codes = {(i.field, i.code, i.value) for i in record.issues if i.severity is Severity.WARNING}
    assert ("workload", "invalid-credits", "several") in codes  # a number in words ("two") would be read
    assert ("workload.hours", "invalid-hours", "P60M") in codes  # 60 months, surely not meant


# -- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed", "expected"),
    [
        ("lo_example_loq.ttl", "elm_lo_example_loq"),
        ("lo_example_loq.edc-context.jsonld", "elm_lo_example_loq"),  # same graph, same records
        ("elm3_microcredential_annex1_unsigned.jsonld", "elm3_microcredential_annex1"),
    ],
)
def test_golden(feed: str, expected: str) -> None:
    assert_golden(expected, mapped(fixture(feed)))
