"""QDR LOQ harvester: records, idref inlining, dangling refs, cycles, spec-only feeds, hardening."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from course_catalogue.catalogue.errors import ParseError
from course_catalogue.catalogue.runs import Outcome, RunStatus, Severity
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters import qdr
from course_catalogue.harvesters.base import Gathered, harvester_for
from course_catalogue.harvesters.qdr import LOQ_NS, QdrHarvester
from course_catalogue.mappings.spec import MappingSpec, load_spec
from course_catalogue.mappings.xml_paths import XML_MEDIA_TYPE, XmlRecords
from course_catalogue.services.pipeline import run_harvest

FIXTURES = Path(__file__).parent.parent / "fixtures"
NS = {"loq": LOQ_NS}
HANDMADE = FIXTURES / "qdr_loq_handmade.xml"
EC_SAMPLE = FIXTURES / "elm3.1_qdr_loq_learning_opportunities.xml"
LO1 = "https://opintopolku.example.fi/toteutus/1.2.246.562.17.00000000001"
Q1 = "https://opintopolku.example.fi/koulutus/1.2.246.562.13.00000000001"


@pytest.fixture(scope="module")
def spec() -> MappingSpec:
    return load_spec("qdr-loq")


def gather(data: bytes, spec: object = None) -> list[Gathered]:
    return list(QdrHarvester().gather(data, spec))


def feed(body: str) -> bytes:
    return f'<Courses xmlns="{LOQ_NS}" xsdVersion="3.1.0">{body}</Courses>'.encode()


def content(gathered: Gathered) -> etree._Element:
    """The item as a replay would see it: parsed again from its bytes."""
    return etree.fromstring(gathered.item.content)


def test_registered_for_qdr_loq() -> None:
    assert isinstance(harvester_for("qdr-loq").harvester, QdrHarvester)


def test_one_item_per_learning_opportunity_with_guid_and_pointer(spec: MappingSpec) -> None:
    items = gather(HANDMADE.read_bytes(), spec)
    assert [g.item.guid for g in items] == [LO1, LO1[:-1] + "2"]
    assert [g.item.pointer for g in items] == [
        "/loq:Courses/loq:learningOpportunityReferences/loq:learningOpportunity[1]",
        "/loq:Courses/loq:learningOpportunityReferences/loq:learningOpportunity[2]",
    ]
    assert all(g.item.media_type == XML_MEDIA_TYPE and g.issues == () for g in items)
    assert content(items[0]).tag == f"{{{LOQ_NS}}}learningOpportunity"


def test_idrefs_are_inlined_transitively() -> None:
    root = content(gather(HANDMADE.read_bytes())[0])

    def texts(path: str) -> list[str]:
        return [str(v) for v in root.xpath(path, namespaces=NS)]

    assert texts("loq:providedBy/loq:organisation/loq:legalName[@language='en']/text()") == [
        "University of Helsinki"
    ]
    country = "loq:providedBy/loq:organisation/loq:location/loq:location/loq:address/loq:countryCode/@uri"
    assert texts(country) == ["http://publications.europa.eu/resource/authority/country/FIN"]
    spec_path = "loq:learningAchievementSpecification/loq:qualification"
    assert texts(f"{spec_path}/@id") == [Q1]
    assert len(texts(f"{spec_path}/loq:learningOutcome/loq:learningOutcome/@id")) == 2
    grading = (
        f"{spec_path}/loq:provenBy/*/loq:gradingScheme/loq:gradingScheme/loq:title[@language='en']/text()"
    )
    assert texts(grading) == ["Grades 0-5 (0 = fail, 5 = excellent)"]
    body = f"{spec_path}/loq:awardingOpportunity/loq:awardingBody/loq:organisation/loq:legalName"
    assert len(texts(body)) == 3


def test_a_link_back_to_an_element_on_the_path_stays_a_stub() -> None:
    root = content(gather(HANDMADE.read_bytes())[0])
    back = root.xpath(
        "loq:learningAchievementSpecification/loq:qualification/loq:awardingOpportunity"
        "/loq:learningAchievementSpecification",
        namespaces=NS,
    )
    assert [(e.get("idref"), len(e)) for e in back] == [(Q1, 0)]


def test_cycles_between_elements_terminate() -> None:
    data = feed(
        '<learningOpportunityReferences><learningOpportunity id="lo"><title>T</title>'
        '<providedBy idref="org"/></learningOpportunity></learningOpportunityReferences>'
        '<agentReferences><organisation id="org"><legalName>O</legalName><location idref="loc"/>'
        "</organisation></agentReferences>"
        '<locationReferences><location id="loc"><owner idref="org"/><self idref="loc"/></location>'
        "</locationReferences>"
    )
    [item] = gather(data)
    root = content(item)
    location = root.xpath("loq:providedBy/loq:organisation/loq:location/loq:location", namespaces=NS)[0]
    assert [(child.get("idref"), len(child)) for child in location] == [("org", 0), ("loc", 0)]
    assert item.issues == ()


def test_dangling_idref_is_an_item_warning_not_a_feed_failure() -> None:
    data = feed(
        '<learningOpportunityReferences><learningOpportunity id="lo"><title>T</title>'
        '<providedBy idref="nowhere"/><location idref="nowhere"/></learningOpportunity>'
        "</learningOpportunityReferences>"
    )
    [item] = gather(data)
    assert item.readable
    [issue] = item.issues
    assert (issue.severity, issue.code, issue.value, issue.record_ref) == (
        Severity.WARNING,
        "dangling-reference",
        "nowhere",
        "lo",
    )
    assert "providedBy" in issue.message


def test_links_that_are_not_followed_stay_stubs_and_are_not_checked() -> None:
    data = feed(
        '<learningOpportunityReferences><learningOpportunity id="lo"><title>T</title>'
        '<publisher idref="http://agent-outside-the-file"/><hasPart idref="lo2"/></learningOpportunity>'
        '<learningOpportunity id="lo2"><title>Part</title><providedBy idref="org"/></learningOpportunity>'
        "</learningOpportunityReferences>"
        '<agentReferences><organisation id="org"><legalName>O</legalName></organisation></agentReferences>'
    )
    first = gather(data)[0]
    assert first.issues == ()
    root = content(first)
    assert len(root.find("loq:publisher", NS)) == 0
    part = root.find("loq:hasPart/loq:learningOpportunity", NS)
    assert part.findtext("loq:title", namespaces=NS) == "Part"
    assert len(part.find("loq:providedBy", NS)) == 0  # shallow: the part's own links are not followed


def test_an_id_defined_twice_uses_the_first_and_warns() -> None:
    data = feed(
        '<learningOpportunityReferences><learningOpportunity id="lo"><title>T</title>'
        '<providedBy idref="org"/></learningOpportunity></learningOpportunityReferences>'
        '<agentReferences><organisation id="org"><legalName>First</legalName></organisation>'
        '<organisation id="org"><legalName>Second</legalName></organisation></agentReferences>'
    )
    [item] = gather(data)
    assert [i.code for i in item.issues] == ["duplicate-id"]
    names = content(item).xpath("loq:providedBy/*/loq:legalName/text()", namespaces=NS)
    assert names == ["First"]


def test_reference_budget_keeps_near_links_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qdr, "MAX_COPIES", 1)
    [item, _] = gather(HANDMADE.read_bytes())
    assert [i.code for i in item.issues] == ["reference-budget"]
    root = content(item)
    assert root.find("loq:providedBy/loq:organisation", NS) is not None
    assert len(root.find("loq:learningAchievementSpecification", NS)) == 0


def test_large_media_content_is_dropped_from_copies() -> None:
    big = "A" * (qdr.MAX_MEDIA_CHARS + 1)
    data = feed(
        '<learningOpportunityReferences><learningOpportunity id="lo"><title>T</title>'
        f"<bannerImage><content>{big}</content></bannerImage></learningOpportunity>"
        "</learningOpportunityReferences>"
    )
    [item] = gather(data)
    assert big.encode() not in item.item.content
    assert content(item).find("loq:bannerImage", NS) is not None


def test_specification_only_feed_yields_one_item_per_specification(spec: MappingSpec) -> None:
    data = feed(
        "<learningAchievementSpecificationReferences>"
        '<qualification id="q1"><title language="en">Q one</title></qualification>'
        '<learningAchievementSpecification id="las2"><title language="en">LAS two</title>'
        "</learningAchievementSpecification>"
        "</learningAchievementSpecificationReferences>"
    )
    items = gather(data, spec)
    assert [g.item.guid for g in items] == ["q1", "las2"]
    assert items[0].item.pointer == (
        "/loq:Courses/loq:learningAchievementSpecificationReferences/loq:qualification[1]"
    )
    root = content(items[0])
    assert (root.tag, root.get("idref")) == (f"{{{LOQ_NS}}}learningAchievementSpecification", "q1")
    assert [e.get("id") for e in root] == ["q1"]


def test_specifications_of_a_feed_with_opportunities_are_not_records() -> None:
    items = gather(EC_SAMPLE.read_bytes())
    assert [g.item.guid for g in items] == ["http://LOP-01", "http://LOP-02"]


@pytest.mark.parametrize("body", ["", '<agentReferences><organisation id="o"/></agentReferences>'])
def test_a_feed_without_records_fails_even_when_empty(body: str) -> None:
    # an empty <Courses/> once yielded nothing, which a complete run took as "every course gone"
    with pytest.raises(ParseError, match=r"no learningOpportunity.*empty feed is refused"):
        gather(feed(body))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<catalog/>", r"root element is <catalog>; a QDR LOQ feed has <Courses"),
        (b"<Courses/>", r"root element is <Courses>"),
        (b'<Courses xmlns="http://example.org/other"/>', r"xmlns='http://example.org/other'"),
        (b"<Courses xmlns='" + LOQ_NS.encode() + b"'><unclosed></Courses>", "not well-formed"),
    ],
)
def test_wrong_root_or_broken_xml_fails_the_feed(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        gather(data)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Courses [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Courses xmlns="http://data.europa.eu/snb/model/ap/loq-constraints/"><learningOpportunityReferences>
<learningOpportunity id="x"><title>&lol3;</title></learningOpportunity>
</learningOpportunityReferences></Courses>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Courses [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Courses xmlns="http://data.europa.eu/snb/model/ap/loq-constraints/"><learningOpportunityReferences>
<learningOpportunity id="x"><title>&xxe;</title></learningOpportunity>
</learningOpportunityReferences></Courses>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Courses SYSTEM "http://example.org/evil.dtd">
<Courses xmlns="http://data.europa.eu/snb/model/ap/loq-constraints/"/>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["billion-laughs", "xxe", "dtd"])
def test_entity_declarations_and_external_dtds_are_refused(data: bytes) -> None:
    with pytest.raises(ParseError, match="DOCTYPE"):
        gather(data)


def test_feed_over_the_reader_limit_fails(spec: MappingSpec) -> None:
    language = spec.selector_language
    assert isinstance(language, XmlRecords)
    small = replace(spec, selector_language=replace(language, max_bytes=100))
    with pytest.raises(ParseError, match="max_bytes"):
        gather(HANDMADE.read_bytes(), small)


def test_pipeline_harvests_and_replays_a_qdr_feed(sqlite_store: CatalogueStore) -> None:
    source = Source(id="qdr-hand", format="qdr-loq", mapping="qdr-loq")
    sqlite_store.save_source(source)
    report = run_harvest(sqlite_store, source, data=HANDMADE.read_bytes())
    assert report.status is RunStatus.SUCCEEDED, report.error
    assert report.counts[Outcome.ADDED] == 2
    stored = {c.course.provenance.provider_ref: c for c in sqlite_store.iter_courses(source_id="qdr-hand")}
    assert stored[LO1].course.eqf_level == 6
    again = run_harvest(sqlite_store, source, data=HANDMADE.read_bytes())
    assert again.counts[Outcome.UNCHANGED] == 2


def test_an_element_inlined_into_many_records_is_the_same_in_each() -> None:
    # From its second use a target is copied from a template: every copy must be whole and
    # independent (its own stubs filled, nothing shared between items).
    opportunities = "".join(
        f'<learningOpportunity id="lo{n}"><title>T{n}</title><providedBy idref="org"/></learningOpportunity>'
        for n in range(4)
    )
    data = feed(
        f"<learningOpportunityReferences>{opportunities}</learningOpportunityReferences>"
        '<agentReferences><organisation id="org"><legalName>O</legalName><location idref="loc"/>'
        '<!-- a comment --><note idref="loc"><!-- not a stub: it has a comment child --></note>'
        "</organisation></agentReferences>"
        '<locationReferences><location id="loc"><geographicName>Turku</geographicName></location>'
        "</locationReferences>"
    )
    items = gather(data)
    bodies = [
        g.item.content.replace(f'id="lo{n}"'.encode(), b"").replace(f">T{n}<".encode(), b"")
        for n, g in enumerate(items)
    ]
    assert len(set(bodies)) == 1
    roots = [content(g) for g in items]
    for root in roots:
        assert root.xpath(
            "loq:providedBy/loq:organisation/loq:location/loq:location/loq:geographicName/text()",
            namespaces=NS,
        ) == ["Turku"]
        assert [len(e) for e in root.xpath("loq:providedBy/loq:organisation/loq:note", namespaces=NS)] == [1]
    assert len({id(g.item.parsed) for g in items}) == 4
    items[0].item.parsed.find(f"{{{LOQ_NS}}}providedBy")[0].clear()  # one item's tree is its own
    assert items[1].item.parsed.xpath(
        "loq:providedBy/loq:organisation/loq:legalName/text()", namespaces=NS
    ) == ["O"]


def _xpath_links(copy: etree._Element) -> list[tuple[str, str]]:
    return [(etree.QName(stub).localname, stub.get("idref")) for stub in qdr._stubs(copy)]


@pytest.mark.parametrize("path", [HANDMADE, EC_SAMPLE], ids=lambda p: p.name)
def test_links_read_from_the_bytes_are_those_the_tree_has(path: Path) -> None:
    """The pass reads an element's links from its serialisation (`_scan_links`); the raw form
    and the walk over nodes rely on them being the stubs `_stubs` finds in the parsed copy."""
    root = etree.fromstring(path.read_bytes())
    checked = 0
    for element in root.iterfind("*/*"):
        copy = qdr._copy(element)
        found = qdr._scan_links(etree.tostring(copy, encoding="utf-8"))
        if found is not None:
            checked += 1
            assert found == _xpath_links(copy)
    assert checked > 10


@pytest.mark.parametrize(
    "element",
    [
        '<a xmlns="urn:x" xmlns:p="urn:p" id="r"><p:b idref="x&amp;y&#10;&lt;z&quot;" other="1">t</p:b>'
        '<c at="&gt;" idref=\'q\'/><d idref="n"><e/></d><f><g idref="deep"/></f><h xidref="no"/></a>',
        '<a id="r"><b idref="1"/><c id="inner"><d idref="2"/></c></a>',
        '<a id="r"><b idref="1"/><!-- <c idref="2"/> --><d idref="3"><!-- c --></d></a>',
        '<a idref="self"><b>text with idref="x" in it</b><c idref="é"/></a>',
    ],
)
def test_links_read_from_the_bytes_in_corner_cases(element: str) -> None:
    copy = qdr._copy(etree.fromstring(element))
    found = qdr._scan_links(etree.tostring(copy, encoding="utf-8"))
    assert found is None or found == _xpath_links(copy)
    if b"<!--" not in etree.tostring(copy) and "inner" not in element:
        assert found is not None


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        # an outcome the first record reaches through its specification (two links away)
        (b"Explain the basic concepts", b"Explain the main concepts", [0]),
        # a grading scheme four links away: opportunity, qualification, assessment, scheme
        (b"Grades 0-5 (0 = fail", b"Grades 0-5 (0 = failed", [0]),
        # a location the second record links itself and through its organisation
        (b"turku-arken", b"turku-arkenx", [1]),
        # the record itself, in its own bytes
        (b"Sommarkurs i svenska", b"Sommarkurs i svenska!", [1]),
    ],
)
def test_the_raw_form_changes_exactly_for_the_records_that_copy_a_change(
    old: bytes, new: bytes, changed: list[int]
) -> None:
    """An unchanged item is recognised by its raw form, read from the pass's digests and links
    without parsing: it must change when anything copied into the item changes, for those items
    only, and the items built must differ where and only where the raw forms do."""
    data = HANDMADE.read_bytes()
    assert old in data
    before, after = gather(data), gather(data.replace(old, new))
    pairs = list(zip(before, after, strict=True))
    assert [a.pointer for a, _ in pairs] == [b.pointer for _, b in pairs]
    assert [i for i, (a, b) in enumerate(pairs) if a.raw != b.raw] == changed
    assert [i for i, (a, b) in enumerate(pairs) if a.item.content != b.item.content] == changed
