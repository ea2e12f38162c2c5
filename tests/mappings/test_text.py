"""Text clean-up normalisers and the locale-tolerant number reader."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.numerals import parse_number, tidy
from course_catalogue.mappings.transforms.text import (
    clean_text,
    html_text,
    iri,
    person_names,
    url,
    xhtml_text,
)


@pytest.mark.parametrize(
    ("published", "clean"),
    [
        ("  a  b ", "a b"),
        ("a\tb\u00a0c", "a b c"),
        ("one\r\n\r\n\r\ntwo", "one\n\ntwo"),
        ("  line one \n line two ", "line one\nline two"),
        ("plain", "plain"),
    ],
)
def test_clean_text(published: str, clean: str) -> None:
    assert clean_text(published) == clean


@pytest.mark.parametrize(
    ("published", "text"),
    [
        ("<p>Learn <b>Python</b></p><p>Fast &amp; well</p>", "Learn Python\n\nFast & well"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("a<br>b", "a\nb"),
        ("no markup here", "no markup here"),
        ("<script>x()</script>kept", "kept"),
        # entities are decoded exactly once
        ("<p>Use &amp;lt;b&amp;gt;</p>", "Use &lt;b&gt;"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("&lt;p&gt; is a tag", "<p> is a tag"),
        # blocks never glue words together
        (
            "<ul><li>Online Communications</li><li>Microsoft Office Applications</li></ul>",
            "Online Communications\nMicrosoft Office Applications",
        ),
        ("<p>at Level 4</p><p>NQ Digital Media</p>", "at Level 4\n\nNQ Digital Media"),
        ("<h2>Entry</h2>Level 4<h3>Progression</h3>HNC", "Entry\n\nLevel 4\n\nProgression\n\nHNC"),
        (
            "<table><tr><th>Unit</th><th>Credits</th></tr><tr><td>Maths</td><td>8</td></tr></table>",
            "Unit | Credits\nMaths | 8",
        ),
        ("<div>one</div><div>two</div>", "one\ntwo"),
        ("line<br/>break<br>twice", "line\nbreak\ntwice"),
        # whitespace inside HTML is layout, not text
        ("<p>one\n   two</p>", "one two"),
        # inline elements run on with their text, as a browser shows them
        ("<p>Programme Manager:<a href='mailto:x@y.uk'>x@y.uk</a>.</p>", "Programme Manager:x@y.uk."),
        ("<p>Co<em>op</em> <b>bold</b></p>", "Coop bold"),
        # text without tags keeps its own line breaks; so does a fragment without block markup
        ("First line\n\nSecond &amp; last", "First line\n\nSecond & last"),
        ("Intro\n\n<b>Note:</b> bring a laptop", "Intro\n\nNote: bring a laptop"),
        ("x < y and y > z", "x < y and y > z"),
        ("", None),
        ("<p> </p>", None),
    ],
)
def test_html_text(published: str, text: str | None) -> None:
    assert html_text(published).value == text


@pytest.mark.parametrize(
    ("published", "value"),
    [
        ("https://www.edx.org/course/x", "https://www.edx.org/course/x"),
        ("www.example.org/a", "https://www.example.org/a"),
        ("lyceedekerneuzec.fr", "https://lyceedekerneuzec.fr"),  # no scheme, no www: a public suffix
        ("www2.cndp.fr/archivage/c052.htm", "https://www2.cndp.fr/archivage/c052.htm"),
        ("univ.ac.uk/courses?id=3", "https://univ.ac.uk/courses?id=3"),
        ("https://münchen.de/kurs", "https://münchen.de/kurs"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
        ("https://my_site.example.org/", "https://my_site.example.org/"),
    ],
)
def test_url(published: str, value: str) -> None:
    assert url(published) == (value, ())


@pytest.mark.parametrize(
    "published",
    [
        "ftp://x.org/a",
        "not a url",
        "http://",
        "javascript:alert(1)",
        "https://your_course_url...",  # a template's placeholder: empty labels, no host name
        "https://-x.org/",
        "brochure.pdf",  # no scheme and "pdf" is no public suffix: a file, not a site
        "co.uk/courses",  # a public suffix alone names no site
    ],
)
def test_bad_url_is_warned(published: str) -> None:
    assert url(published).issues[0].severity is Severity.WARNING


def test_iri() -> None:
    assert iri("http://data.europa.eu/snb/learning-opportunity/17744a2647").issues == ()
    assert iri("MOOC").value is None


@pytest.mark.parametrize(
    ("published", "names"),
    [
        ("Nina Huntemann-Robyn Belair-Ben Piscopo", ("Nina Huntemann", "Robyn Belair", "Ben Piscopo")),
        ("Dacher Keltner-Emiliana Simon-Thomas", ("Dacher Keltner", "Emiliana Simon-Thomas")),
        ("Charles Severance", ("Charles Severance",)),
    ],
)
def test_person_names(published: str, names: tuple[str, ...]) -> None:
    assert person_names(published).value == names


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("7", "7"),
        ("7,5", "7.5"),
        ("1.5", "1.5"),
        ("1,200", "1200"),
        ("1.234,50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1 234,50", "1234.50"),
        ("1.234.567", "1234567"),
        ("0,500", "0.500"),
    ],
)
def test_parse_number(token: str, value: str) -> None:
    assert parse_number(token) == Decimal(value)


@pytest.mark.parametrize(
    ("value", "shown"), [("0.70", "0.7"), ("10.00", "10"), ("2.345", "2.34"), ("100", "100")]
)
def test_tidy(value: str, shown: str) -> None:
    assert str(tidy(Decimal(value))) == shown


def test_xhtml_inside_xml_keeps_its_blocks() -> None:
    element = etree.fromstring(
        '<description xmlns="http://purl.org/dc/elements/1.1/">'
        '<div xmlns="http://www.w3.org/1999/xhtml"><p>at Level 4</p><!-- note -->'
        "<ul><li>Online Communications</li><li>Microsoft Office &amp; more</li></ul></div></description>"
    )
    assert xhtml_text(element) == "at Level 4\n\nOnline Communications\nMicrosoft Office & more"
    assert len(element[0]) == 3  # the selected element itself is left as it was
