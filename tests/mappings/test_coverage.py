"""Coverage reports: what a feed states, in how many records, and whether the spec reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_catalogue.catalogue.runs import PathStatus
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.mappings.coverage import IgnoreRules, counter_for
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.spec import MappingSpec, load_spec
from course_catalogue.mappings.xpath_reads import Probes

FIXTURES = Path(__file__).parents[1] / "fixtures"
FEEDS = [
    ("csv_edx_courses.csv", "edx-csv"),
    ("xcri-cap12_open_university_2011.xml", "xcri-cap"),
    ("xcri-cap12_wychwolf_moodle_2012.xml", "xcri-cap"),
    ("corpus/xcri-cap/adam_smith_college_2012.xml", "xcri-cap"),
    ("corpus/xcri-cap/oxford_conted_2012.xml", "xcri-cap"),
    ("lheo_handmade.xml", "lheo"),
    ("corpus/lheo/onisep_bts_2015.xml", "lheo"),
    ("qdr_loq_handmade.xml", "qdr-loq"),
    ("elm3.1_qdr_loq_learning_opportunities.xml", "qdr-loq"),
    ("lo_example_loq.ttl", "elm-rdf"),
    ("elm3_microcredential_annex1_unsigned.jsonld", "elm-rdf"),
    ("ooapi_course_example.json", "ooapi"),
    ("ooapi_offering_example.json", "ooapi"),
    ("corpus/ctdl/learning_program_1_graph.json", "ctdl-jsonld"),
    ("corpus/ctdl/credential_program_organization_1.json", "ctdl-jsonld"),
    ("corpus/openbadges/ob3_achievement_alignment_ce.json", "open-badges"),
    ("corpus/elm-rdf/elm3_certificate_of_participation_unsigned.jsonld", "elm-rdf"),
]


def coverage_of(data: bytes, spec: MappingSpec):  # type: ignore[no-untyped-def]
    counter = counter_for(spec)
    assert counter is not None
    for gathered in harvester_for(spec.format).gather(data, spec):
        apply(spec, gathered.item, "src", coverage=counter)
    return counter.result(), counter.issues()


@pytest.mark.parametrize(("fixture", "spec_name"), FEEDS)
def test_every_fixture_feed_is_mapped_or_ignored_on_purpose(fixture: str, spec_name: str) -> None:
    spec = load_spec(spec_name)
    coverage, issues = coverage_of((FIXTURES / fixture).read_bytes(), spec)
    assert coverage.records > 0 and coverage.paths
    assert [p.path for p in coverage.unmapped] == []
    assert issues == []  # no ignore entry matches a path a rule reads
    # The ignored list is exactly the spec's entries that occur in the feed.
    occurring = {e for e in spec.ignore if any(IgnoreRules([e]).match(p.path) for p in coverage.paths)}
    assert {p.ignore for p in coverage.ignored} == occurring
    assert all(p.records >= 1 and p.example for p in coverage.paths)


def test_counts_are_records_and_examples_are_the_first_value() -> None:
    coverage, _ = coverage_of((FIXTURES / "csv_edx_courses.csv").read_bytes(), load_spec("edx-csv"))
    assert coverage.records == 975
    enrolled = next(p for p in coverage.paths if p.path == "n_enrolled")
    assert (enrolled.records, enrolled.status, enrolled.ignore) == (855, PathStatus.IGNORED, "n_enrolled")
    title = next(p for p in coverage.paths if p.path == "title")
    assert title.status is PathStatus.MAPPED and title.records == 975


def _spec(tmp_path: Path, body: str) -> MappingSpec:
    path = tmp_path / "spec.toml"
    path.write_text(body, encoding="utf-8")
    return load_spec(str(path))


FEED = b"""<cat xmlns="urn:c" xmlns:x="urn:x" xml:lang="en"><item id="1"><name>One</name>
<credit><scheme>ECTS</scheme><value>5</value></credit><credit><scheme>Own</scheme><value>60</value></credit>
<code kind="a">K1</code><note>kept <b>whole</b></note><x:extra>?</x:extra><blank>  </blank></item></cat>"""

XML_SPEC = """format = "xml"
{ignore}
[namespaces]
c = "urn:c"
[reader]
record = "c:item"
[id]
xpath = "concat('item-', @id)"
[fields.title]
xpath = "c:name"
[fields."workload.ects"]
xpath = "c:credit[c:scheme = 'ECTS']/c:value"
[fields.further_information]
xpath = "c:note"
[fields.keywords]
xpath = "c:code[not(@kind)]"
"""


def test_xml_paths_and_reads(tmp_path: Path) -> None:
    spec = _spec(tmp_path, XML_SPEC.format(ignore=""))
    coverage, _ = coverage_of(FEED, spec)
    status = {p.path: p.status.value for p in coverage.paths}
    assert status == {
        "@id": "mapped",  # read inside concat()
        "c:name": "mapped",
        "c:credit/c:scheme": "mapped",  # the predicate compares it
        "c:credit/c:value": "mapped",  # the rule points at every credit's value
        "c:code": "mapped",
        "c:code/@kind": "unmapped",  # only tested for existence
        "c:note": "mapped",
        "c:note/c:b": "mapped",  # an element's value is its descendants' text
        "{urn:x}extra": "unmapped",  # a namespace the spec does not declare
    }  # xml:lang tags values and is never listed; blank text is no value


def test_ignore_entries_subtrees_and_globs(tmp_path: Path) -> None:
    spec = _spec(tmp_path, XML_SPEC.format(ignore='ignore = ["c:code/@*", "{urn:x}extra"]'))
    coverage, issues = coverage_of(FEED, spec)
    assert coverage.unmapped == [] and issues == []
    assert {(p.path, p.ignore) for p in coverage.ignored} == {
        ("c:code/@kind", "c:code/@*"),
        ("{urn:x}extra", "{urn:x}extra"),
    }
    rules = IgnoreRules(["a/b", "**/rdf:type", "x*/y"])
    assert rules.match("a/b/c/d") == "a/b" and rules.match("a/bc") is None
    assert rules.match("rdf:type") == rules.match("p/q/rdf:type") == "**/rdf:type"
    assert rules.match("xyz/y") == "x*/y" and rules.match("x/z/y") is None


def test_an_ignore_entry_that_matches_a_read_path_is_a_warning(tmp_path: Path) -> None:
    spec = _spec(tmp_path, XML_SPEC.format(ignore='ignore = ["c:name"]'))
    coverage, issues = coverage_of(FEED, spec)
    assert next(p for p in coverage.paths if p.path == "c:name").status is PathStatus.MAPPED
    assert [(i.severity.value, i.code, i.value) for i in issues] == [
        ("warning", "ignored-but-read", "c:name")
    ]


def test_bad_ignore_entries_fail_the_spec(tmp_path: Path) -> None:
    from course_catalogue.catalogue.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="ignore"):
        _spec(tmp_path, XML_SPEC.format(ignore='ignore = ["a//b"]'))
    with pytest.raises(ConfigurationError, match="ignore"):
        _spec(tmp_path, XML_SPEC.format(ignore='ignore = ["a", "a"]'))


def test_xpath_probes() -> None:
    probes = Probes()
    probes.selector("concat(a[1], substring(b, 1, 4000 * not(c)))")
    probes.selector("d[e = 'x' and not(@f)]/g | h[self::i or self::j][2]")
    each = probes.nodes("k[l > 1]")
    probes.selector(".", each)
    assert probes.expressions == [
        "child::a[1]",
        "child::b",
        "(child::d)/child::e",
        "child::d/child::g",
        "child::h[(self::i) or (self::j)][2]",
        "(child::k)/child::l",
        "(child::k)/self::node()",
    ]


def test_json_and_rdf_paths() -> None:
    coverage, _ = coverage_of((FIXTURES / "ooapi_course_example.json").read_bytes(), load_spec("ooapi"))
    status = {p.path: p.status.value for p in coverage.paths}
    assert status["name[].value"] == status["name[].language"] == "mapped"
    assert status["studyLoad.studyLoadUnit"] == "mapped"  # read by the filter
    coverage, _ = coverage_of((FIXTURES / "lo_example_loq.ttl").read_bytes(), load_spec("elm-rdf"))
    status = {p.path: p.status.value for p in coverage.paths}
    assert status["dc:title"] == "mapped" and status["rdf:type"] == "ignored"
