"""XML harvester: records and context wrapping, pointers, and the security and error contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from catalogue.errors import ParseError
from catalogue.model import Course
from catalogue.validate import validate
from harvesters.base import harvester_for
from harvesters.xml import XmlHarvester
from mappings.engine import apply
from mappings.items import RawItem
from mappings.spec import MappingSpec, load_spec
from mappings.xml_paths import XML_MEDIA_TYPE
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
    assert isinstance(harvester_for("xml"), XmlHarvester)
    assert isinstance(harvester_for("xcri-cap"), XmlHarvester)


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
