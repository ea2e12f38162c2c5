"""Repeating groups: provider, awarding bodies, learning outcomes and locations from sub-nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.catalogue.model import LearningOutcome, Location, Organisation
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import CSV_ROW, RawItem
from course_catalogue.mappings.spec import MappingSpec, load_spec

XML_SPEC = """
format = "xml"
[namespaces]
c = "urn:c"
[reader]
record = "c:course"
[id]
xpath = "@id"
[fields.title]
xpath = "c:title"
[fields.provider]
[fields.provider.fields.name]
xpath = "../c:name"
[fields.provider.fields.country]
xpath = "../@country"
[fields.awarding_bodies]
each = "c:award"
[fields.awarding_bodies.fields.name]
xpath = "."
[fields.awarding_bodies.fields.homepage]
xpath = "@href"
[fields.learning_outcomes]
each = "c:outcome"
[fields.learning_outcomes.fields.text]
xpath = "c:text"
[fields.learning_outcomes.fields.esco_uri]
xpath = "@skill"
[fields.learning_outcomes.fields.skill_type]
xpath = "@type"
[[fields.locations]]
each = "c:venue"
[fields.locations.fields.city]
xpath = "c:city"
required = true
[fields.locations.fields.latitude]
xpath = "@lat"
[[fields.locations]]
each = "../c:address"
fallback = true
[fields.locations.fields.city]
xpath = "c:city"
"""

DOC = b"""<org xmlns="urn:c" country="Ireland"><name>Uni</name>
<course id="k"><title>T</title>
<award href="www.a.example">A</award><award>B</award>
<outcome skill="http://data.europa.eu/esco/skill/abc" type="skill"><text>Do</text></outcome>
<outcome skill="http://data.europa.eu/esco/skill/def"/>
<venue lat="53.3"><city>Dublin</city></venue><venue lat="1"/><venue><city>Cork</city></venue>
</course><address><city>Galway</city></address></org>"""


def _spec(tmp_path: Path, text: str) -> MappingSpec:
    path = tmp_path / "g.toml"
    path.write_text(text, encoding="utf-8")
    return load_spec(str(path))


def test_groups_from_sub_nodes(tmp_path: Path) -> None:
    spec = _spec(tmp_path, XML_SPEC)
    record = apply(spec, RawItem(DOC, "application/xml"), "s")
    course = record.course
    assert course is not None
    assert course.provider == Organisation(name={"und": "Uni"}, country="IRL")
    assert course.awarding_bodies == (
        Organisation(name={"und": "A"}, homepage="https://www.a.example"),
        Organisation(name={"und": "B"}),
    )
    assert course.learning_outcomes == (
        LearningOutcome(
            text={"und": "Do"}, esco_uri="http://data.europa.eu/esco/skill/abc", skill_type="skill"
        ),
    )
    assert course.locations == (Location(city="Dublin", latitude=53.3), Location(city="Cork"))
    codes = [i.code for i in record.issues]
    assert codes.count("incomplete-group") == 2  # the venue without a city, the outcome without text


def test_group_fallback_used_when_first_gives_nothing(tmp_path: Path) -> None:
    spec = _spec(tmp_path, XML_SPEC)
    doc = DOC.replace(b"<venue", b"<place").replace(b"</venue>", b"</place>")
    course = apply(spec, RawItem(doc, "application/xml"), "s").course
    assert course is not None and course.locations == (Location(city="Galway"),)


CSV_SPEC = """
format = "csv"
[id]
column = "id"
[fields.title]
column = "title"
[fields.provider]
[fields.provider.fields.name]
column = "org"
[fields.provider.fields.country]
constant = "France"
[fields.locations]
[fields.locations.fields.city]
column = "city"
"""


def test_csv_groups_without_each(tmp_path: Path) -> None:
    spec = _spec(tmp_path, CSV_SPEC)
    row = {"id": "1", "title": "T", "org": "O", "city": "Lyon"}
    course = apply(spec, RawItem(json.dumps(row).encode(), CSV_ROW), "s").course
    assert course is not None
    assert course.provider == Organisation(name={"und": "O"}, country="FRA")
    assert course.locations == (Location(city="Lyon"),)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[fields.locations]\neach = "x"\n[fields.locations.fields.city]\ncolumn = "c"\n', "no sub-nodes"),
        ('[fields."provider.name"]\ncolumn = "org"\n', "either the group"),
        ('[fields.locations]\n[fields.locations.fields.town]\ncolumn = "c"\n', "unknown sub-field"),
        ("[fields.locations]\nfields = {}\n", "needs sub-fields"),
    ],
)
def test_group_spec_errors(tmp_path: Path, extra: str, message: str) -> None:
    base = CSV_SPEC.split("[fields.locations]")[0]
    with pytest.raises(ConfigurationError, match=message):
        _spec(tmp_path, base + extra)


def test_provider_needs_the_group_form(tmp_path: Path) -> None:
    text = 'format = "csv"\n[id]\ncolumn = "id"\n[fields.provider]\ncolumn = "org"\n'
    with pytest.raises(ConfigurationError, match="is a group"):
        _spec(tmp_path, text)
