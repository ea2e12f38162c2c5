"""XML harvester: records and context wrapping, pointers, and the security and error contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from course_catalogue.catalogue.errors import ParseError
from course_catalogue.catalogue.model import Course
from course_catalogue.catalogue.validate import validate
from course_catalogue.harvesters import xml as xml_harvester
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.harvesters.xml import XmlHarvester
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.spec import MappingSpec, load_spec
from course_catalogue.mappings.xml_paths import XML_MEDIA_TYPE
from tests.golden import assert_golden

FIXTURES = Path(__file__).parent.parent / "fixtures"

SPEC = """
format = "xml"
[namespaces]
c = "urn:c"
[reader]
record = ["c:offer", "c:course[not(c:offer)]"]
context = ["c:org", "c:course"]
{extra}
[id]
xpath = "@id"
[fields.title]
xpath = "ancestor-or-self::c:course/c:title"
[fields.provider]
[fields.provider.fields.name]
xpath = "ancestor::c:org/c:name"
"""

FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<cat xmlns="urn:c"><org><name>Org A</name>
  <course id="k1"><title>One</title><offer id="o1"/><offer id="o2"><start>2025</start></offer></course>
  <course id="k2"><title>Two</title></course>
  <note>after the courses</note>
</org></cat>"""


def make_spec(tmp_path: Path, extra: str = "") -> MappingSpec:
    path = tmp_path / "demo.toml"
    path.write_text(SPEC.replace("{extra}", extra), encoding="utf-8")
    return load_spec(str(path))


def items(data: bytes, spec: MappingSpec) -> list[RawItem]:
    return [g.item for g in XmlHarvester().gather(data, spec)]


def test_registered_for_xml_and_xcri() -> None:
    assert isinstance(harvester_for("xml").harvester, XmlHarvester)
    assert isinstance(harvester_for("xcri-cap").harvester, XmlHarvester)


def test_records_with_context_are_self_contained(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    found = items(FEED, spec)
    assert [i.pointer for i in found] == [
        "/cat/org[1]/course[1]/offer[1] (line 3)",
        "/cat/org[1]/course[1]/offer[2] (line 3)",
        "/cat/org[1]/course[2] (line 4)",
    ]
    first = etree.fromstring(found[0].content)
    # the org copy keeps its own children (also those after the record), not the other courses
    assert [etree.QName(e).localname for e in first] == ["name", "note", "course"]
    course = first[2]
    assert [etree.QName(e).localname for e in course] == ["title", "offer"]
    assert all(i.media_type == XML_MEDIA_TYPE for i in found)
    # replay from bytes alone gives the same mapping as the harvested item
    for item in found:
        live = apply(spec, item, "s")
        replay = apply(spec, RawItem(item.content, item.media_type, item.pointer), "s")
        assert live.course == replay.course and live.course is not None
        assert live.course.provider.name == {"und": "Org A"}
    assert [apply(spec, i, "s").provider_ref for i in found] == ["o1", "o2", "k2"]


def test_records_without_context(tmp_path: Path) -> None:
    path = tmp_path / "flat.toml"
    path.write_text(
        'format = "xml"\n[namespaces]\nc = "urn:c"\n[reader]\nrecord = "c:offer"\n'
        '[id]\nxpath = "@id"\n[fields.title]\nxpath = "string(@id)"\n',
        encoding="utf-8",
    )
    found = items(FEED, load_spec(str(path)))
    assert [etree.fromstring(i.content).get("id") for i in found] == ["o1", "o2"]


def test_no_record_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no record element"):
        items(b'<cat xmlns="urn:c"/>', make_spec(tmp_path))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<cat xmlns="urn:c"><org><course id="k"><title>&lol9;</title></course></org></cat>"""


def _with_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    return secret


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE cat [<!ENTITY xxe SYSTEM "file://{secret}">]>',
        '<!DOCTYPE cat [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE cat [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/evil">]>',
        '<!DOCTYPE cat [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>',
        '<!DOCTYPE cat SYSTEM "file://{secret}">',
        '<!DOCTYPE cat PUBLIC "-//X//DTD X//EN" "http://127.0.0.1:9/x.dtd">',
    ],
    ids=["xxe-file", "xxe-passwd", "xxe-network", "parameter-entity", "external-dtd", "network-dtd"],
)
def test_entities_and_external_dtds_are_refused(tmp_path: Path, doctype: str) -> None:
    secret = _with_secret(tmp_path)
    body = '<cat xmlns="urn:c"><org><course id="k"><title>&xxe;</title></course></org></cat>'
    if "xxe" not in doctype:
        body = body.replace("&xxe;", "t")
    data = ('<?xml version="1.0"?>\n' + doctype.format(secret=secret) + body).encode()
    with pytest.raises(ParseError) as caught:
        items(data, make_spec(tmp_path))
    assert "TOP-SECRET" not in str(caught.value)
    assert "root:" not in str(caught.value)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="entit"):
        items(BILLION_LAUGHS, make_spec(tmp_path))


def test_bare_doctype_is_accepted(tmp_path: Path) -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE cat>' + FEED.split(b"?>", 1)[1]
    assert len(items(data, make_spec(tmp_path))) == 3


def test_oversized_feed_is_refused(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "max_bytes = 100")
    with pytest.raises(ParseError, match="max_bytes"):
        items(FEED, spec)


@pytest.mark.parametrize(
    "data",
    [
        FEED[: len(FEED) // 2],
        b"",
        b"not xml at all",
        b'<cat xmlns="urn:c"><org><course id="k"><title>&nbsp;</title></course></org></cat>',
        b'<cat xmlns="urn:c"><org></cat>',
        b"\xff\xfe\x00garbage",
    ],
    ids=["truncated", "empty", "text", "undeclared-entity", "mismatched-tag", "bad-bytes"],
)
def test_malformed_xml_is_a_parse_error(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ParseError):
        items(data, make_spec(tmp_path))


@pytest.mark.parametrize(
    "data", [b'<cat xmlns="urn:c"><offer/><q:', b'<cat xmlns="urn:c"><offer id="1"/><x:y']
)
def test_a_feed_cut_in_a_prefixed_name_is_a_parse_error(tmp_path: Path, data: bytes) -> None:
    # without contexts the reader once saw the half-read element and failed on its name (ValueError)
    path = tmp_path / "flat.toml"
    path.write_text(
        'format = "xml"\n[namespaces]\nc = "urn:c"\n[reader]\nrecord = "c:offer"\n'
        '[id]\nxpath = "@id"\n[fields.title]\nxpath = "string(@id)"\n',
        encoding="utf-8",
    )
    with pytest.raises(ParseError, match="not well-formed"):
        items(data, load_spec(str(path)))


def _mapped(name: str, spec_name: str) -> list[Course]:
    spec = load_spec(spec_name)
    data = (FIXTURES / name).read_bytes()
    courses: list[Course] = []
    for gathered in harvester_for(spec.format).gather(data, spec):
        record = apply(spec, gathered.item, "golden")
        assert record.course is not None, record.issues
        assert not [i for i in validate(record.course) if i.severity.value == "error"]
        courses.append(record.course)
    return courses


def test_golden_xcri_open_university() -> None:
    assert_golden(
        "xcri-cap12_open_university_2011", _mapped("xcri-cap12_open_university_2011.xml", "xcri-cap")
    )


def test_golden_xcri_wychwolf() -> None:
    assert_golden(
        "xcri-cap12_wychwolf_moodle_2012", _mapped("xcri-cap12_wychwolf_moodle_2012.xml", "xcri-cap")
    )


# -- pointers and content for tricky layouts (pinned before the reader was made event-filtered) ----


def _spec(tmp_path: Path, record: str, context: str = "", namespaces: str = 'c = "urn:c"') -> MappingSpec:
    path = tmp_path / "layout.toml"
    contexts = f"context = {context}\n" if context else ""
    path.write_text(
        f'format = "xml"\n[namespaces]\n{namespaces}\n[reader]\nrecord = {record}\n{contexts}'
        '[id]\nxpath = "@id"\n[fields.title]\nxpath = "string(@id)"\n',
        encoding="utf-8",
    )
    return load_spec(str(path))


def _read(data: bytes, spec: MappingSpec) -> list[tuple[str | None, bytes]]:
    found = items(data, spec)
    for item in found:
        # `parsed` is the record inside its wrapper, whose serialisation is the content
        root = item.parsed.getroottree().getroot()
        assert etree.tostring(root) == item.content
    return [(i.pointer, i.content) for i in found]


MIXED = b"""<cat xmlns="urn:c">
<x/><offer id="a"/><y><offer id="in-y"/></y><offer id="b"/><x/>
<group><offer id="g1"/><x/><offer id="g2"/></group>
<group><z/></group>
<group><note><offer id="deep"/></note><offer id="g3"/></group>
<offer id="c">tail text</offer>
</cat>"""


def test_pointers_count_same_named_siblings_among_mixed_ones(tmp_path: Path) -> None:
    found = _read(MIXED, _spec(tmp_path, '"c:offer"'))
    assert [p for p, _ in found] == [
        "/cat/offer[1] (line 2)",
        "/cat/y[1]/offer[1] (line 2)",
        "/cat/offer[2] (line 2)",
        "/cat/group[1]/offer[1] (line 3)",
        "/cat/group[1]/offer[2] (line 3)",
        "/cat/group[3]/note[1]/offer[1] (line 5)",
        "/cat/group[3]/offer[1] (line 5)",
        "/cat/offer[3] (line 6)",
    ]
    assert found[-1][1] == b'<offer xmlns="urn:c" id="c">tail text</offer>'


def test_pointers_under_a_context_wrapper_with_non_record_ancestors(tmp_path: Path) -> None:
    found = _read(MIXED, _spec(tmp_path, '"c:offer"', '["c:group"]'))
    assert [p for p, _ in found][3:7] == [
        "/cat/group[1]/offer[1] (line 3)",
        "/cat/group[1]/offer[2] (line 3)",
        "/cat/group[3]/note[1]/offer[1] (line 5)",
        "/cat/group[3]/offer[1] (line 5)",
    ]
    assert found[3][1] == b'<group xmlns="urn:c"><x/><offer id="g1"/></group>'
    # the note is no context: the group's copy keeps it, with its record emptied
    assert found[5][1] == b'<group xmlns="urn:c"><note><offer/></note><offer id="deep"/></group>'
    assert found[0][1] == b'<offer xmlns="urn:c" id="a"/>'


NESTED = b"""<cat xmlns="urn:c"><item id="1"><item id="1.1"><item id="1.1.1">t</item></item>
<item id="1.2"/><name>one</name></item>
<item id="2"><sub><item id="2.1"/></sub><item id="2.2"/></item></cat>"""


def test_records_nested_in_records(tmp_path: Path) -> None:
    found = _read(NESTED, _spec(tmp_path, '"c:item"'))
    assert found == [
        ("/cat/item[1]/item[1]/item[1] (line 1)", b'<item xmlns="urn:c" id="1.1.1">t</item>'),
        ("/cat/item[1]/item[1] (line 1)", b'<item xmlns="urn:c" id="1.1"><item/></item>'),
        ("/cat/item[1]/item[2] (line 2)", b'<item xmlns="urn:c" id="1.2"/>'),
        ("/cat/item[1] (line 1)", b'<item xmlns="urn:c" id="1"><item/><item/><name>one</name></item>'),
        ("/cat/item[2]/sub[1]/item[1] (line 3)", b'<item xmlns="urn:c" id="2.1"/>'),
        ("/cat/item[2]/item[1] (line 3)", b'<item xmlns="urn:c" id="2.2"/>'),
        ("/cat/item[2] (line 3)", b'<item xmlns="urn:c" id="2"><sub><item/></sub><item/></item>'),
    ]


def test_nested_records_with_a_predicate_and_contexts(tmp_path: Path) -> None:
    spec = _spec(tmp_path, '["c:item[not(c:item)]"]', '["c:cat", "c:item"]')
    found = _read(NESTED, spec)
    assert [p for p, _ in found] == [
        "/cat/item[1]/item[1]/item[1] (line 1)",
        "/cat/item[1]/item[2] (line 2)",
        "/cat/item[2]/sub[1]/item[1] (line 3)",
        "/cat/item[2]/item[1] (line 3)",
    ]
    assert found[1][1] == (b'<cat xmlns="urn:c"><item id="1"><name>one</name><item id="1.2"/></item></cat>')
    # a record in a record's copy is emptied, wherever it sits
    assert found[2][1] == (b'<cat xmlns="urn:c"><item id="2"><sub><item/></sub><item id="2.1"/></item></cat>')


NAMESPACED = b"""<?xml version="1.0"?>
<r:root xmlns:r="urn:r" xmlns:a="urn:a" xmlns:b="urn:b">
 <a:offer id="a1"/><b:offer id="b1"/><a:offer id="a2"/>
 <r:wrap xmlns="urn:a"><offer id="a3"/><b:offer id="b2" xmlns:x="urn:x" x:k="v"/></r:wrap>
 <a:wrap><a:offer id="a4" xmlns:a="urn:a"/></a:wrap>
</r:root>"""


def test_pointers_use_local_names_and_count_by_namespace(tmp_path: Path) -> None:
    spec = _spec(tmp_path, '["a:offer", "b:offer"]', namespaces='a = "urn:a"\nb = "urn:b"')
    found = _read(NAMESPACED, spec)
    assert [p for p, _ in found] == [
        "/root/offer[1] (line 3)",
        "/root/offer[1] (line 3)",
        "/root/offer[2] (line 3)",
        "/root/wrap[1]/offer[1] (line 4)",
        "/root/wrap[1]/offer[1] (line 4)",
        "/root/wrap[1]/offer[1] (line 5)",
    ]
    assert found[0][1] == b'<a:offer xmlns:a="urn:a" id="a1"/>'
    assert found[3][1] == b'<offer xmlns="urn:a" id="a3"/>'
    assert found[4][1] == b'<b:offer xmlns:x="urn:x" xmlns:b="urn:b" id="b2" x:k="v"/>'
    assert found[5][1] == b'<a:offer xmlns:a="urn:a" id="a4"/>'


def test_namespaced_contexts_are_copied_with_their_declarations(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path, '["a:offer", "b:offer"]', '["r:root", "r:wrap"]', 'a = "urn:a"\nb = "urn:b"\nr = "urn:r"'
    )
    found = _read(NAMESPACED, spec)
    # the root's copy keeps its non-context child a:wrap, with the record in it emptied
    root = (
        b'<r:root xmlns:r="urn:r" xmlns:a="urn:a" xmlns:b="urn:b">\n'
        b' <a:wrap><a:offer xmlns:a="urn:a"/></a:wrap>\n'
    )
    assert found[0][1] == root + b'<a:offer id="a1"/></r:root>'
    assert found[3][1] == root + b'<r:wrap><a:offer id="a3"/></r:wrap></r:root>'
    assert found[4][1] == root + b'<r:wrap><b:offer xmlns:x="urn:x" id="b2" x:k="v"/></r:wrap></r:root>'
    assert found[5][1] == root + b'<a:offer id="a4"/></r:root>'


def test_records_at_different_depths_under_deep_wrappers(tmp_path: Path) -> None:
    depth = 40
    data = (
        b'<cat xmlns="urn:c">'
        + b"<w>" * depth
        + b'<offer id="deep"/>'
        + b"</w>" * depth
        + b'<w/><w><offer id="top"/></w></cat>'
    )
    found = _read(data, _spec(tmp_path, '"c:offer"'))
    assert [p for p, _ in found] == [
        "/cat" + "/w[1]" * depth + "/offer[1] (line 1)",
        "/cat/w[3]/offer[1] (line 1)",
    ]


def test_many_same_named_siblings_are_numbered_in_order(tmp_path: Path) -> None:
    rows = b"".join(b'<x/><offer id="%d"/>' % n + (b"<offer/>" if n % 3 else b"") for n in range(300))
    found = _read(b'<cat xmlns="urn:c">' + rows + b"</cat>", _spec(tmp_path, '"c:offer[@id]"'))
    positions = [int(str(p).split("offer[")[1].split("]")[0]) for p, _ in found]
    expected, position = [], 0
    for n in range(300):
        position += 1
        expected.append(position)
        position += 1 if n % 3 else 0
    assert positions == expected


@pytest.mark.parametrize(
    ("unit", "context"),
    [
        # XCRI-CAP's shape: a context repeated under the root (a provider per export block)
        (b'<org><name>o</name><course id="k{n}"><offer id="o{n}"/></course></org>', '["c:org", "c:course"]'),
        # records straight under the root
        (b'<offer id="o{n}"><t>text</t></offer>', ""),
        # records in wrappers no pattern names (swept, not taken)
        (b'<w><x/><offer id="o{n}"/></w>', ""),
    ],
)
def test_ended_elements_leave_the_tree_while_a_feed_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unit: bytes, context: str
) -> None:
    """The tree the pass keeps does not grow with the feed: an element no later position is
    counted from is removed once done with (it was cleared, and stayed: ~130 bytes each, a
    million of them in a 1M-record XCRI-CAP feed's <catalog>)."""
    count = 300
    sizes: list[int] = []  # elements in the tree at each end event of the last pass
    original = xml_harvester.secure_events

    def watched(data: Any, tags: Any = None, **options: Any) -> Iterator[tuple[str, Any]]:
        sizes.clear()  # the reader checks the prolog with a pass of its own first
        root = None
        for event, element in original(data, tags, **options):
            root = element.getroottree().getroot() if root is None else root
            if event == "end":
                sizes.append(sum(1 for _ in root.iter()))
            yield event, element

    monkeypatch.setattr(xml_harvester, "secure_events", watched)
    body = b"".join(unit.replace(b"{n}", str(n).encode()) for n in range(count))
    found = _read(b'<cat xmlns="urn:c">' + body + b"</cat>", _spec(tmp_path, '"c:offer"', context))
    assert len(found) == count
    last = found[-1][0]
    assert last is not None and f"[{count}]" in last, last  # positions are still counted
    assert sizes[-1] < 10, sizes[-5:]  # at the root's end: it was count to count * 4


def test_a_record_predicate_still_counts_the_records_inside_it(tmp_path: Path) -> None:
    """Ended records leave the tree, but not from inside an element that may itself be a
    record: its predicate, evaluated at its end, sees every one of them."""
    spec = _spec(tmp_path, '["c:offer", "c:course[count(c:offer) < 2]"]', '["c:course"]')
    data = (
        b'<cat xmlns="urn:c"><course id="many"><offer id="1"/><offer id="2"/><offer id="3"/></course>'
        b'<course id="one"><offer id="4"/></course></cat>'
    )
    pointers = [str(pointer).split(" ")[0] for pointer, _ in _read(data, spec)]
    # "many" holds three offers: not a record; "one" holds one: a record
    offers = [f"/cat/course[1]/offer[{n}]" for n in (1, 2, 3)] + ["/cat/course[2]/offer[1]"]
    assert pointers == [*offers, "/cat/course[2]"]


VENUES = b"""<catalog xmlns="http://xcri.org/profiles/1.2/catalog" xmlns:mlo="http://purl.org/net/mlo"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
 <provider><dc:title>Example College</dc:title>
  <mlo:location><mlo:town>Headquarters Town</mlo:town></mlo:location>
  <course><dc:identifier>C1</dc:identifier><dc:title>HNC Computing</dc:title>
   <presentation><dc:identifier>P1</dc:identifier>
    <venue><provider><dc:title>Town Campus</dc:title><mlo:location><mlo:street>1 High St</mlo:street>
     <mlo:town>Perth</mlo:town><mlo:postcode>PH1 1AA</mlo:postcode></mlo:location></provider></venue>
   </presentation>
   <presentation><dc:identifier>P2</dc:identifier>
    <venue><provider><dc:title>City Campus</dc:title><mlo:location><mlo:street>2 Low Rd</mlo:street>
     <mlo:town>Dundee</mlo:town><mlo:postcode>DD1 1BB</mlo:postcode></mlo:location></provider></venue>
   </presentation>
  </course>
  <course><dc:identifier>C2</dc:identifier><dc:title>NC Care</dc:title>
   <presentation><dc:identifier>P3</dc:identifier>
    <venue><provider><mlo:location><mlo:town>Perth</mlo:town></mlo:location></provider></venue>
   </presentation>
  </course>
 </provider>
</catalog>"""


def test_an_element_inside_a_record_stays_whole_whatever_its_tag() -> None:
    # A real college feed (several presentations per course, each with a venue) lost every venue:
    # the venue's <provider> has the tag of a context element and was cleared as one.
    spec = load_spec("xcri-cap")
    found = {}
    for gathered in harvester_for("xcri-cap").gather(VENUES, spec):
        mapped = apply(spec, gathered.item, "src")
        assert mapped.course is not None
        found[mapped.provider_ref] = [
            (loc.city, loc.postcode, loc.address) for loc in mapped.course.locations
        ]
    assert found == {
        "P1": [("Perth", "PH1 1AA", "Town Campus, 1 High St")],
        "P2": [("Dundee", "DD1 1BB", "City Campus, 2 Low Rd")],
        "P3": [("Perth", None, None)],
    }


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        # the provider's location, after every course: in the shell around every record
        (b"<mlo:town>Milton Keynes</mlo:town>", b"<mlo:town>Milton Keynes!</mlo:town>", [0, 1, 2, 3]),
        # the first course's subject, before its presentations: in its three records' shell
        (b"<dc:subject>Literature and", b"<dc:subject>Poetry and", [0, 1, 2]),
        # one presentation's own bytes
        (b"<applyFrom>2010-09-05</applyFrom>", b"<applyFrom>2010-09-06</applyFrom>", [0]),
    ],
)
def test_the_raw_form_changes_exactly_for_the_records_that_copy_a_change(
    old: bytes, new: bytes, changed: list[int]
) -> None:
    """Records are recognised by their raw form (their bytes after the digests of the context
    shells around them, kept on disk between the passes): a change in a context, before or after
    the records in it, changes those records' raw forms and built items, and no others."""
    spec = load_spec("xcri-cap")
    data = (FIXTURES / "xcri-cap12_open_university_2011.xml").read_bytes()
    assert data.count(old) == 1
    before = list(XmlHarvester().gather(data, spec))
    after = list(XmlHarvester().gather(data.replace(old, new), spec))
    pairs = list(zip(before, after, strict=True))
    assert len(pairs) == 4
    assert [i for i, (a, b) in enumerate(pairs) if a.raw != b.raw] == changed
    assert [i for i, (a, b) in enumerate(pairs) if a.item.content != b.item.content] == changed
