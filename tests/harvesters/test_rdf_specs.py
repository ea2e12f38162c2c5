"""RDF specs name their records: record classes and fallback tiers, local JSON-LD contexts next to
the spec, references followed across a graph (CTDL), JSON-LD blocks of HTML pages."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.model import Course
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.harvesters.elm import RdfHarvester
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.spec import MappingSpec, load_spec
from tests.golden import assert_golden

FIXTURES = Path(__file__).parents[1] / "fixtures"
SPECS = Path(__file__).parents[2] / "course_catalogue" / "mappings" / "specs"
CTDL = FIXTURES / "corpus" / "ctdl"
ORGANISATION = "https://credentialengine.github.io/credential-registry-ingest-examples/Organization/1/Organization-1.json"


def courses(data: bytes, spec: MappingSpec) -> dict[str, Course]:
    found = {}
    for gathered in harvester_for(spec.format).gather(data, spec):
        record = apply(spec, gathered.item, "test")
        assert record.course is not None, [*gathered.issues, *record.issues]
        found[record.provider_ref or ""] = record.course
    return found


def write_spec(folder: Path, text: str) -> MappingSpec:
    path = folder / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return load_spec(str(path))


# -- record classes ---------------------------------------------------------------------------

TURTLE = b"""@prefix ex: <https://example.org/terms/> .
@prefix dc: <http://purl.org/dc/terms/> .
<https://example.org/a> a ex:Module ; dc:title "Module A"@en ; ex:part <https://example.org/b> .
<https://example.org/b> a ex:Unit ; dc:title "Unit B"@en .
<https://example.org/c> a ex:Unit ; dc:title "Unit C"@en .
"""

SPEC = """format = "rdf"
[namespaces]
ex = "https://example.org/terms/"
[reader]
records = %s
[fields.title]
path = "dc:title"
[fields.provider.fields.name]
constant = "Example"
"""


def test_the_first_record_tier_the_graph_has_gives_the_records(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, SPEC % '["ex:Course", "ex:Module", "ex:Unit"]')
    found = courses(TURTLE, spec)
    assert list(found) == ["https://example.org/a"]
    # a unit the module points at is part of its record, not a record itself
    spec = write_spec(tmp_path, SPEC % '[["ex:Module", "ex:Unit"]]')
    assert list(courses(TURTLE, spec)) == [
        "https://example.org/a",
        "https://example.org/b",
        "https://example.org/c",
    ]


def test_a_graph_without_any_record_class_is_refused_naming_them(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, SPEC % '["ex:Course", ["ex:Programme", "<https://example.org/Other>"]]')
    with pytest.raises(
        ParseError, match=r"no subject typed ex:Course, then ex:Programme or <https://example.org/Other>"
    ):
        list(RdfHarvester().gather(TURTLE, spec))


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        ('"ex:Course"', "must be a non-empty list"),
        ("[]", "must be a non-empty list"),
        ("[[]]", "is not a class"),
        ('["nope:Course"]', "neither <IRI> nor a CURIE with a declared prefix"),
    ],
)
def test_record_classes_are_checked_when_the_spec_loads(tmp_path: Path, records: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        write_spec(tmp_path, SPEC % records)


# -- local contexts ---------------------------------------------------------------------------

JSONLD = {
    "@context": "https://example.org/context.jsonld",
    "@id": "https://example.org/a",
    "@type": "Module",
    "title": {"en": "Module A", "fr": "Module A (fr)"},
}
CONTEXTS = '[reader.contexts]\n"https://example.org/context.jsonld" = "%s"\n'
CONTEXT = {
    "@context": {
        "Module": "https://example.org/terms/Module",
        "title": {"@id": "http://purl.org/dc/terms/title", "@container": "@language"},
    }
}


def test_a_context_registered_by_the_spec_is_read_from_the_file_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "example.jsonld").write_text(json.dumps(CONTEXT), encoding="utf-8")
    text = SPEC % '["ex:Module"]' + CONTEXTS % "ctx/example.jsonld"
    spec = write_spec(tmp_path, text)
    (course,) = courses(json.dumps(JSONLD).encode(), spec).values()
    assert course.title == {"en": "Module A", "fr": "Module A (fr)"}  # a language map: per-language text


def test_a_missing_context_file_is_a_configuration_error(tmp_path: Path) -> None:
    text = SPEC % '["ex:Module"]' + CONTEXTS % "ctx/absent.jsonld"
    with pytest.raises(ConfigurationError, match=r"absent\.jsonld does not exist"):
        write_spec(tmp_path, text)


def test_a_remote_context_without_a_local_copy_is_a_parse_error_naming_it(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, SPEC % '["ex:Module"]')
    with pytest.raises(ParseError, match=r"https://example\.org/context\.jsonld.*never fetched"):
        list(RdfHarvester().gather(json.dumps(JSONLD).encode(), spec))


# -- CTDL: references across the graph --------------------------------------------------------


def split_graph() -> bytes:
    """The published LearningProgram-1 graph with every cost profile moved out of its course into a
    node of its own (referenced by blank-node id), and the organisation document added as a node."""
    graph = json.loads((CTDL / "learning_program_1_graph.json").read_text(encoding="utf-8"))
    feed = json.loads((CTDL / "credential_program_organization_1.json").read_text(encoding="utf-8"))
    organisation = feed[2]
    nodes: list[dict[str, Any]] = []
    for number, node in enumerate(graph["@graph"]):
        costs = []
        for index, cost in enumerate(node.pop("ceterms:estimatedCost", [])):
            cost = {"@id": f"_:cost-{number}-{index}", **cost}
            nodes.append(cost)
            costs.append(cost["@id"])
        if costs:
            node["ceterms:estimatedCost"] = costs
    organisation.pop("@context")
    graph["@graph"] += [*nodes, organisation]
    return json.dumps(graph).encode("utf-8")


def test_a_ctdl_graph_with_separate_cost_and_organisation_nodes_maps_fully() -> None:
    spec = load_spec("ctdl-jsonld")
    inline = courses((CTDL / "learning_program_1_graph.json").read_bytes(), spec)
    split = courses(split_graph(), spec)
    assert list(split) == list(inline) and len(split) == 4
    for ref, course in split.items():
        assert course.price == inline[ref].price and course.price is not None, ref
        assert course.price.currency == "USD"
        assert course.provider.name == {"en": "Example University"}
        assert course.provider.country == "USA"
        assert course.provider.identifier == ORGANISATION
        assert course.further_information == inline[ref].further_information
    assert split[next(iter(split))].price is not None
    assert str(split[next(iter(split))].price.amount) == "4485"  # type: ignore[union-attr]


def test_ctdl_reads_language_maps_as_tagged_text_and_follows_the_organisation() -> None:
    spec = load_spec("ctdl-jsonld")
    found = courses((CTDL / "credential_program_organization_1.json").read_bytes(), spec)
    degree = found[
        "https://credentialengine.github.io/credential-registry-ingest-examples/Credential/1/Credential-1.json"
    ]
    assert degree.title == {"en": "Bachelor of Science in Cybersecurity"}
    assert degree.provider.homepage == "https://example.edu"
    assert degree.quality_assurance == {"en": "Recognised by: Example Town Cyber Security Jobs Center"}


def test_a_spec_copied_without_its_contexts_folder_fails_to_load(tmp_path: Path) -> None:
    shutil.copy(SPECS / "ctdl-jsonld.toml", tmp_path / "ctdl.toml")
    with pytest.raises(ConfigurationError, match=r"ctdl-reduced\.jsonld does not exist"):
        load_spec(str(tmp_path / "ctdl.toml"))
    shutil.copytree(SPECS / "contexts", tmp_path / "contexts")
    assert load_spec(str(tmp_path / "ctdl.toml")).format == "rdf"


def test_the_split_graph_really_separates_the_nodes() -> None:
    document = json.loads(split_graph())
    program = copy.deepcopy(document["@graph"][0])
    assert all(isinstance(ref, str) for ref in program["ceterms:estimatedCost"])
    assert any(node.get("@type") == "ceterms:Organization" for node in document["@graph"])


# -- Open Badges: an achievement, its credential two levels up, the learner passed through ----------

BADGES = FIXTURES / "corpus" / "openbadges"


def test_the_full_badge_maps_its_achievement_without_the_learners_data() -> None:
    spec = load_spec("open-badges")
    (gathered,) = RdfHarvester().gather((BADGES / "ob3_full_open_badge.json").read_bytes(), spec)
    content = gathered.item.content.decode("utf-8")
    # the learner's subject is passed through: its link to the achievement, none of its properties
    assert (
        "did:example:ebfeb1f712ebc6f1c276e12ec21> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#achievement>"
        in content
    )
    assert "student@1edtech.edu" not in content and "A-9320041" not in content and "Major Domo" not in content
    record = apply(spec, gathered.item, "test")
    course = record.course
    assert course is not None, record.issues
    assert course.title == {"en": "1EdTech University Degree"}
    assert course.provider.name == {"en": "1EdTech University"}  # the creator, before the issuer
    assert course.provider.country == "USA"
    assert course.grade == {"en": "Assessed by: Final Project Grade; Project Status"}
    assert course.workload is None or course.workload.ects is None  # creditsAvailable: no scheme stated
    assert "https://1edtech.edu/catalog/degree" in course.further_information["en"]


def test_a_clr_maps_each_achievement_with_the_issuer_of_its_credential() -> None:
    found = courses((BADGES / "clr2_complex.json").read_bytes(), load_spec("open-badges"))
    nurse = found["urn:uuid:3314c2c0-2ee9-4183-838b-470c15ddfb08"]
    assert nurse.title == {"en": "Nurse Assistant 1 Program with Licensure"}
    assert nurse.provider.name == {"en": "Western High School, RSD"}  # the AchievementCredential's issuer
    assert nurse.provider.homepage == "https://western.riverwell.k12.or.us/"


def test_the_readme_example_follows_the_references(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### RDF and JSON-LD specs") :]
    document = section[section.index("```json\n") + 8 : section.index("\n```", section.index("```json\n"))]
    start = section.index("```toml\n") + 8
    spec_text = section[start : section.index("\n```", start)]
    shutil.copytree(SPECS / "contexts", tmp_path / "contexts")
    spec = write_spec(tmp_path, spec_text)
    (course,) = courses(document.encode("utf-8"), spec).values()
    assert course.title == {"en": "Personal Growth Mastery"}
    assert course.provider.name == {"en": "Example University"}
    assert course.price is not None and (str(course.price.amount), course.price.currency) == ("995", "USD")


# -- goldens: every shipped RDF spec on its real sample ----------------------------------------


@pytest.mark.parametrize(
    ("feed", "spec_name", "expected"),
    [
        ("corpus/ctdl/learning_program_1_graph.json", "ctdl-jsonld", "ctdl_learning_program_1_graph"),
        (
            "corpus/ctdl/credential_program_organization_1.json",
            "ctdl-jsonld",
            "ctdl_credential_program_organization_1",
        ),
        (
            "corpus/openbadges/ob3_achievement_alignment_ce.json",
            "open-badges",
            "ob3_achievement_alignment_ce",
        ),
        ("corpus/openbadges/ob3_full_open_badge.json", "open-badges", "ob3_full_open_badge"),
        ("corpus/openbadges/clr2_complex.json", "open-badges", "clr2_complex"),
        ("corpus/schemaorg/sdo_course_examples.html", "schema-org-course", "schemaorg_sdo_course_examples"),
        (
            "corpus/elm-rdf/elm3_certificate_of_participation_unsigned.jsonld",
            "elm-rdf",
            "elm3_certificate_of_participation",
        ),
    ],
)
def test_golden(feed: str, spec_name: str, expected: str) -> None:
    spec = load_spec(spec_name)
    records = []
    for gathered in harvester_for(spec.format).gather((FIXTURES / feed).read_bytes(), spec):
        record = apply(spec, gathered.item, "golden")
        if record.course is not None:
            records.append(record.course)
    assert records
    assert_golden(expected, records)


def test_relative_iris_resolve_against_the_readers_base(tmp_path: Path) -> None:
    page = (FIXTURES / "corpus" / "schemaorg" / "sdo_course_examples.html").read_bytes()
    text = (SPECS / "schema-org-course.toml").read_text(encoding="utf-8")
    shutil.copytree(SPECS / "contexts", tmp_path / "contexts")
    with_base = write_spec(
        tmp_path, text.replace("\n[reader]\n", '\n[reader]\nbase = "https://college.example/hnc/"\n')
    )

    def refs(spec: MappingSpec) -> dict[str, Course | None]:
        return {g.item.guid or "": apply(spec, g.item, "t").course for g in RdfHarvester().gather(page, spec)}

    hnc = refs(with_base)["https://college.example/hnc/"]  # eg-0333's "@id": "./"
    assert hnc is not None and str(hnc.start_date) in ("2016-08-29", "2016-08-31")
    assert "https://college.example/hnc/" not in refs(load_spec("schema-org-course"))
    with pytest.raises(ConfigurationError, match="absolute http"):
        write_spec(tmp_path, text.replace("\n[reader]\n", '\n[reader]\nbase = "./"\n'))


def test_a_context_file_outside_the_specs_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.jsonld").write_text(json.dumps(CONTEXT), encoding="utf-8")
    (tmp_path / "specs").mkdir()
    with pytest.raises(ConfigurationError, match="outside the spec's folder"):
        write_spec(tmp_path / "specs", SPEC % '["ex:Module"]' + CONTEXTS % "../outside.jsonld")


def test_ctdl_credit_values_are_followed_by_reference_and_not_guessed() -> None:
    """The published program with a credit value added as a separate QuantitativeValue node, in
    ECTS (stated: taken) and in US semester hours (no conversion: reported, not guessed)."""
    spec = load_spec("ctdl-jsonld")
    for unit, name, ects in (
        ("creditUnit:ECTS", "ECTS Credit", "6"),
        ("creditUnit:SemesterHour", "Semester Hour", None),
    ):
        graph = json.loads((CTDL / "learning_program_1_graph.json").read_text(encoding="utf-8"))
        graph["@graph"][1]["ceterms:creditValue"] = ["_:credits"]
        graph["@graph"].append(
            {
                "@id": "_:credits",
                "@type": "schema:QuantitativeValue",
                "schema:value": 6,
                "ceterms:creditUnitType": {
                    "@type": "ceterms:CredentialAlignmentObject",
                    "ceterms:targetNode": unit,
                    "ceterms:targetNodeName": {"en-US": name},
                },
            }
        )
        found = {}
        for gathered in RdfHarvester().gather(json.dumps(graph).encode("utf-8"), spec):
            record = apply(spec, gathered.item, "test")
            found[gathered.item.guid] = record
        course_1a = found[
            "https://credentialengine.github.io/credential-registry-ingest-examples/LearningProgram/1/Course-1a.json"
        ]
        assert course_1a.course is not None
        workload = course_1a.course.workload
        if ects is None:
            assert workload is None or workload.ects is None
            assert any(i.field == "workload" for i in course_1a.issues)  # reported
        else:
            assert workload is not None and str(workload.ects) == ects
