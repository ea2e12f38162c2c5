"""The XML selector language: XPath results, namespaces, languages, record lookup and spec errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.spec import load_spec
from course_catalogue.mappings.values import Published, lang_of, text_of
from course_catalogue.mappings.xml_paths import XML_MEDIA_TYPE, XmlRecords

NS = {"c": "urn:c", "dc": "http://purl.org/dc/elements/1.1/"}
DOC = b"""<cat xmlns="urn:c" xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="en">
<course id="k1" language="fi"><dc:title xml:lang="fr">T <b>gras</b></dc:title><n>2</n><n>3</n>
<!-- a comment --></course><course id="k2"/></cat>"""


def language(**reader: object) -> XmlRecords:
    return XmlRecords().configure(NS, {"record": "c:course", **reader})


def record(lang: XmlRecords) -> object:
    return lang.parse(RawItem(DOC, XML_MEDIA_TYPE))


def texts(values: list[Published] | None) -> list[str] | None:
    """A selector's result as its texts (languages are checked with `lang_of`)."""
    return None if values is None else [text_of(v) for v in values]


def test_parse_finds_the_first_record_in_the_wrapper() -> None:
    element = record(language())
    assert isinstance(element, etree._Element) and element.get("id") == "k1"


@pytest.mark.parametrize(
    ("xpath", "expected"),
    [
        ("dc:title", ["T gras"]),  # an element gives all its text
        ("@id", ["k1"]),
        ("c:n", ["2", "3"]),
        ("sum(c:n)", ["5"]),
        ("sum(c:n) div 2", ["2.5"]),
        ("count(c:n) > 1", ["true"]),
        ("concat(@id, '-', c:n)", ["k1-2"]),
        ("string(c:missing)", []),
        ("c:missing", []),
        ("../c:course[2]/@id", ["k2"]),
        ("node()[self::comment()]", []),
    ],
)
def test_results(xpath: str, expected: list[str]) -> None:
    lang = language()
    assert texts(lang.compile("xpath", xpath)(record(lang))) == expected


def test_languages_follow_the_nearest_attribute() -> None:
    default = language()
    values = default.compile("xpath", "dc:title | c:n | @id")(record(default)) or []
    assert [lang_of(v) for v in values] == ["en", "fr", "en", "en"]  # document order: @id first
    qdr = language(lang_attributes=["language"])
    values = qdr.compile("xpath", "dc:title | c:n")(record(qdr)) or []
    assert [lang_of(v) for v in values] == ["fi", "fi", "fi"]


def test_nodes_for_groups() -> None:
    lang = language()
    nodes = lang.compile_nodes("each", "c:n")(record(lang))
    assert [n.text for n in nodes] == ["2", "3"]  # type: ignore[union-attr]
    assert lang.compile_nodes("each", "string(c:n)")(record(lang)) == []


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("x:title", "invalid XPath"),
        ("c:title[", "invalid XPath"),
        ("nosuch(.)", "invalid XPath"),
        ("", "empty"),
    ],
)
def test_bad_expressions(expression: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        language().compile("xpath", expression)


SPEC = """
format = "xml"
[namespaces]
c = "urn:c"
[reader]
record = "c:course"
{reader}
[id]
xpath = "@id"
[fields.title]
xpath = "{xpath}"
"""


@pytest.mark.parametrize(
    ("reader", "xpath", "message"),
    [
        ("", "x:t", "fields.title.xpath: invalid XPath"),
        ('context = ["c:org[@a]"]', "c:t", "without \\[predicates\\]"),
        ('context = ["z:org"]', "c:t", "prefix 'z'"),
        ("max_bytes = 0", "c:t", "reader.max_bytes: must be a positive integer"),
        ('delimiter = ","', "c:t", "unknown key\\(s\\) delimiter"),
    ],
)
def test_spec_errors(tmp_path: Path, reader: str, xpath: str, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(SPEC.format(reader=reader, xpath=xpath), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_spec(str(path))


def test_namespaces_rejected_for_csv(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'format = "csv"\n[namespaces]\nc = "urn:c"\n[fields.title]\ncolumn = "t"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigurationError, match="take no namespaces"):
        load_spec(str(path))


def test_exslt_regular_expressions_stay_available_to_specs_that_bind_them() -> None:
    # XPaths are compiled without the EXSLT functions (a cost on every call) unless the spec
    # binds a prefix to their namespace; then they work as before.
    own = XmlRecords().configure({**NS, "rx": "http://exslt.org/regular-expressions"}, {"record": "c:course"})
    assert texts(own.compile("xpath", "rx:replace(@id, 'k', '', 'K')")(record(own))) == ["K1"]
    assert texts(own.compile("xpath", "c:n[rx:test(., '3')]")(record(own))) == ["3"]
    with pytest.raises(ValueError, match="Undefined namespace prefix"):
        language().compile("xpath", "rx:test(@id, 'k')")


def test_leaf_and_mixed_content_elements_give_their_string_value() -> None:
    lang = language()
    doc = b'<c:course xmlns:c="urn:c"><c:a>x<![CDATA[ & y]]></c:a><c:a/><c:a>p<c:b>q</c:b>r</c:a></c:course>'
    element = lang.parse(RawItem(doc, XML_MEDIA_TYPE))
    assert lang.compile("xpath", "c:a")(element) == ["x & y", "", "pqr"]
